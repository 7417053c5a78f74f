/**
 * Configuration from the environment, read once and validated, so that a wrong value stops the function
 * with a message that names the variable rather than failing half way through a backup.
 */
import { z } from "zod";

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

const envSchema = z
  .object({
    CRON_SECRET: optionalText.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    SUPABASE_URL: optionalText.pipe(z.string().url().optional()),
    SUPABASE_SERVICE_ROLE_KEY: optionalText,
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
    /** Largest compressed file per table part; Supabase's free plan refuses objects over 50 MB. */
    BACKUP_MAX_FILE_BYTES: positiveInt(32 * 1024 * 1024),
    /** Rows per page read from the database; PostgREST answers at most 1,000 rows a request anyway. */
    BACKUP_PAGE_ROWS: positiveInt(1000).pipe(z.number().max(100_000)),
    /** A tenant's lease lasts this long without renewal, so a killed function frees the tenant soon. */
    BACKUP_LOCK_TTL_SECONDS: positiveInt(120),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
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
    if (env.BACKUP_STORAGE === "supabase" && !env.SUPABASE_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["SUPABASE_URL"],
        message: "is required when BACKUP_STORAGE=supabase",
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

export interface Config {
  cronSecret: string | undefined;
  supabase: { url: string; serviceRoleKey: string } | undefined;
  databaseUrl: string | undefined;
  storage: { kind: "local"; dir: string } | { kind: "supabase"; bucket: string };
  retentionDays: number;
  port: number;
  tenant: { rootTable: string; key: string; schema: string };
  backup: { timeBudgetMs: number; maxFileBytes: number; pageRows: number; lockTtlSeconds: number };
  logLevel: Env["LOG_LEVEL"];
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

/** Parses the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    throw new ConfigError(variable, issue?.message ?? "is invalid");
  }
  const e = parsed.data;
  const supabase =
    e.SUPABASE_URL && e.SUPABASE_SERVICE_ROLE_KEY
      ? { url: e.SUPABASE_URL, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY }
      : undefined;
  // Files go to Supabase Storage whenever a project is configured, unless told otherwise: a local folder
  // does not survive between Netlify function invocations.
  const storageKind = e.BACKUP_STORAGE ?? (supabase ? "supabase" : "local");
  return {
    cronSecret: e.CRON_SECRET,
    supabase,
    databaseUrl: e.DATABASE_URL,
    storage:
      storageKind === "supabase"
        ? { kind: "supabase", bucket: e.BACKUP_BUCKET }
        : { kind: "local", dir: e.BACKUP_DIR },
    retentionDays: e.RETENTION_DAYS,
    port: e.PORT,
    tenant: { rootTable: e.TENANT_ROOT_TABLE, key: e.TENANT_KEY, schema: e.TENANT_SCHEMA },
    backup: {
      timeBudgetMs: e.BACKUP_TIME_BUDGET_MS,
      maxFileBytes: e.BACKUP_MAX_FILE_BYTES,
      pageRows: e.BACKUP_PAGE_ROWS,
      lockTtlSeconds: e.BACKUP_LOCK_TTL_SECONDS,
    },
    logLevel: e.LOG_LEVEL,
  };
}
