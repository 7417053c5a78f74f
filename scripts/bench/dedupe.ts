/**
 * The chunked layout's figures for `npm run bench`: 30 daily backups of one tenant that changes 1 % of its
 * rows a day, stored beside one full backup, in two patterns — appended (new activity rows, recent rows
 * edited: what apps mostly do) and scattered (1 % of rows edited uniformly at random, the worst case for
 * any chunking: most chunks hold a changed row); a day without change; backup time against the
 * per-backup file layout; and zstd against gzip on the backup's own chunks.
 */
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { gzip, constants as zlib, zstdCompress, zstdDecompress } from "node:zlib";
import pg from "pg";
import { distinctObjects } from "../../lib/backup/manifest.ts";
import { tenantPrefix } from "../../lib/backup/paths.ts";
import { backupTenant } from "../../lib/backup/tenant-backup.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/logger.ts";
import { createServices, type Services } from "../../lib/services.ts";
import { chunkTargetSetting } from "./chunk-target.ts";

const DAYS = 30;

function servicesFor(url: string, backupDir: string, layout: "chunks" | "files"): Services {
  return createServices(
    loadConfig({
      DATABASE_URL: url,
      BACKUP_DIR: backupDir,
      CRON_SECRET: "bench-secret-not-used-0123456789",
      LOG_LEVEL: "warn",
      BACKUP_TIME_BUDGET_MS: String(3_600_000),
      BACKUP_LAYOUT: layout,
      ...chunkTargetSetting(),
    }),
    { log: createLogger({ level: "warn" }) },
  );
}

async function backupOnce(s: Services, tenantId: string, day: number) {
  const started = performance.now();
  const result = await backupTenant(s, {
    tenantId,
    tenantName: null,
    type: "manual",
    date: `2026-01-${String(day + 1).padStart(2, "0")}`,
    deadline: Date.now() + 3_600_000,
  });
  if (result.status !== "completed") throw new Error("backup did not complete");
  const m = result.manifest;
  return {
    ms: performance.now() - started,
    full: m.total_bytes,
    written: m.format_version === 1 ? m.total_bytes : m.written_bytes,
    manifest: m,
  };
}

/** 1 % of the tenant's rows a day: new audit and notification rows, and the newest notifications read. */
async function appendDay(client: pg.Client, tenantId: string, perDay: number, day: number) {
  const insertAudit = Math.round(perDay * 0.5);
  const insertNotes = Math.round(perDay * 0.3);
  const read = perDay - insertAudit - insertNotes;
  await client.query(
    `insert into audit_logs (organization_id, action, entity_type, entity_id, created_at)
     select $1, 'update', 'customer', 'c' || g, timestamptz '2026-01-01' + interval '1 day' * $3::int
     from generate_series(1, $2::int) g`,
    [tenantId, insertAudit, day],
  );
  await client.query(
    `insert into notifications (organization_id, profile_id, kind, title, created_at)
     select $1, (select id from profiles where organization_id = $1 order by id limit 1), 'info', 'day ' || $3::int || ' #' || g,
            timestamptz '2026-01-01' + interval '1 day' * $3::int
     from generate_series(1, $2::int) g`,
    [tenantId, insertNotes, day],
  );
  await client.query(
    `update notifications set read_at = timestamptz '2026-01-01' + interval '1 day' * $3::int
     where id in (select id from notifications where organization_id = $1 and read_at is null order by id desc limit $2)`,
    [tenantId, read, day],
  );
}

/** 1 % of the tenant's audit and notification rows edited, chosen uniformly at random each day. */
async function scatterDay(client: pg.Client, tenantId: string, perDay: number, day: number) {
  await client.query(
    `update audit_logs set user_agent = 'day ' || $3::int where id in (
       select id from audit_logs where organization_id = $1 order by hashint8extended(id, $3::bigint) limit $2)`,
    [tenantId, Math.round(perDay * 0.6), day],
  );
  await client.query(
    `update notifications set read_at = timestamptz '2026-01-01' + interval '1 day' * $3::int where id in (
       select id from notifications where organization_id = $1 order by hashint8extended(id, $3::bigint) limit $2)`,
    [tenantId, perDay - Math.round(perDay * 0.6), day],
  );
}

export async function benchDedupe(
  urls: { appended: string; scattered: string },
  dirFor: (name: string) => string,
  tenantId: string,
  tenantRows: number,
  say: (line?: string) => void,
) {
  const fmt = (n: number, d = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const mb = (b: number) => `${fmt(b / 2 ** 20, 2)} MB`;
  const perDay = Math.round(tenantRows / 100);

  // Backup time: the per-backup file layout beside chunks, first (all new) and again unchanged.
  const filesS = servicesFor(urls.appended, dirFor("files"), "files");
  const chunkS = servicesFor(urls.appended, dirFor("time"), "chunks");
  try {
    const files = await backupOnce(filesS, tenantId, 0);
    const first = await backupOnce(chunkS, tenantId, 0);
    const again = await backupOnce(chunkS, tenantId, 1);
    say(
      `backup of ${fmt(tenantRows)} rows: files layout ${fmt(files.ms / 1000, 2)} s (${mb(files.full)}); ` +
        `chunks, first ${fmt(first.ms / 1000, 2)} s (${mb(first.written)} written), ` +
        `unchanged ${fmt(again.ms / 1000, 2)} s (${fmt(again.written)} bytes of chunks written)`,
    );

    // zstd against gzip, on the chunks of the first backup.
    const decompress = promisify(zstdDecompress);
    const texts: Buffer[] = [];
    // Each chunk once: small tables share one.
    for (const f of distinctObjects(first.manifest.tables.flatMap((t) => t.files)))
      texts.push(await decompress(await chunkS.storage.get(f.path)));
    const raw = texts.reduce((n, t) => n + t.length, 0);
    for (const [name, pack] of [
      ["gzip 4", (b: Buffer) => promisify(gzip)(b, { level: 4 })],
      ["gzip 6", (b: Buffer) => promisify(gzip)(b, { level: 6 })],
      [
        "zstd 3",
        (b: Buffer) => promisify(zstdCompress)(b, { params: { [zlib.ZSTD_c_compressionLevel]: 3 } }),
      ],
    ] as const) {
      const started = performance.now();
      let bytes = 0;
      for (const t of texts) bytes += (await pack(t)).length;
      say(
        `  ${name}: ${mb(bytes)} of ${mb(raw)} (${fmt((100 * bytes) / raw, 1)} %), ${fmt(performance.now() - started)} ms`,
      );
    }
  } finally {
    await filesS.close();
    await chunkS.close();
  }

  for (const [pattern, url, change] of [
    ["appended", urls.appended, appendDay],
    ["scattered", urls.scattered, scatterDay],
  ] as const) {
    const s = servicesFor(url, dirFor(pattern), "chunks");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      let full = 0;
      let last = 0;
      let ms = 0;
      for (let day = 0; day < DAYS; day++) {
        if (day > 0) await change(client, tenantId, perDay, day);
        const b = await backupOnce(s, tenantId, day);
        if (day === 0) full = b.full;
        else ms += b.ms;
        last = b.full;
      }
      const objects = await s.storage.list(tenantPrefix(tenantId));
      const stored = objects.reduce((n, o) => n + o.size, 0);
      const summaries = objects.filter((o) => o.path.includes("/summary-")).reduce((n, o) => n + o.size, 0);
      say(
        `${DAYS} daily backups, 1 % of rows a day, ${pattern}: full backup ${mb(full)} on day 1, ${mb(last)} on day ${DAYS}; ` +
          `all ${DAYS} stored in ${mb(stored)} (${fmt(stored / last, 2)}× the last full backup, ${fmt(stored / full, 2)}× the first; ` +
          `summaries ${mb(summaries)}), ${fmt(ms / (DAYS - 1) / 1000, 2)} s a backup`,
      );
    } finally {
      await client.end();
      await s.close();
    }
  }
}
