/**
 * Configuration from the environment, read once and validated, so that a wrong value stops the function
 * with a message that names the variable rather than failing half way through a backup.
 */
import { z } from "zod";
import { decodeKey } from "./crypto/keys.ts";
import { type FileBucket, fileBucketProblem, parseFileBuckets } from "./files/buckets.ts";
import { FREQUENCIES, type Schedule, TIME_OF_DAY_PATTERN } from "./schedule/slots.ts";
import type { S3Settings } from "./storage/s3.ts";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === "" ? undefined : value));
const identifier = (fallback: string) =>
  z
    .string()
    .trim()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain SQL identifier")
    .default(fallback);
/** 0 switches the feature off; negative numbers are a typo, not a wish. */
const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
/** A comma-separated list; blanks between commas are ignored, so "a, b," is ["a", "b"]. */
const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text) =>
      text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== ""),
    );
/**
 * Browser origins allowed to call the API (CORS). Each must be exactly an origin (scheme, host, port):
 * the Origin header is compared as a string, and a wildcard would hand every site the admin's token use.
 */
const originList = commaList("").pipe(
  z.array(
    z.string().refine((origin) => {
      try {
        return origin !== "*" && new URL(origin).origin === origin;
      } catch {
        return false;
      }
    }, "must list origins like https://app.example.com (scheme://host[:port], no path, no '*'), comma-separated"),
  ),
);

/** 32 random bytes in base64; the message never repeats the value, which is a secret. */
const KEY_MESSAGE = "must be 32 random bytes in base64, as `openssl rand -base64 32` prints";
const encryptionKey = z.string().refine((text) => decodeKey(text) !== undefined, KEY_MESSAGE);
/** "true"/"false" (or 1/0, yes/no), for switches; anything else is a typo to report, not false. */
const flag = (fallback: boolean) =>
  optionalText.pipe(
    z
      .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
      .optional()
      .transform((value) => (value === undefined ? fallback : ["true", "1", "yes"].includes(value))),
  );

const keysSchema = z.object({
  BACKUP_ENCRYPTION_KEY: optionalText.pipe(encryptionKey.optional()),
  BACKUP_DECRYPTION_KEYS: commaList("").pipe(z.array(encryptionKey)),
});

const cronSecret = optionalText.pipe(z.string().min(16, "must be at least 16 characters").optional());
const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info");
export type LogLevel = z.infer<typeof logLevel>;

const envSchema = z
  .object({
    CRON_SECRET: cronSecret,
    SUPABASE_URL: optionalText.pipe(z.string().url().optional()),
    SUPABASE_SERVICE_ROLE_KEY: optionalText,
    /** The project's anon (publishable) key: public by design, handed to the admin page for sign-in. */
    SUPABASE_ANON_KEY: optionalText,
    /** One Supabase request (rpc, storage) is aborted after this long, so a hung one cannot use up a call. */
    SUPABASE_TIMEOUT_MS: positiveInt(30_000).pipe(z.number().max(900_000)),
    DATABASE_URL: optionalText,
    BACKUP_DIR: z.string().trim().default(".backups"),
    BACKUP_BUCKET: z
      .string()
      .trim()
      .regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, "must be a valid bucket name")
      .default("backups"),
    BACKUP_STORAGE: z.enum(["local", "supabase"]).optional(),
    RETENTION_DAYS: positiveInt(30),
    PORT: positiveInt(8888),
    TENANT_ROOT_TABLE: identifier("organizations"),
    TENANT_KEY: identifier("organization_id"),
    TENANT_SCHEMA: identifier("public"),
    /** Work stops starting new pages after this long; Netlify cuts synchronous functions at 60 s. */
    BACKUP_TIME_BUDGET_MS: positiveInt(40_000),
    /**
     * Tenants one daily call backs up side by side (each under its own lease). Small tenants spend most of
     * their time waiting on round trips, so a few at a time fill the wait; 4 measured best here.
     */
    BACKUP_TENANT_CONCURRENCY: positiveInt(4).pipe(z.number().max(32)),
    /** Largest compressed file per table part; Supabase's free plan refuses objects over 50 MB. */
    BACKUP_MAX_FILE_BYTES: positiveInt(32 * 1024 * 1024),
    /**
     * gzip level (1 fastest … 9 smallest) of format 1 files of a run begun when they were gzip; new files are
     * zstd. Below zlib's 6 because a function's time is short.
     */
    BACKUP_GZIP_LEVEL: z.coerce.number().int().min(1).max(9).default(4),
    /**
     * chunks (default): table data as content-addressed chunks shared between a tenant's backups (format 3);
     * files: each backup writes whole per-table gzip files of its own (format 1), as before.
     */
    BACKUP_LAYOUT: z.enum(["chunks", "files"]).default("chunks"),
    /** The mean chunk size aimed at, in bytes of row text before compression (a quarter to 4× it). */
    BACKUP_CHUNK_TARGET_BYTES: positiveInt(256 * 1024).pipe(
      z
        .number()
        .min(4096, "must be at least 4096")
        .max(8 * 1024 * 1024, "must be at most 8388608"),
    ),
    /** The key chunks are named with (base64, at least 32 bytes); unset: a random one kept in storage. */
    BACKUP_CHUNK_KEY: optionalText.pipe(
      z
        .string()
        .refine(
          (text) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && Buffer.from(text, "base64").length >= 32,
          "must be base64 of at least 32 random bytes (openssl rand -base64 32)",
        )
        .transform((text) => Buffer.from(text, "base64"))
        .optional(),
    ),
    /**
     * The Storage buckets holding tenants' uploaded files, as bucket:template pairs (lib/files/buckets.ts);
     * empty: backups hold rows only.
     */
    TENANT_FILE_BUCKETS: commaList("")
      .superRefine((entries, ctx) => {
        for (const entry of entries) {
          const problem = fileBucketProblem(entry);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }
        const names = entries.map((entry) => entry.split(":")[0]);
        if (new Set(names).size !== names.length) {
          ctx.addIssue({ code: "custom", message: "must not name a bucket twice" });
        }
      })
      .transform(parseFileBuckets),
    /** Local runs: the folder standing in for the app's Storage (one subfolder per bucket). */
    TENANT_FILES_DIR: z.string().trim().default(".tenant-files"),
    /**
     * At most this many rows per page of rows sent or read through the Supabase API (backup pages read,
     * restore pages staged): a cap that normal rows never reach, so that pages end by BACKUP_PAGE_BYTES.
     */
    BACKUP_PAGE_ROWS: positiveInt(100_000).pipe(z.number().max(100_000)),
    /**
     * Bytes of row text per page of rows sent or read through the Supabase API (a page ends with the row
     * that reaches it). A few MB: far fewer requests than pages of 1,000 rows, each well inside the 55 s
     * statement timeout of our page functions. Function-to-Supabase calls only, so Netlify's 6 MB
     * response limit does not apply to them.
     */
    BACKUP_PAGE_BYTES: positiveInt(4 * 1024 * 1024).pipe(
      z
        .number()
        .min(1024, "must be at least 1024")
        .max(16 * 1024 * 1024, "must be at most 16777216"),
    ),
    /** A tenant's lease lasts this long without renewal, so a killed function frees the tenant soon. */
    BACKUP_LOCK_TTL_SECONDS: positiveInt(120),
    /**
     * How long a restore's one-transaction apply may take through the Supabase API. It runs under its own
     * statement_timeout (55 s) rather than the service role's 8 s, but also inside a 60 s function call
     * that may have spent its 40 s time budget first: 15 s is what is sure to be left. Larger restores go
     * through a direct connection (`npm run restore`).
     */
    RESTORE_API_APPLY_LIMIT_MS: positiveInt(15_000),
    /** The apply speed a restore assumes to decide whether it fits one call: rows of the backup a second. */
    RESTORE_APPLY_ROWS_PER_SECOND: positiveInt(5_000),
    LOG_LEVEL: logLevel,
    /** Legacy shared JWT secret of the Supabase project (HS256); new projects sign with keys from JWKS. */
    SUPABASE_JWT_SECRET: optionalText.pipe(z.string().min(32, "must be at least 32 characters").optional()),
    ALLOWED_ORIGINS: originList,
    /** Where the app keeps each user's role and organization (one row per user, keyed by the JWT's sub). */
    ADMIN_PROFILE_TABLE: identifier("profiles"),
    ADMIN_USER_ID_COLUMN: identifier("id"),
    ADMIN_ROLE_COLUMN: identifier("role"),
    /** Defaults to TENANT_KEY. */
    ADMIN_ORGANIZATION_COLUMN: optionalText.pipe(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain SQL identifier")
        .optional(),
    ),
    ADMIN_ROLES: commaList("admin,owner"),
    SUPER_ADMIN_ROLES: commaList(""),
    RETENTION_KEEP_LAST: nonNegativeInt(0),
    RETENTION_KEEP_WEEKLY_WEEKS: nonNegativeInt(0),
    /** At most this many backups per tenant (0: no cap); the newest and those under a day old stay. */
    RETENTION_MAX_BACKUPS: nonNegativeInt(0),
    MANUAL_BACKUP_MIN_INTERVAL_SECONDS: nonNegativeInt(300),
    RESTORE_MIN_INTERVAL_SECONDS: nonNegativeInt(60),
    DRY_RUN_MIN_INTERVAL_SECONDS: nonNegativeInt(30),
    HEALTH_MAX_AGE_HOURS: z.coerce.number().positive().default(26),
    /** What backups may use of Storage: 1 GiB, the Supabase Free plan's (shared with the app's files). */
    STORAGE_QUOTA_BYTES: positiveInt(1024 ** 3),
    /** The share of STORAGE_QUOTA_BYTES past which storage.quota is alerted and the page warns. */
    STORAGE_WARN_RATIO: z.coerce.number().gt(0, "must be above 0").max(1, "must be at most 1").default(0.8),
    /**
     * A backup whose size differs from the median of the tenant's recent ones by more than this share
     * (0.5: half) raises backup.size_changed; 0 switches the check off.
     */
    ALERT_SIZE_CHANGE_RATIO: z.coerce.number().nonnegative().default(0.5),
    /** A scheduled backup not complete this many hours after its slot started raises run.incomplete. */
    ALERT_RUN_DEADLINE_HOURS: z.coerce.number().positive().default(3),
    /** Tenants drilled per verify-backups call; 0 (default): enough for every tenant once in six calls. */
    VERIFY_TENANTS_PER_CALL: nonNegativeInt(0),
    /** The schedule of tenants that have none of their own (backup-schedule sets one). */
    DEFAULT_SCHEDULE_FREQUENCY: z.enum(FREQUENCIES).default("daily"),
    DEFAULT_SCHEDULE_TIME: z
      .string()
      .trim()
      .regex(TIME_OF_DAY_PATTERN, "must be HH:MM (UTC, 00:00 to 23:59)")
      .default("02:00"),
    /** Only for DEFAULT_SCHEDULE_FREQUENCY=weekly: 0 Sunday … 6 Saturday. */
    DEFAULT_SCHEDULE_DAY_OF_WEEK: optionalText.pipe(
      z
        .string()
        .regex(/^[0-6]$/, "must be a day of the week, 0 Sunday … 6 Saturday")
        .transform(Number)
        .optional(),
    ),
    /** A tenant whose rows break validation rules is not backed up (a manual backup may override). */
    VALIDATION_BLOCKS_BACKUP: flag(false),
    /** Signed download links live this long; short, because whoever holds the link reads the backup. */
    DOWNLOAD_URL_TTL_SECONDS: positiveInt(300).pipe(z.number().max(86_400)),
    /** Where alerts are posted (JSON; Slack-compatible text for hooks.slack.com), comma-separated. */
    ALERT_WEBHOOK_URLS: commaList("").pipe(
      z.array(
        z
          .string()
          .url("must be http(s) URLs, comma-separated")
          .regex(/^https?:/i, "must be http(s) URLs"),
      ),
    ),
    /** Signs each webhook body (X-Tenant-Backup-Signature), so that the receiver can trust it. */
    ALERT_WEBHOOK_SECRET: optionalText.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    /** The mail server alerts are sent through, e.g. smtps://user:password@smtp.example.com:465. */
    SMTP_URL: optionalText.pipe(
      z
        .string()
        .regex(/^smtps?:\/\/[^/\s]+/i, "must be an smtp:// or smtps:// URL")
        .optional(),
    ),
    /**
     * Named groups of tenant tables for CSV export and import, e.g. "crm:contacts,deals;billing:invoices";
     * every tenant table in no group is a module of its own, named after it. Checked against the catalog
     * when used (lib/modules/modules.ts).
     */
    MODULES: z
      .string()
      .trim()
      .default("")
      .pipe(
        z
          .string()
          .regex(
            /^$|^[A-Za-z_][A-Za-z0-9_-]{0,62}:[A-Za-z_][A-Za-z0-9_]{0,62}(,[A-Za-z_][A-Za-z0-9_]{0,62})*(;[A-Za-z_][A-Za-z0-9_-]{0,62}:[A-Za-z_][A-Za-z0-9_]{0,62}(,[A-Za-z_][A-Za-z0-9_]{0,62})*)*;?$/,
            "must be name:table,table;name:table (module names and table names are identifiers)",
          ),
      ),
    /** The largest CSV body import-module accepts; Netlify buffers at most 6 MB of a request body. */
    IMPORT_MAX_BYTES: positiveInt(5_000_000).pipe(
      z.number().max(6_000_000, "must be at most 6000000 (Netlify's body limit)"),
    ),
    /** The largest CSV an import reads from a signed upload to storage (50 MB: the free plan's object limit). */
    IMPORT_UPLOAD_MAX_BYTES: positiveInt(50_000_000),
    ALERT_EMAIL_FROM: optionalText.pipe(z.string().email("must be an e-mail address").optional()),
    ALERT_EMAIL_TO: commaList("").pipe(
      z.array(z.string().email("must be e-mail addresses, comma-separated")),
    ),
    /**
     * BACKUP_ENCRYPTION_KEY encrypts every object written (AES-256-GCM; unset: written unencrypted);
     * BACKUP_DECRYPTION_KEYS are older keys, kept to read what they encrypted after it changed.
     */
    ...keysSchema.shape,
    /** The off-site copy: an S3-compatible bucket (AWS S3, Cloudflare R2, Backblaze B2, Supabase S3). */
    OFFSITE_S3_ENDPOINT: optionalText.pipe(
      z
        .string()
        .url("must be the S3 endpoint URL, e.g. https://<account>.r2.cloudflarestorage.com")
        .regex(/^https?:/i, "must be an http(s) URL")
        .optional(),
    ),
    OFFSITE_S3_REGION: optionalText.pipe(
      z
        .string()
        .regex(/^[a-z0-9-]{1,40}$/, "must be a region name such as us-east-1 or auto")
        .default("us-east-1"),
    ),
    OFFSITE_S3_BUCKET: optionalText.pipe(
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid S3 bucket name")
        .optional(),
    ),
    /** Keys inside the bucket start with this ('' or folders ending in '/'), so a bucket can be shared. */
    OFFSITE_S3_PREFIX: optionalText.pipe(
      z
        .string()
        .regex(
          /^([A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+\/?$/,
          "must be folder names separated by '/', such as tenant-backup/",
        )
        .refine((prefix) => !prefix.split("/").some((part) => part === "." || part === ".."), {
          message: "must not hold '.' or '..' folders",
        })
        .transform((prefix) => (prefix.endsWith("/") ? prefix : `${prefix}/`))
        .optional(),
    ),
    OFFSITE_S3_ACCESS_KEY_ID: optionalText,
    OFFSITE_S3_SECRET_ACCESS_KEY: optionalText,
    /** Path-style URLs (endpoint/bucket/key) for servers without bucket subdomains (Supabase S3, MinIO). */
    OFFSITE_S3_FORCE_PATH_STYLE: flag(false),
    /** Off-site copies are kept this many days (the weekly tier). */
    OFFSITE_RETENTION_DAYS: positiveInt(90),
  })
  .superRefine((env, ctx) => {
    const offsiteSet = [
      env.OFFSITE_S3_ENDPOINT,
      env.OFFSITE_S3_PREFIX,
      env.OFFSITE_S3_ACCESS_KEY_ID,
      env.OFFSITE_S3_SECRET_ACCESS_KEY,
    ].some((value) => value !== undefined);
    if (offsiteSet && !env.OFFSITE_S3_BUCKET) {
      ctx.addIssue({
        code: "custom",
        path: ["OFFSITE_S3_BUCKET"],
        message: "is required when other OFFSITE_S3_ variables are set",
      });
    }
    if (env.OFFSITE_S3_BUCKET) {
      for (const name of ["OFFSITE_S3_ACCESS_KEY_ID", "OFFSITE_S3_SECRET_ACCESS_KEY"] as const) {
        if (!env[name]) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: "is required when OFFSITE_S3_BUCKET is set",
          });
        }
      }
    }
    if (env.SUPABASE_URL && !env.SUPABASE_SERVICE_ROLE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["SUPABASE_SERVICE_ROLE_KEY"],
        message: "is required when SUPABASE_URL is set",
      });
    }
    if (!env.DATABASE_URL && !env.SUPABASE_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["DATABASE_URL"],
        message: "set DATABASE_URL, or SUPABASE_URL with SUPABASE_SERVICE_ROLE_KEY",
      });
    }
    if (env.SUPABASE_ANON_KEY && isSecretKey(env.SUPABASE_ANON_KEY, env.SUPABASE_SERVICE_ROLE_KEY)) {
      // The page hands this key to every visitor: a secret key here would give the world the database.
      ctx.addIssue({
        code: "custom",
        path: ["SUPABASE_ANON_KEY"],
        message: "must be the project's anon (publishable) key, never the service role (secret) key",
      });
    }
    if (env.SUPABASE_JWT_SECRET && !env.SUPABASE_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["SUPABASE_URL"],
        message: "is required when SUPABASE_JWT_SECRET is set (tokens' issuer is checked against it)",
      });
    }
    if (env.DEFAULT_SCHEDULE_FREQUENCY === "weekly" && env.DEFAULT_SCHEDULE_DAY_OF_WEEK === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["DEFAULT_SCHEDULE_DAY_OF_WEEK"],
        message: "is required (0 Sunday … 6 Saturday) when DEFAULT_SCHEDULE_FREQUENCY=weekly",
      });
    }
    if (env.DEFAULT_SCHEDULE_FREQUENCY !== "weekly" && env.DEFAULT_SCHEDULE_DAY_OF_WEEK !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["DEFAULT_SCHEDULE_DAY_OF_WEEK"],
        message: "applies only when DEFAULT_SCHEDULE_FREQUENCY=weekly",
      });
    }
    if (env.ALERT_WEBHOOK_URLS.length > 0 && !env.ALERT_WEBHOOK_SECRET) {
      // Unsigned alerts could be forged by anyone who learns the receiver's address.
      ctx.addIssue({
        code: "custom",
        path: ["ALERT_WEBHOOK_SECRET"],
        message: "is required when ALERT_WEBHOOK_URLS is set",
      });
    }
    if (env.SMTP_URL && (!env.ALERT_EMAIL_FROM || env.ALERT_EMAIL_TO.length === 0)) {
      ctx.addIssue({
        code: "custom",
        path: [env.ALERT_EMAIL_FROM ? "ALERT_EMAIL_TO" : "ALERT_EMAIL_FROM"],
        message: "is required when SMTP_URL is set",
      });
    }
    if (!env.SMTP_URL && (env.ALERT_EMAIL_FROM || env.ALERT_EMAIL_TO.length > 0)) {
      ctx.addIssue({ code: "custom", path: ["SMTP_URL"], message: "is required to send alerts by e-mail" });
    }
    if (env.BACKUP_STORAGE === "supabase" && !env.SUPABASE_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["SUPABASE_URL"],
        message: "is required when BACKUP_STORAGE=supabase",
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/**
 * True for a key that must stay on the server: the configured service role key, a new-style secret key
 * (`sb_secret_…`), or a legacy JWT key whose role claim is service_role.
 */
function isSecretKey(key: string, serviceRoleKey: string | undefined): boolean {
  if (key === serviceRoleKey || key.startsWith("sb_secret_")) return true;
  const payload = key.split(".")[1];
  if (!payload) return false;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { role?: unknown };
    return claims.role === "service_role";
  } catch {
    return false;
  }
}

export interface Config {
  cronSecret: string | undefined;
  /** What the admin page may know to sign users in with Supabase Auth (page-config): public values only. */
  page: { supabaseUrl: string | undefined; supabaseAnonKey: string | undefined };
  supabase: { url: string; serviceRoleKey: string; timeoutMs: number } | undefined;
  databaseUrl: string | undefined;
  storage: { kind: "local"; dir: string } | { kind: "supabase"; bucket: string };
  port: number;
  tenant: { rootTable: string; key: string; schema: string };
  backup: {
    timeBudgetMs: number;
    tenantConcurrency: number;
    maxFileBytes: number;
    pageRows: number;
    pageBytes: number;
    lockTtlSeconds: number;
    gzipLevel: number;
    layout: "chunks" | "files";
    chunkTargetBytes: number;
    /** Holds a secret: never log it. */
    chunkKey: Buffer | undefined;
  };
  restore: { apiApplyLimitMs: number; applyRowsPerSecond: number };
  /** Tenants' uploaded files: which buckets, and (local runs) the folder standing in for Storage. */
  files: { buckets: FileBucket[]; localDir: string };
  logLevel: Env["LOG_LEVEL"];
  /** Who may call besides the cron secret: signed-in app users, by their role in the app's database. */
  auth: {
    jwtSecret: string | undefined;
    profileTable: string;
    userIdColumn: string;
    roleColumn: string;
    organizationColumn: string;
    adminRoles: string[];
    superAdminRoles: string[];
  };
  cors: { allowedOrigins: string[] };
  retention: { days: number; keepLast: number; keepWeeklyWeeks: number; maxBackups: number };
  /** Seconds between two expensive calls of one tenant; 0 means no limit. */
  rateLimits: { manualBackupSeconds: number; restoreSeconds: number; dryRunSeconds: number };
  health: { maxAgeHours: number };
  /** Storage used by backups against its quota (backup-usage, storage.quota). */
  usage: { quotaBytes: number; warnRatio: number };
  /** Verification drills (verify-backups); tenantsPerCall 0: automatic. */
  verify: { tenantsPerCall: number };
  /** What a tenant without a schedule of its own follows. */
  schedule: { default: Schedule };
  download: { urlTtlSeconds: number };
  /** CSV modules: named groups of tenant tables (the rest are modules of one table) and the import's size limit. */
  modules: { groups: { name: string; tables: string[] }[]; importMaxBytes: number; uploadMaxBytes: number };
  /** blocksBackup: rows that break an enabled rule stop a backup (VALIDATION_BLOCKS_BACKUP). */
  validation: { blocksBackup: boolean };
  /** The keys, as bytes. Secrets: never log them. */
  encryption: { writeKey: Buffer | undefined; readKeys: Buffer[] };
  /** The S3-compatible copy target, or undefined when there is none. Holds a secret: never log it. */
  offsite: (Omit<S3Settings, "timeoutMs"> & { retentionDays: number }) | undefined;
  /** Where alerts go; no webhook and no smtp means no alerts. Holds secrets: never log it. */
  alerts: {
    webhooks: { urls: string[]; secret: string } | undefined;
    email: { smtpUrl: string; from: string; to: string[] } | undefined;
  };
  /**
   * What the watch on the backups alerts: backup.size_changed past this share of the recent median (0:
   * never); run.incomplete this many hours after a slot started.
   */
  watch: { sizeChangeRatio: number; runDeadlineHours: number };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable} ${message}`);
    this.name = "ConfigError";
  }
}

type Environment = Record<string, string | undefined>;

function parse<T>(schema: z.ZodType<T>, env: Environment): T {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ConfigError(String(issue?.path[0] ?? "environment"), issue?.message ?? "is invalid");
}

/**
 * LOG_LEVEL alone, for logging where the whole configuration could not be loaded (to say why): "info"
 * when it is unset or not a level.
 */
export function loadLogLevel(env: Environment = process.env): LogLevel {
  const parsed = logLevel.safeParse(env.LOG_LEVEL);
  return parsed.success ? parsed.data : "info";
}

const triggerSchema = z.object({
  CRON_SECRET: cronSecret,
  /** Netlify sets the site's address; locally the server listens on PORT. */
  URL: optionalText,
  PORT: positiveInt(8888),
  LOG_LEVEL: logLevel,
});

export interface TriggerConfig {
  cronSecret: string | undefined;
  /** Where the background function is reached (not checked as a URL here: the trigger says what is wrong). */
  siteUrl: string;
  logLevel: LogLevel;
}

/**
 * What the scheduled trigger needs, and only that: it runs without a database, so the rest of the
 * configuration is not required of it. Throws ConfigError naming the first bad variable.
 */
export function loadTriggerConfig(env: Environment = process.env): TriggerConfig {
  const e = parse(triggerSchema, env);
  return { cronSecret: e.CRON_SECRET, siteUrl: e.URL ?? `http://localhost:${e.PORT}`, logLevel: e.LOG_LEVEL };
}

/**
 * The encryption keys alone, for tools that only read backups (`npm run decrypt`). Throws ConfigError
 * naming the bad variable, never its value.
 */
export function loadKeys(env: Environment = process.env): Config["encryption"] {
  const e = parse(keysSchema, env);
  return keysOf(e.BACKUP_ENCRYPTION_KEY, e.BACKUP_DECRYPTION_KEYS);
}

function keysOf(write: string | undefined, older: string[]): Config["encryption"] {
  return {
    writeKey: write === undefined ? undefined : decodeKey(write),
    readKeys: older.map((text) => decodeKey(text) as Buffer),
  };
}

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Environment = process.env): Config {
  const e = parse(envSchema, env);
  const supabase =
    e.SUPABASE_URL && e.SUPABASE_SERVICE_ROLE_KEY
      ? { url: e.SUPABASE_URL, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: e.SUPABASE_TIMEOUT_MS }
      : undefined;
  // Files go to Supabase Storage whenever a project is configured, unless told otherwise: a local folder
  // does not survive between Netlify function invocations.
  const storageKind = e.BACKUP_STORAGE ?? (supabase ? "supabase" : "local");
  return {
    cronSecret: e.CRON_SECRET,
    supabase,
    page: { supabaseUrl: e.SUPABASE_URL, supabaseAnonKey: e.SUPABASE_ANON_KEY },
    databaseUrl: e.DATABASE_URL,
    storage:
      storageKind === "supabase"
        ? { kind: "supabase", bucket: e.BACKUP_BUCKET }
        : { kind: "local", dir: e.BACKUP_DIR },
    port: e.PORT,
    tenant: { rootTable: e.TENANT_ROOT_TABLE, key: e.TENANT_KEY, schema: e.TENANT_SCHEMA },
    backup: {
      timeBudgetMs: e.BACKUP_TIME_BUDGET_MS,
      tenantConcurrency: e.BACKUP_TENANT_CONCURRENCY,
      maxFileBytes: e.BACKUP_MAX_FILE_BYTES,
      pageRows: e.BACKUP_PAGE_ROWS,
      pageBytes: e.BACKUP_PAGE_BYTES,
      lockTtlSeconds: e.BACKUP_LOCK_TTL_SECONDS,
      gzipLevel: e.BACKUP_GZIP_LEVEL,
      layout: e.BACKUP_LAYOUT,
      chunkTargetBytes: e.BACKUP_CHUNK_TARGET_BYTES,
      chunkKey: e.BACKUP_CHUNK_KEY,
    },
    restore: {
      apiApplyLimitMs: e.RESTORE_API_APPLY_LIMIT_MS,
      applyRowsPerSecond: e.RESTORE_APPLY_ROWS_PER_SECOND,
    },
    files: { buckets: e.TENANT_FILE_BUCKETS, localDir: e.TENANT_FILES_DIR },
    logLevel: e.LOG_LEVEL,
    auth: {
      jwtSecret: e.SUPABASE_JWT_SECRET,
      profileTable: e.ADMIN_PROFILE_TABLE,
      userIdColumn: e.ADMIN_USER_ID_COLUMN,
      roleColumn: e.ADMIN_ROLE_COLUMN,
      organizationColumn: e.ADMIN_ORGANIZATION_COLUMN ?? e.TENANT_KEY,
      adminRoles: e.ADMIN_ROLES,
      superAdminRoles: e.SUPER_ADMIN_ROLES,
    },
    cors: { allowedOrigins: e.ALLOWED_ORIGINS },
    retention: {
      days: e.RETENTION_DAYS,
      keepLast: e.RETENTION_KEEP_LAST,
      keepWeeklyWeeks: e.RETENTION_KEEP_WEEKLY_WEEKS,
      maxBackups: e.RETENTION_MAX_BACKUPS,
    },
    rateLimits: {
      manualBackupSeconds: e.MANUAL_BACKUP_MIN_INTERVAL_SECONDS,
      restoreSeconds: e.RESTORE_MIN_INTERVAL_SECONDS,
      dryRunSeconds: e.DRY_RUN_MIN_INTERVAL_SECONDS,
    },
    health: { maxAgeHours: e.HEALTH_MAX_AGE_HOURS },
    usage: { quotaBytes: e.STORAGE_QUOTA_BYTES, warnRatio: e.STORAGE_WARN_RATIO },
    verify: { tenantsPerCall: e.VERIFY_TENANTS_PER_CALL },
    schedule: {
      default: {
        frequency: e.DEFAULT_SCHEDULE_FREQUENCY,
        time_of_day: e.DEFAULT_SCHEDULE_TIME,
        day_of_week: e.DEFAULT_SCHEDULE_DAY_OF_WEEK ?? null,
        enabled: true,
      },
    },
    download: { urlTtlSeconds: e.DOWNLOAD_URL_TTL_SECONDS },
    modules: {
      groups: moduleGroups(e.MODULES),
      importMaxBytes: e.IMPORT_MAX_BYTES,
      uploadMaxBytes: e.IMPORT_UPLOAD_MAX_BYTES,
    },
    validation: { blocksBackup: e.VALIDATION_BLOCKS_BACKUP },
    encryption: keysOf(e.BACKUP_ENCRYPTION_KEY, e.BACKUP_DECRYPTION_KEYS),
    offsite:
      e.OFFSITE_S3_BUCKET && e.OFFSITE_S3_ACCESS_KEY_ID && e.OFFSITE_S3_SECRET_ACCESS_KEY
        ? {
            endpoint: e.OFFSITE_S3_ENDPOINT,
            region: e.OFFSITE_S3_REGION,
            bucket: e.OFFSITE_S3_BUCKET,
            prefix: e.OFFSITE_S3_PREFIX ?? "",
            accessKeyId: e.OFFSITE_S3_ACCESS_KEY_ID,
            secretAccessKey: e.OFFSITE_S3_SECRET_ACCESS_KEY,
            forcePathStyle: e.OFFSITE_S3_FORCE_PATH_STYLE,
            retentionDays: e.OFFSITE_RETENTION_DAYS,
          }
        : undefined,
    alerts: {
      webhooks:
        e.ALERT_WEBHOOK_URLS.length > 0 && e.ALERT_WEBHOOK_SECRET
          ? { urls: e.ALERT_WEBHOOK_URLS, secret: e.ALERT_WEBHOOK_SECRET }
          : undefined,
      email:
        e.SMTP_URL && e.ALERT_EMAIL_FROM
          ? { smtpUrl: e.SMTP_URL, from: e.ALERT_EMAIL_FROM, to: e.ALERT_EMAIL_TO }
          : undefined,
    },
    watch: { sizeChangeRatio: e.ALERT_SIZE_CHANGE_RATIO, runDeadlineHours: e.ALERT_RUN_DEADLINE_HOURS },
  };
}

/** MODULES as groups: "crm:contacts,deals;billing:invoices" → [{ name: "crm", tables: [...] }, …]. */
function moduleGroups(text: string): { name: string; tables: string[] }[] {
  return text
    .split(";")
    .filter((group) => group !== "")
    .map((group) => {
      const [name = "", tables = ""] = group.split(":");
      return { name, tables: tables.split(",") };
    });
}
