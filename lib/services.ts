/**
 * What the handlers work with: configuration, the database, backup storage, a logger and a clock. Built
 * once per process (a warm Netlify function reuses it), or by tests with their own parts.
 */
import { type Alerts, createAlerts } from "./alerts/alerts.ts";
import type { Config } from "./config.ts";
import { withEncryption } from "./crypto/encrypting-storage.ts";
import { keyRing } from "./crypto/keys.ts";
import { PostgresCaller } from "./db/postgres.ts";
import { withDatabaseRetries } from "./db/retrying.ts";
import { SupabaseCaller } from "./db/supabase.ts";
import { TenantDb } from "./db/tenant-db.ts";
import { localFileStores } from "./files/local.ts";
import type { TenantFileStores } from "./files/port.ts";
import { withFileRetries } from "./files/retrying.ts";
import { supabaseFileStores } from "./files/supabase.ts";
import { createLogger, type Logger } from "./logger.ts";
import { LocalStorage } from "./storage/local.ts";
import type { BackupStorage } from "./storage/port.ts";
import { withRetries } from "./storage/retrying.ts";
import { S3Storage } from "./storage/s3.ts";
import { SupabaseStorage } from "./storage/supabase.ts";
import { createSupabaseClient } from "./supabase-client.ts";
import { type Clock, systemClock } from "./time.ts";

export interface Services {
  config: Config;
  db: TenantDb;
  /** The primary backup storage, encrypting and decrypting when keys are configured. */
  storage: BackupStorage;
  /** The app's buckets of tenant files (TENANT_FILE_BUCKETS): Supabase Storage, or a local folder. */
  files: TenantFileStores;
  /** The off-site copy (S3), the same way; undefined when none is configured. */
  offsite: BackupStorage | undefined;
  log: Logger;
  /** The only source of the current time in the engine; tests set it. */
  now: Clock;
  /** Tells the configured webhooks and mailboxes of failures and restores; never throws. */
  alerts: Alerts;
  close(): Promise<void>;
}

export function createServices(config: Config, overrides: Partial<Omit<Services, "config">> = {}): Services {
  const log = overrides.log ?? createLogger({ level: config.logLevel });
  const supabase = config.supabase ? createSupabaseClient(config.supabase) : undefined;

  // The direct connection wins when both are configured: it is faster and has no request time limit.
  const database = config.databaseUrl
    ? // A tenant's backup holds one connection for its moment and uses one more beside it (two for a moment
      // between tables, when the next export opens as the last one commits; it waits for one if need be):
      // enough for the pool of tenants a daily call backs up at once, and one spare.
      new PostgresCaller(config.databaseUrl, { max: Math.max(4, 2 * config.backup.tenantConcurrency + 1) })
    : supabase
      ? new SupabaseCaller(supabase)
      : undefined;
  const caller =
    database &&
    withDatabaseRetries(database, {
      onRetry: ({ fn, attempt, error }) => log.warn({ fn, attempt, err: error.message }, "database retry"),
    });
  const db = overrides.db ?? (caller ? new TenantDb(caller, tenantLayout(config)) : undefined);
  if (!db) throw new Error("no database configured");

  const retried = (backend: BackupStorage) =>
    withRetries(backend, {
      onRetry: ({ op, path, attempt, error }) =>
        log.warn({ op, path, attempt, err: error.message, storage: backend.kind }, "storage retry"),
    });
  // Encryption wraps whatever storage is used (a test's too), outside the retries: an object is encrypted
  // once, and its ciphertext is what a retry sends again.
  const ring = keyRing(config.encryption.writeKey, config.encryption.readKeys);
  const primary =
    overrides.storage ??
    retried(
      config.storage.kind === "supabase" && supabase
        ? new SupabaseStorage(supabase, config.storage.bucket)
        : new LocalStorage(config.storage.kind === "local" ? config.storage.dir : ".backups"),
    );
  const storage = withEncryption(primary, ring);
  const offsiteBackend =
    overrides.offsite ??
    (config.offsite && retried(new S3Storage({ ...config.offsite, timeoutMs: config.supabase?.timeoutMs })));
  const offsite = offsiteBackend && withEncryption(offsiteBackend, ring);

  // Tenant files sit next to the backups: in Supabase Storage when the backups are, else on disk.
  const files =
    overrides.files ??
    withFileRetries(
      config.storage.kind === "supabase" && supabase
        ? supabaseFileStores(supabase)
        : localFileStores(config.files.localDir),
      { onRetry: ({ op, attempt, error }) => log.warn({ op, attempt, err: error.message }, "file retry") },
    );

  const now = overrides.now ?? systemClock;
  return {
    config,
    db,
    storage,
    files,
    offsite,
    log,
    now,
    alerts: overrides.alerts ?? createAlerts(config.alerts, { db: db.caller, log, now }),
    close: overrides.close ?? (() => db.caller.close()),
  };
}

export function tenantLayout(config: Config) {
  return { rootTable: config.tenant.rootTable, key: config.tenant.key, schema: config.tenant.schema };
}
