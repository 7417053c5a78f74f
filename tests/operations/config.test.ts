/** The operations settings: defaults, and a wrong value stops start-up with the variable's name. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadLogLevel, loadTriggerConfig } from "../../lib/config.ts";

const base = { DATABASE_URL: "postgres://localhost/app" };

describe("operations configuration", () => {
  it("has the documented defaults", () => {
    const config = loadConfig(base);
    expect(config.retention).toEqual({ days: 30, keepLast: 0, keepWeeklyWeeks: 0, maxBackups: 0 });
    expect(config.rateLimits).toEqual({ manualBackupSeconds: 300, restoreSeconds: 60, dryRunSeconds: 30 });
    expect(config.health).toEqual({ maxAgeHours: 26 });
    expect(config.download).toEqual({ urlTtlSeconds: 300 });
    expect(config.restore).toEqual({ apiApplyLimitMs: 15_000, applyRowsPerSecond: 5000 });
    expect(config.cors.allowedOrigins).toEqual([]);
    expect(config.auth).toEqual({
      jwtSecret: undefined,
      profileTable: "profiles",
      userIdColumn: "id",
      roleColumn: "role",
      organizationColumn: "organization_id",
      adminRoles: ["admin", "owner"],
      superAdminRoles: [],
    });
  });

  it("reads lists and follows TENANT_KEY for the organization column", () => {
    const config = loadConfig({
      ...base,
      TENANT_KEY: "tenant_id",
      ADMIN_ROLES: " manager , ",
      SUPER_ADMIN_ROLES: "super_admin,root",
      RETENTION_KEEP_LAST: "7",
      RETENTION_KEEP_WEEKLY_WEEKS: "8",
      RETENTION_MAX_BACKUPS: "20",
      MANUAL_BACKUP_MIN_INTERVAL_SECONDS: "0",
    });
    expect(config.auth.organizationColumn).toBe("tenant_id");
    expect(config.auth.adminRoles).toEqual(["manager"]);
    expect(config.auth.superAdminRoles).toEqual(["super_admin", "root"]);
    expect(config.retention).toEqual({ days: 30, keepLast: 7, keepWeeklyWeeks: 8, maxBackups: 20 });
    expect(config.rateLimits.manualBackupSeconds).toBe(0);
  });

  it.each([
    ["RETENTION_KEEP_LAST", "-1"],
    ["RETENTION_KEEP_WEEKLY_WEEKS", "two"],
    ["RETENTION_MAX_BACKUPS", "-3"],
    ["MANUAL_BACKUP_MIN_INTERVAL_SECONDS", "1.5"],
    ["RESTORE_MIN_INTERVAL_SECONDS", "-5"],
    ["HEALTH_MAX_AGE_HOURS", "0"],
    ["DOWNLOAD_URL_TTL_SECONDS", "999999"],
    ["ADMIN_PROFILE_TABLE", "profiles; drop table x"],
    ["ADMIN_ROLE_COLUMN", "role-name"],
    ["ADMIN_ORGANIZATION_COLUMN", "org id"],
    ["SUPABASE_JWT_SECRET", "too-short"],
    ["RESTORE_API_APPLY_LIMIT_MS", "0"],
    ["RESTORE_APPLY_ROWS_PER_SECOND", "fast"],
  ])("names %s when its value (%s) is wrong", (variable, value) => {
    const env = {
      ...base,
      SUPABASE_URL: "https://p.supabase.co",
      SUPABASE_SERVICE_ROLE_KEY: "k",
      [variable]: value,
    };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as ConfigError).message).toContain(variable);
    }
  });

  it("needs SUPABASE_URL for SUPABASE_JWT_SECRET (the issuer is checked against it)", () => {
    expect(() => loadConfig({ ...base, SUPABASE_JWT_SECRET: "x".repeat(40) })).toThrow(/SUPABASE_URL/);
  });

  it("bounds SUPABASE_TIMEOUT_MS and passes it to the Supabase settings", () => {
    const supabase = { ...base, SUPABASE_URL: "https://p.supabase.co", SUPABASE_SERVICE_ROLE_KEY: "k" };
    expect(loadConfig(supabase).supabase?.timeoutMs).toBe(30_000);
    expect(loadConfig({ ...supabase, SUPABASE_TIMEOUT_MS: "5000" }).supabase?.timeoutMs).toBe(5000);
    for (const bad of ["0", "-1", "1.5", "soon", "900001"]) {
      expect(() => loadConfig({ ...supabase, SUPABASE_TIMEOUT_MS: bad })).toThrow(/^SUPABASE_TIMEOUT_MS /);
    }
  });

  it("bounds pages through the Supabase API by BACKUP_PAGE_BYTES (4 MiB), under a row cap of 100,000", () => {
    expect(loadConfig(base).backup).toMatchObject({ pageBytes: 4 * 1024 * 1024, pageRows: 100_000 });
    expect(loadConfig({ ...base, BACKUP_PAGE_BYTES: "1048576" }).backup.pageBytes).toBe(1_048_576);
    for (const bad of ["0", "1023", "16777217", "1.5", "4MB"]) {
      expect(() => loadConfig({ ...base, BACKUP_PAGE_BYTES: bad })).toThrow(/^BACKUP_PAGE_BYTES /);
    }
    expect(() => loadConfig({ ...base, BACKUP_PAGE_ROWS: "100001" })).toThrow(/^BACKUP_PAGE_ROWS /);
  });

  it("has a default schedule, daily at 02:00 UTC, that DEFAULT_SCHEDULE_* change", () => {
    expect(loadConfig(base).schedule.default).toEqual({
      frequency: "daily",
      time_of_day: "02:00",
      day_of_week: null,
      enabled: true,
    });
    expect(
      loadConfig({
        ...base,
        DEFAULT_SCHEDULE_FREQUENCY: "weekly",
        DEFAULT_SCHEDULE_TIME: "23:15",
        DEFAULT_SCHEDULE_DAY_OF_WEEK: "0",
      }).schedule.default,
    ).toEqual({ frequency: "weekly", time_of_day: "23:15", day_of_week: 0, enabled: true });
    expect(() => loadConfig({ ...base, DEFAULT_SCHEDULE_FREQUENCY: "hourly" })).toThrow(
      /^DEFAULT_SCHEDULE_FREQUENCY /,
    );
    for (const bad of ["2:00", "24:00", "02:60", "noon"]) {
      expect(() => loadConfig({ ...base, DEFAULT_SCHEDULE_TIME: bad })).toThrow(
        /^DEFAULT_SCHEDULE_TIME must be HH:MM/,
      );
    }
    expect(() => loadConfig({ ...base, DEFAULT_SCHEDULE_FREQUENCY: "weekly" })).toThrow(
      /^DEFAULT_SCHEDULE_DAY_OF_WEEK is required/,
    );
    expect(() => loadConfig({ ...base, DEFAULT_SCHEDULE_DAY_OF_WEEK: "3" })).toThrow(
      /^DEFAULT_SCHEDULE_DAY_OF_WEEK applies only/,
    );
    expect(() =>
      loadConfig({ ...base, DEFAULT_SCHEDULE_FREQUENCY: "weekly", DEFAULT_SCHEDULE_DAY_OF_WEEK: "7" }),
    ).toThrow(/^DEFAULT_SCHEDULE_DAY_OF_WEEK must be a day of the week/);
  });

  it("reads the scheduled trigger's settings alone, with the same rules", () => {
    expect(loadTriggerConfig({})).toEqual({
      cronSecret: undefined,
      siteUrl: "http://localhost:8888",
      logLevel: "info",
    });
    expect(
      loadTriggerConfig({
        CRON_SECRET: ` ${"s".repeat(16)} `,
        URL: "https://site.example",
        LOG_LEVEL: "warn",
      }),
    ).toEqual({ cronSecret: "s".repeat(16), siteUrl: "https://site.example", logLevel: "warn" });
    expect(() => loadTriggerConfig({ CRON_SECRET: "short" })).toThrow(/^CRON_SECRET must be at least 16/);
    expect(() => loadTriggerConfig({ PORT: "http" })).toThrow(/^PORT /);
    expect(() => loadTriggerConfig({ LOG_LEVEL: "loud" })).toThrow(/^LOG_LEVEL /);
    // Where the configuration could not be loaded, logging still works at a valid level.
    expect(loadLogLevel({ LOG_LEVEL: "loud" })).toBe("info");
    expect(loadLogLevel({ LOG_LEVEL: "error" })).toBe("error");
  });

  it("reads the alert channels, none by default, and names the variable that is wrong or missing", () => {
    expect(loadConfig(base).alerts).toEqual({ webhooks: undefined, email: undefined });
    const secret = "webhook-secret-0123456789";
    expect(
      loadConfig({
        ...base,
        ALERT_WEBHOOK_URLS: "https://hooks.slack.com/services/T/B/x, https://ops.example.com/hook,",
        ALERT_WEBHOOK_SECRET: secret,
        SMTP_URL: "smtps://user:pw@smtp.example.com:465",
        ALERT_EMAIL_FROM: "backups@example.com",
        ALERT_EMAIL_TO: "a@example.com, b@example.com",
      }).alerts,
    ).toEqual({
      webhooks: { urls: ["https://hooks.slack.com/services/T/B/x", "https://ops.example.com/hook"], secret },
      email: {
        smtpUrl: "smtps://user:pw@smtp.example.com:465",
        from: "backups@example.com",
        to: ["a@example.com", "b@example.com"],
      },
    });
    const failure = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return { variable: (err as ConfigError).variable, message: (err as Error).message };
      }
      throw new Error("loaded");
    };
    expect(failure({ ALERT_WEBHOOK_URLS: "https://ops.example.com/hook" }).variable).toBe(
      "ALERT_WEBHOOK_SECRET",
    );
    expect(failure({ ALERT_WEBHOOK_URLS: "ftp://x", ALERT_WEBHOOK_SECRET: secret }).variable).toBe(
      "ALERT_WEBHOOK_URLS",
    );
    const short = failure({
      ALERT_WEBHOOK_URLS: "https://x.example.com",
      ALERT_WEBHOOK_SECRET: "shortsecret",
    });
    expect(short.variable).toBe("ALERT_WEBHOOK_SECRET");
    // The message names the variable and the rule, never the value given.
    expect(short.message).not.toContain("shortsecret");
    expect(failure({ SMTP_URL: "http://mail.example.com" }).variable).toBe("SMTP_URL");
    expect(failure({ SMTP_URL: "smtp://127.0.0.1:25", ALERT_EMAIL_TO: "a@example.com" }).variable).toBe(
      "ALERT_EMAIL_FROM",
    );
    expect(failure({ SMTP_URL: "smtp://127.0.0.1:25", ALERT_EMAIL_FROM: "b@example.com" }).variable).toBe(
      "ALERT_EMAIL_TO",
    );
    expect(failure({ ALERT_EMAIL_TO: "not-an-address" }).variable).toBe("ALERT_EMAIL_TO");
    expect(failure({ ALERT_EMAIL_FROM: "b@example.com", ALERT_EMAIL_TO: "a@example.com" }).variable).toBe(
      "SMTP_URL",
    );
  });
});
