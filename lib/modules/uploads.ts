/**
 * CSV files too large for a function's request body (Netlify buffers 6 MB) reach an import through
 * storage: the caller gets a signed upload URL for a fresh key under the organization's own folder
 * `tenant-imports/{organization_id}/`, PUTs the file there, and names that key in import-module. A key
 * is only ever read for the organization whose folder holds it. A real import deletes its file; a dry
 * run keeps it for the import that follows; files left over a day (a dry run never followed up) are
 * deleted when the organization next asks for an upload URL.
 */
import { randomUUID } from "node:crypto";
import { fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { backendWith, StorageError } from "../storage/port.ts";

export const UPLOAD_PREFIX = "tenant-imports";

interface UploadSigner {
  createSignedUploadUrl(path: string): Promise<string>;
}

function canSignUploads(storage: object): storage is UploadSigner {
  return typeof (storage as Partial<UploadSigner>).createSignedUploadUrl === "function";
}

/** A fresh upload key in the organization's folder, and the URL that accepts its file. */
export async function signUpload(
  services: Services,
  tenantId: string,
): Promise<{ path: string; url: string }> {
  const signer = backendWith(services.storage, canSignUploads);
  if (!signer) {
    throw fail(
      "bad_request",
      "uploads through storage need Supabase Storage; send the CSV file as the body of import-module",
      { reason: "uploads_unavailable" },
    );
  }
  const now = services.now();
  const folder = `${UPLOAD_PREFIX}/${tenantId}/`;
  const dayAgo = stamp(new Date(now.getTime() - KEEP_MS));
  const stale = (await services.storage.list(folder))
    .map((o) => o.path)
    .filter((p) => isUploadOf(tenantId, p) && p.slice(folder.length, folder.length + 15) < dayAgo);
  if (stale.length > 0) await services.storage.remove(stale);
  const path = `${folder}${stamp(now)}-${randomUUID().replaceAll("-", "").slice(0, 16)}.csv`;
  return { path, url: await signer.createSignedUploadUrl(path) };
}

/** How long an upload is kept for an import that has not come yet. */
const KEEP_MS = 24 * 3600 * 1000;

/** YYYYMMDDTHHMMSS in UTC: upload keys sort, and age, by it. */
function stamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").slice(0, 15);
}

/** The uploaded file `path` of the organization, at most `limit` bytes: 400 another folder, 404 none, 413 larger. */
export async function readUpload(
  services: Services,
  tenantId: string,
  path: string,
  limit: number,
): Promise<Uint8Array> {
  if (!isUploadOf(tenantId, path)) {
    throw fail("bad_request", `upload: is not an upload of organization ${tenantId}`, { field: "upload" });
  }
  let data: Uint8Array;
  try {
    data = await services.storage.get(path);
  } catch (err) {
    if (err instanceof StorageError && err.code === "not_found") {
      throw fail("not_found", `upload: there is no uploaded file ${path}`, { field: "upload" });
    }
    throw err;
  }
  if (data.byteLength > limit)
    throw fail("payload_too_large", `the uploaded CSV file is larger than ${limit} bytes`);
  return data;
}

export function isUploadOf(tenantId: string, path: string): boolean {
  const folder = `${UPLOAD_PREFIX}/${tenantId}/`;
  return path.startsWith(folder) && /^\d{8}T\d{6}-[0-9a-f]{16}\.csv$/.test(path.slice(folder.length));
}
