/**
 * Real alert receivers on 127.0.0.1: an HTTP server that checks each body's HMAC signature with the
 * secret it was given, and an SMTP server (smtp-server) that keeps every mail it is handed.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface WebhookReceiver {
  url: string;
  /** Bodies whose signature was valid, parsed, in the order received. */
  accepted: Array<Record<string, unknown>>;
  /** Every request, signed correctly or not. */
  requests: number;
  /** The status every request is answered with once its signature is valid (200 by default). */
  answer: number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: "",
    accepted: [],
    requests: 0,
    answer: 200,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      receiver.requests += 1;
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`);
      const given = Buffer.from(String(req.headers["x-tenant-backup-signature"] ?? ""));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401).end("bad signature");
        return;
      }
      if (receiver.answer === 200) receiver.accepted.push(JSON.parse(raw.toString("utf8")));
      res.writeHead(receiver.answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

export interface MailReceiver {
  port: number;
  mails: Array<{ from: string; to: string[]; user: string | undefined; text: string }>;
  close(): Promise<void>;
}

/** Accepts the one user and password given, without TLS (the test talks to itself on 127.0.0.1). */
export async function startMailReceiver(user: string, password: string): Promise<MailReceiver> {
  const mails: MailReceiver["mails"] = [];
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, done) {
      if (auth.username === user && auth.password === password) done(null, { user });
      else done(new Error("bad credentials"));
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          text: Buffer.concat(chunks).toString("utf8"),
        });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Both receivers, and the environment that sends the product's alerts to them. */
export interface AlertReceivers {
  webhook: WebhookReceiver;
  mail: MailReceiver;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts a webhook receiver checking `secret` and a mail receiver for user "alerts" with `password`. */
export async function startAlertReceivers(
  secret: string,
  password: string,
  emailTo = "ops@example.com",
): Promise<AlertReceivers> {
  const webhook = await startWebhookReceiver(secret);
  const mail = await startMailReceiver("alerts", password);
  return {
    webhook,
    mail,
    env: {
      ALERT_WEBHOOK_URLS: webhook.url,
      ALERT_WEBHOOK_SECRET: secret,
      SMTP_URL: `smtp://alerts:${password}@127.0.0.1:${mail.port}`,
      ALERT_EMAIL_FROM: "backups@example.com",
      ALERT_EMAIL_TO: emailTo,
    },
    async close() {
      await webhook.close();
      await mail.close();
    },
  };
}
