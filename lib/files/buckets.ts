/**
 * Where a tenant's own uploaded files live: TENANT_FILE_BUCKETS, a comma-separated list of
 * `bucket:template`, where the template is the folder of one tenant with `{organization_id}` in it, e.g.
 * `invoices:{organization_id}/,photos:orgs/{organization_id}/`.
 *
 * A tenant may never reach another tenant's files, so a template is strict: the placeholder appears once,
 * as a whole path segment (between '/' or at the start and a '/'), and the template ends at a '/'. Then a
 * tenant's prefix is a folder: `orgs/1/` can never be the start of `orgs/10/…`, and no id (ids are path
 * segments without '/', see TENANT_ID_PATTERN) can climb out of it.
 */
import { TENANT_ID_PATTERN } from "../backup/paths.ts";

export const PLACEHOLDER = "{organization_id}";

export interface FileBucket {
  bucket: string;
  /** The tenant's folder with PLACEHOLDER in it; ends with '/'. */
  template: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,62}$/;
/** Characters Supabase Storage accepts in object names, minus '?' and '#' (see lib/storage/supabase.ts). */
const TEMPLATE_TEXT = /^[\w/!\-.*'() &$@=;:+,{}]+$/;

/** Why `entry` is not a valid `bucket:template`, or undefined when it is. */
export function fileBucketProblem(entry: string): string | undefined {
  const colon = entry.indexOf(":");
  if (colon < 0) return `"${entry}" must be bucket:template, e.g. invoices:{organization_id}/`;
  const bucket = entry.slice(0, colon);
  const template = entry.slice(colon + 1);
  if (!BUCKET_NAME.test(bucket)) return `"${bucket}" is not a valid bucket name`;
  if (template.split(PLACEHOLDER).length !== 2) {
    return `the template of ${bucket} must contain ${PLACEHOLDER} exactly once`;
  }
  if (!TEMPLATE_TEXT.test(template)) return `the template of ${bucket} has characters Storage refuses`;
  if (!template.endsWith("/")) return `the template of ${bucket} must end with '/' (a tenant's folder)`;
  const segments = template.slice(0, -1).split("/");
  if (!segments.includes(PLACEHOLDER)) {
    return `${PLACEHOLDER} must be a whole folder name in the template of ${bucket}, like orgs/${PLACEHOLDER}/`;
  }
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    return `the template of ${bucket} must not start with '/' or hold empty, '.' or '..' folders`;
  }
  return undefined;
}

/** Parses a list whose entries fileBucketProblem accepted. */
export function parseFileBuckets(entries: string[]): FileBucket[] {
  return entries.map((entry) => {
    const colon = entry.indexOf(":");
    return { bucket: entry.slice(0, colon), template: entry.slice(colon + 1) };
  });
}

/** The folder of `tenantId`'s files in a bucket. Refuses ids that are not a plain path segment. */
export function tenantFilePrefix(bucket: FileBucket, tenantId: string): string {
  if (!TENANT_ID_PATTERN.test(tenantId) || tenantId === "." || tenantId === "..") {
    throw new Error(`organization id ${JSON.stringify(tenantId)} cannot name a folder of files`);
  }
  return bucket.template.replace(PLACEHOLDER, tenantId);
}

/** True when `path` lies inside the tenant's folder `prefix` (made by tenantFilePrefix). */
export function isInsidePrefix(prefix: string, path: string): boolean {
  return (
    path.startsWith(prefix) &&
    path.length > prefix.length &&
    path
      .slice(prefix.length)
      .split("/")
      .every((s) => s !== "" && s !== "." && s !== "..")
  );
}
