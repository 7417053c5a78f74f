/**
 * Where a tenant's content-addressed chunks live: one flat folder per tenant, shared by all its backups,
 *   tenant-backups/{organization_id}/chunks/{hmac-sha256 hex}.jsonl.zst   rows
 *   tenant-backups/{organization_id}/chunks/{hmac-sha256 hex}.file        one uploaded file, as it is
 * The name is a keyed hash of the chunk's uncompressed text (lib/chunks/key.ts), so equal rows written by
 * any backup of the tenant land on the same key and are stored once.
 */
import { tenantPrefix } from "../backup/paths.ts";

export const CHUNK_SUFFIX = ".jsonl.zst";
export const FILE_BLOB_SUFFIX = ".file";

export function chunksPrefix(tenantId: string): string {
  return `${tenantPrefix(tenantId)}chunks/`;
}

export function chunkPath(tenantId: string, name: string): string {
  return `${chunksPrefix(tenantId)}${name}${CHUNK_SUFFIX}`;
}

const CHUNK_KEY = /^tenant-backups\/[^/]+\/chunks\/[0-9a-f]{64}\.jsonl\.zst$/;

/** True for a key of a chunk (of any tenant): what a format 2 or 3 manifest lists instead of per-backup files. */
export function isChunkPath(path: string): boolean {
  return CHUNK_KEY.test(path);
}

/** True for a chunk key inside this tenant's chunk folder. */
export function isTenantChunkPath(tenantId: string, path: string): boolean {
  return isChunkPath(path) && path.startsWith(chunksPrefix(tenantId));
}

export function fileBlobPath(tenantId: string, name: string): string {
  return `${chunksPrefix(tenantId)}${name}${FILE_BLOB_SUFFIX}`;
}

const FILE_BLOB_KEY = /^tenant-backups\/[^/]+\/chunks\/[0-9a-f]{64}\.file$/;

/** True for the stored copy of an uploaded file (of any tenant). */
export function isFileBlobPath(path: string): boolean {
  return FILE_BLOB_KEY.test(path);
}

/** True for the stored copy of one of this tenant's uploaded files. */
export function isTenantFileBlobPath(tenantId: string, path: string): boolean {
  return isFileBlobPath(path) && path.startsWith(chunksPrefix(tenantId));
}
