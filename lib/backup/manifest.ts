/**
 * The backup's manifest (`summary-<backup_id>.json`): written last, so a backup without one does not
 * exist. It says everything a restore needs to trust the files without the database that wrote them.
 */
import { z } from "zod";

export const FORMAT = "tenant-backup" as const;
/**
 * 1: each table's rows in files of their own backup's folder, zstd (`.jsonl.zst`; gzip `.jsonl.gz` in
 *    backups written before, as their encoding says); `sha256` of the stored bytes.
 * 2: each table's rows in content-addressed chunks shared by the tenant's backups (lib/chunks/), zstd;
 *    `sha256` of a chunk's uncompressed text, checked after decompressing (a chunk is reused by later
 *    backups, and its text is what its name and the manifest vouch for). Small tables may share one chunk,
 *    each entry naming its `slice` of the chunk's lines (written since; readers before slices existed read
 *    the whole chunk, find its row count differs from the entry's, and refuse it: 422, never wrong rows).
 * 3: as 2, each chunk's rows written as COPY's text format writes them (the form the tables stream in, so a
 *    backup stores them as they come), its entries saying so (`text: "copy"`). An entry without it names a
 *    chunk of lines, as format 2 writes them: an undo point names the restored backup's chunks for the
 *    tables its restore left as they were, and a run resumed across the upgrade keeps its first chunks.
 * All are read; new backups are written as 3 unless BACKUP_LAYOUT=files.
 */
export const FORMAT_VERSION = 3;
/** Chunks of lines (JSON arrays of column texts), read, no longer written. */
export const LINES_FORMAT_VERSION = 2;
export const FILES_FORMAT_VERSION = 1;

export const BACKUP_TYPES = ["daily", "manual", "pre_restore"] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/** The backup_logs.backup_type each kind of backup is logged under (the setup guide queries daily_tenant). */
export const LOG_TYPE: Record<BackupType, string> = {
  daily: "daily_tenant",
  manual: "manual_tenant",
  pre_restore: "pre_restore",
};

/**
 * Which lines of a shared chunk are the table's (format 2 only): a small tenant's small tables are stored
 * together as one chunk, the tables' texts one after the other, and each of their entries names that chunk
 * with its own slice of it. Absent: every line of the file or chunk is the table's (every backup written
 * before slices existed, and every large table's chunks).
 */
const sliceSchema = z.object({
  /** The 0-based number, in the chunk, of the table's first line; the entry's `rows` lines from there. */
  first: z.number().int().nonnegative(),
  /** Lines the whole chunk holds (all its tables'), checked like a chunk's own row count. */
  of: z.number().int().positive(),
});

const fileSchema = z
  .object({
    path: z.string(),
    /**
     * How the file's rows are written: "copy", one row of COPY's text format a line (format 3's chunks);
     * absent, one JSON array of column texts a line (formats 1 and 2, and chunks format 3 reuses from them).
     */
    text: z.literal("copy").optional(),
    /** The table's rows in it: with a slice, the slice's rows. */
    rows: z.number().int().nonnegative(),
    /** Compressed size, as stored (of the whole object, even when the table has a slice of it). */
    bytes: z.number().int().nonnegative(),
    /** Of the stored (compressed) bytes; format 2: of the chunk's whole uncompressed text. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /**
     * Where the next file of the table starts when a run resumes: the last row's number in the run's copy of
     * the tenant (older backups: its primary key, as text). Not used by a restore.
     */
    last_key: z.array(z.string()).nullable(),
    slice: sliceSchema.optional(),
  })
  .refine((f) => !f.slice || f.slice.first + f.rows <= f.slice.of, {
    message: "slice reaches past the lines its chunk holds",
    path: ["slice"],
  });

const columnSchema = z.object({
  name: z.string(),
  type: z.string(),
  not_null: z.boolean(),
  identity: z.enum(["always", "by_default"]).nullable(),
});

const tableSchema = z.object({
  name: z.string(),
  /** Position in insert order (parents first). */
  order: z.number().int().nonnegative(),
  anchor: z.enum(["root", "key", "parent"]),
  primary_key: z.array(z.string()).nullable(),
  /** The stored columns, in the order of each row's values. Generated columns are not stored. */
  columns: z.array(columnSchema),
  generated_columns: z.array(z.string()),
  row_count: z.number().int().nonnegative(),
  /** Of the objects holding its rows, as stored: a chunk it shares with other tables counts whole. */
  bytes: z.number().int().nonnegative(),
  files: z.array(fileSchema),
});

/** What the validation rules found before the backup (lib/validation): the summary and the rules broken. */
const validationSchema = z.object({
  rules: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  violations: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  checked_at: z.string(),
  /** Only the rules with offending rows or that could not be checked. */
  results: z.array(
    z.object({
      rule_id: z.string(),
      table: z.string(),
      column: z.string(),
      kind: z.string(),
      violations: z.number().int().nonnegative().nullable(),
      sample_keys: z.array(z.record(z.string(), z.string())),
      message: z.string(),
    }),
  ),
});

/** One of the tenant's uploaded files, as a backup holds it. */
const tenantFileSchema = z.object({
  bucket: z.string(),
  /** Its key in the bucket, inside the tenant's folder. */
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  /** Of its bytes, as uploaded (files are stored as they are, not compressed). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  content_type: z.string(),
  cache_control: z.string().nullable(),
  /** Its copy in the tenant's chunk folder (lib/chunks/paths.ts), shared by every backup holding it. */
  stored_as: z.string(),
  /** What Storage's listing said of its version (lib/files/port.ts), to skip reading it when unchanged. */
  version: z.string().nullable().optional(),
});

/**
 * The tenant's files in the app's Storage buckets (TENANT_FILE_BUCKETS). Absent in backups taken without
 * that setting, and in every backup from before it existed: those restore rows only.
 */
const filesSchema = z.object({
  /** The tenant's folder in each bucket backed up, as configured when the backup was taken. */
  buckets: z.array(z.object({ bucket: z.string(), prefix: z.string() })),
  objects: z.array(tenantFileSchema),
  bytes: z.number().int().nonnegative(),
});

const commonSchema = z.object({
  format: z.literal(FORMAT),
  backup_id: z.string(),
  backup_type: z.enum(BACKUP_TYPES),
  backup_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  organization_id: z.string(),
  organization_name: z.string().nullable(),
  started_at: z.string(),
  completed_at: z.string(),
  tenant: z.object({ root_table: z.string(), key: z.string(), schema: z.string() }),
  schema_fingerprint: z.string(),
  tables: z.array(tableSchema),
  files: filesSchema.optional(),
  total_records: z.number().int().nonnegative(),
  /**
   * Of every file or chunk the backup names, shared chunks and the tenant's files included, each object
   * once (backups written before counted a chunk named twice twice): what a full copy of it takes.
   */
  total_bytes: z.number().int().nonnegative(),
  warnings: z.array(z.string()),
  /** Who started the backup: "cron" or the user from the token. Absent in backups made before it was kept. */
  created_by: z
    .union([z.literal("cron"), z.object({ user_id: z.string(), email: z.string().nullable() })])
    .nullable()
    .optional(),
  /** The note its starter gave, if any. */
  note: z.string().nullable().optional(),
  /** Absent in backups taken without rules, or before rules existed. */
  validation: validationSchema.optional(),
  /**
   * How the backup's objects (this summary included) are encrypted at rest: the algorithm and the id of the
   * key they were written with (a short hash of it, never the key). null or absent: unencrypted. Readers
   * follow each object's own header; this tells people and tools which key a backup needs.
   */
  encryption: z
    .object({ algorithm: z.literal("AES-256-GCM"), key_id: z.string().regex(/^[0-9a-f]{16}$/) })
    .nullable()
    .optional(),
});

/** What a chunked backup (format 2 or 3) says besides. */
const chunkedSchema = commonSchema.extend({
  /** Bytes this backup uploaded: the chunks no earlier backup of the tenant had stored. */
  written_bytes: z.number().int().nonnegative(),
});

export const manifestSchema = z.discriminatedUnion("format_version", [
  commonSchema.extend({
    format_version: z.literal(FILES_FORMAT_VERSION),
    /** How a row is written: one JSON array of column texts per line, zstd- (or, earlier, gzip-) compressed. */
    encoding: z.enum(["jsonl-text-array+zstd", "jsonl-text-array+gzip"]),
  }),
  chunkedSchema.extend({
    format_version: z.literal(LINES_FORMAT_VERSION),
    /** The same lines, cut into content-defined chunks, each zstd-compressed. */
    encoding: z.literal("jsonl-text-array+zstd-chunks"),
  }),
  chunkedSchema.extend({
    format_version: z.literal(FORMAT_VERSION),
    /** Rows as COPY's text format writes them, cut into content-defined chunks, each zstd-compressed. */
    encoding: z.literal("copy-text+zstd-chunks"),
  }),
]);

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestTable = z.infer<typeof tableSchema>;
export type ManifestFile = z.infer<typeof fileSchema>;
export type ManifestSlice = z.infer<typeof sliceSchema>;
export type ManifestValidation = z.infer<typeof validationSchema>;
export type ManifestTenantFile = z.infer<typeof tenantFileSchema>;
export type ManifestFiles = z.infer<typeof filesSchema>;

/**
 * The distinct objects `files` name, first entry of each kept: a chunk shared by several tables (a slice
 * each), or met twice, is one object to store, size, copy or check.
 */
export function distinctObjects<T extends { path: string }>(files: readonly T[]): T[] {
  const seen = new Set<string>();
  return files.filter((f) => {
    if (seen.has(f.path)) return false;
    seen.add(f.path);
    return true;
  });
}

/** The objects a backup's tables are stored in, each once (the "files" a listing or a drill counts). */
export function tableObjects(manifest: Pick<Manifest, "tables">): ManifestFile[] {
  return distinctObjects(manifest.tables.flatMap((t) => t.files));
}
