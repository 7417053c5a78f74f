/**
 * scheduled-daily-backup: on plans with scheduled functions, POSTs every hour to the background function
 * with CRON_SECRET in the Authorization header. Without CRON_SECRET it does nothing and says so.
 */
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { triggerDailyBackground } from "../../functions/daily-background.ts";
import { triggerVerifyBackground } from "../../functions/verify-backups.ts";
import { createLogger } from "../../lib/logger.ts";
import entry, { config } from "../../netlify/functions/scheduled-daily-backup.ts";
import { config as verifyConfig } from "../../netlify/functions/scheduled-verify-backups.ts";

const SECRET = "scheduled-test-secret-0123456789";

function capture() {
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { log, lines };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("scheduled-daily-backup", () => {
  it("is scheduled hourly, so that each tenant's slot is met within the hour", () => {
    expect(config.schedule).toBe("@hourly");
  });

  it("does nothing without CRON_SECRET and logs a clear line", async () => {
    const { log, lines } = capture();
    const send = vi.fn<typeof fetch>();
    for (const env of [{}, { CRON_SECRET: "" }, { CRON_SECRET: "   " }]) {
      const response = await triggerDailyBackground({
        env: { URL: "https://site.example", ...env },
        fetch: send,
        log,
      });
      const body = await response.json();
      expect(body.started).toBe(false);
      expect(body.message).toContain("CRON_SECRET is not set");
    }
    expect(send).not.toHaveBeenCalled();
    expect(lines.join("")).toContain("CRON_SECRET is not set: the scheduled daily backup did nothing");
  });

  it("the Netlify entry does nothing when the environment has no CRON_SECRET", async () => {
    vi.stubEnv("CRON_SECRET", "");
    vi.stubEnv("LOG_LEVEL", "silent");
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const response = await entry(new Request("http://localhost/.netlify/functions/scheduled-daily-backup"));
    expect((await response.json()).started).toBe(false);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("POSTs to the background function at the site's URL with the secret in the header only", async () => {
    const { log, lines } = capture();
    const send = vi.fn<typeof fetch>(async () => new Response(null, { status: 202 }));
    const response = await triggerDailyBackground({
      env: { CRON_SECRET: SECRET, URL: "https://site.example/" },
      fetch: send,
      log,
    });
    expect(response.status).toBe(202);
    expect((await response.json()).started).toBe(true);
    expect(send).toHaveBeenCalledTimes(1);
    const [target, init = {}] = send.mock.calls[0] ?? [];
    expect(String(target)).toBe("https://site.example/.netlify/functions/daily-tenant-backup-background");
    expect(String(target)).not.toContain(SECRET);
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>).authorization).toBe(`Bearer ${SECRET}`);
    expect(init.body).toBe("{}");
    expect(lines.join("")).toContain("started the daily backup in the background");
    expect(lines.join("")).not.toContain(SECRET);
  });

  it("falls back to the local server's port without Netlify's URL", async () => {
    const send = vi.fn<typeof fetch>(async () => new Response(null, { status: 202 }));
    await triggerDailyBackground({
      env: { CRON_SECRET: SECRET, PORT: "9999" },
      fetch: send,
      log: capture().log,
    });
    expect(String(send.mock.calls[0]?.[0])).toBe(
      "http://localhost:9999/.netlify/functions/daily-tenant-backup-background",
    );
  });

  it("logs an error, without the secret, when the background function refuses or cannot be reached", async () => {
    const { log, lines } = capture();
    const refused = await triggerDailyBackground({
      env: { CRON_SECRET: SECRET, URL: "https://site.example" },
      fetch: async () => new Response('{"success":false}', { status: 401 }),
      log,
    });
    expect(refused.status).toBe(502);
    expect((await refused.json()).message).toContain("HTTP 401");

    const unreachable = await triggerDailyBackground({
      env: { CRON_SECRET: SECRET, URL: "https://site.example" },
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
      log,
    });
    expect(unreachable.status).toBe(502);
    expect(lines.join("")).toContain("could not reach https://site.example/.netlify/functions/");
    expect(lines.join("")).not.toContain(SECRET);
  });
});

describe("scheduled-verify-backups", () => {
  it("runs once a day and POSTs to the drill's background function with the secret in the header only", async () => {
    expect(verifyConfig.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
    const { log, lines } = capture();
    const send = vi.fn<typeof fetch>(async () => new Response(null, { status: 202 }));
    const response = await triggerVerifyBackground({
      env: { CRON_SECRET: SECRET, URL: "https://site.example/" },
      fetch: send,
      log,
    });
    expect(response.status).toBe(202);
    const [target, init = {}] = send.mock.calls[0] ?? [];
    expect(String(target)).toBe("https://site.example/.netlify/functions/verify-backups-background");
    expect((init.headers as Record<string, string>).authorization).toBe(`Bearer ${SECRET}`);
    expect(lines.join("")).toContain("started the verification drill in the background");
    expect(lines.join("")).not.toContain(SECRET);
  });

  it("does nothing without CRON_SECRET", async () => {
    const send = vi.fn<typeof fetch>();
    const response = await triggerVerifyBackground({ env: {}, fetch: send, log: capture().log });
    expect((await response.json()).message).toContain("the scheduled verification drill did nothing");
    expect(send).not.toHaveBeenCalled();
  });
});
