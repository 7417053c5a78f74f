/**
 * Key helpers shared by the storage backends, so that every backend validates list prefixes and orders
 * listings the same way (the shared contract suite compares exact arrays).
 */
import { assertValidKey, type StoredObject } from "./port.ts";

/**
 * A list() prefix is '' or a key, optionally ending in '/'. The part after the last '/' may be a partial
 * name ("tenant-backups/org/2024-" lists every date of 2024), so it is checked like a key segment.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

/** Splits a prefix into the folder to walk ('' or ending in '/') and the start of the names in it. */
export function splitPrefix(prefix: string): { folder: string; namePrefix: string } {
  const slash = prefix.lastIndexOf("/");
  return { folder: prefix.slice(0, slash + 1), namePrefix: prefix.slice(slash + 1) };
}

/**
 * Orders by UTF-16 code units, not by locale: the order must not depend on the machine's locale, and for
 * the ASCII keys this project writes it equals PostgreSQL's "C" collation and S3's byte order.
 */
export function comparePaths(a: StoredObject, b: StoredObject): number {
  if (a.path === b.path) return 0;
  return a.path < b.path ? -1 : 1;
}
