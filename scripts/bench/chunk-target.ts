/**
 * BENCH_CHUNK_TARGET: the BACKUP_CHUNK_TARGET_BYTES every section's backups run with (unset: the product's
 * default), so that the trade between a backup's speed and what 30 days of backups store can be measured
 * at other sizes (docs/benchmarks.md).
 */
export function chunkTargetSetting(): { BACKUP_CHUNK_TARGET_BYTES?: string } {
  const target = process.env.BENCH_CHUNK_TARGET;
  return target ? { BACKUP_CHUNK_TARGET_BYTES: target } : {};
}
