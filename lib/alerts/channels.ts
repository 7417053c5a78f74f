/**
 * The two ways an alert leaves: a webhook (JSON signed with HMAC-SHA256; Slack's `{ text }` for a Slack
 * incoming webhook) and e-mail over SMTP. Each send throws on failure; retries are the caller's.
 */
import { createHmac } from "node:crypto";
import nodemailer from "nodemailer";
import type { AlertBody } from "./events.ts";

export const SIGNATURE_HEADER = "X-Tenant-Backup-Signature";

/** One request may take this long; the whole delivery is bounded by the caller as well. */
const REQUEST_TIMEOUT_MS = 5_000;

export interface Channel {
  /** What the delivery log records: never a URL, which for Slack is itself the credential. */
  name: string;
  send(body: AlertBody): Promise<void>;
}

export function signature(rawBody: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}

function isSlack(url: URL): boolean {
  return url.hostname === "hooks.slack.com";
}

export function webhookChannel(url: string, secret: string): Channel {
  const target = new URL(url);
  return {
    name: `webhook ${target.host}`,
    async send(body) {
      const raw = JSON.stringify(isSlack(target) ? { text: `[${body.event}] ${body.message}` } : body);
      const response = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature(raw, secret) },
        body: raw,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`webhook ${target.host} answered ${response.status}`);
    },
  };
}

export function emailChannel(options: { smtpUrl: string; from: string; to: string[] }): Channel {
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    greetingTimeout: REQUEST_TIMEOUT_MS,
    socketTimeout: REQUEST_TIMEOUT_MS,
  });
  return {
    name: "email",
    async send(body) {
      await transport.sendMail({
        from: options.from,
        to: options.to,
        subject: `[tenant-backup] ${body.event}: ${body.organization_name ?? body.organization_id}`,
        text: `${body.message}\n\n${JSON.stringify(body, null, 2)}\n`,
      });
    },
  };
}
