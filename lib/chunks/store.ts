/**
 * One backup call's writer of chunks: names each chunk by the keyed hash of its SHA-256, and uploads it only
 * when the tenant's chunk folder does not already hold it (listed once when the call starts, so a chunk
 * stored at the size it would be written costs no request to check; one stored at another size is read
 * once). Before a manifest names them, confirm() lists the folder again: a chunk reused from the listing
 * must still be there (see lib/chunks/sweep.ts for why it is).
 */
import { createHash } from "node:crypto";
import type { RowsText } from "../backup/lines.ts";
import type { ManifestFile } from "../backup/manifest.ts";
import { encryptionOf, storedLength } from "../crypto/encrypting-storage.ts";
import { fail } from "../errors.ts";
import type { Services } from "../services.ts";
import { compressParts, decompressChunk } from "./codec.ts";
import { chunkKey, chunkName, fileName } from "./key.ts";
import { chunkPath, chunksPrefix, fileBlobPath } from "./paths.ts";

export interface StoredChunk {
  file: ManifestFile;
  /** Bytes uploaded for it: 0 when the chunk was already stored. */
  written: number;
}

/** What a store needs before its first chunk: the naming key, and the chunks stored (path → size). */
interface Listed {
  key: Buffer;
  known: Map<string, number>;
}

export class ChunkStore {
  private constructor(
    private readonly services: Services,
    private readonly tenantId: string,
    private readonly listing: Promise<Listed>,
  ) {
    // Seen by the first use; a call that fails before any must not leave it unhandled.
    listing.catch(() => {});
  }

  /** The encryption key chunks are written with now, if any: part of their names (see chunkName). */
  private get writeKeyId(): string | undefined {
    return encryptionOf(this.services.storage)?.key_id;
  }

  /** Chunks this call uploaded: stored after any sweep that could have removed them (the lease). */
  private readonly uploaded = new Set<string>();

  /**
   * Starts listing the tenant's chunk folder and answers at once: the first use waits for the listing,
   * so that a backup reads its first tables meanwhile (a storage request takes longer than a statement).
   */
  static open(services: Services, tenantId: string): ChunkStore {
    const listing = Promise.all([chunkKey(services), services.storage.list(chunksPrefix(tenantId))]).then(
      ([key, objects]) => ({ key, known: new Map(objects.map((o) => [o.path, o.size])) }),
    );
    return new ChunkStore(services, tenantId, listing);
  }

  /**
   * Stores the rows (lines of COPY's text format, in UTF-8) as a chunk. The manifest entry's sha256 is of
   * the uncompressed text, which is what a reader checks after decompressing; last_key is the table's rows
   * so far.
   */
  async store(chunk: RowsText, rowsBefore: number): Promise<StoredChunk> {
    const text = chunk.parts;
    const hash = createHash("sha256");
    for (const part of text) hash.update(part);
    const digest = hash.digest();
    const sha256 = digest.toString("hex");
    const [{ key, known }, data] = await Promise.all([this.listing, compressParts(text)]);
    const path = chunkPath(this.tenantId, chunkName(key, digest, this.writeKeyId));
    const entry = (bytes: number): ManifestFile => ({
      path,
      text: "copy",
      rows: chunk.rows,
      bytes,
      sha256,
      last_key: [String(rowsBefore + chunk.rows)],
    });
    // Listed sizes are as stored: with encryption on, larger than the chunk by the envelope.
    const stored = storedLength(this.services.storage, data.byteLength);
    const listed = known.get(path);
    if (listed === stored) return { file: entry(data.byteLength), written: 0 };
    // Stored at another size: the same rows compressed otherwise (another level or zstd version), which
    // earlier summaries name at that size, or a damaged object. Keep the first, replace the second.
    const kept = listed === undefined ? null : await this.storedAs(path, sha256);
    if (kept !== null) return { file: entry(kept), written: 0 };
    await this.services.storage.put(path, data, "application/zstd");
    known.set(path, stored);
    this.uploaded.add(path);
    return { file: entry(data.byteLength), written: data.byteLength };
  }

  /** The compressed size of the chunk stored at `path` when its text has `sha256`; null when it does not. */
  private async storedAs(path: string, sha256: string): Promise<number | null> {
    try {
      const data = await this.services.storage.get(path);
      const text = await decompressChunk(data);
      return createHash("sha256").update(text).digest("hex") === sha256 ? data.byteLength : null;
    } catch {
      // Unreadable (damaged, cut short, not zstd, gone): written again below, as a missing chunk is.
      return null;
    }
  }

  /**
   * Stores one of the tenant's uploaded files as it is (already compressed, as most uploads are), named by
   * the keyed hash of its bytes: an unchanged file is uploaded once, by the first backup that sees it.
   */
  async storeFile(data: Uint8Array): Promise<{ path: string; written: number }> {
    const { key, known } = await this.listing;
    const path = fileBlobPath(this.tenantId, fileName(key, data));
    const stored = storedLength(this.services.storage, data.byteLength);
    if (known.get(path) === stored) return { path, written: 0 };
    await this.services.storage.put(path, data, "application/octet-stream");
    known.set(path, stored);
    this.uploaded.add(path);
    return { path, written: data.byteLength };
  }

  /** True when the call's listing (or this store since) has `path` holding `bytes` plain bytes. */
  async holds(path: string, bytes: number): Promise<boolean> {
    return (await this.listing).known.get(path) === storedLength(this.services.storage, bytes);
  }

  /** Fails (503, nothing named) unless every chunk of `files` is stored at its recorded size right now. */
  async confirm(files: { path: string; bytes: number }[]): Promise<void> {
    // Only chunks reused (from the listing or earlier calls of the run) can have been swept since.
    const reused = files.filter((f) => !this.uploaded.has(f.path));
    if (reused.length === 0) return;
    const listed = await this.services.storage.list(chunksPrefix(this.tenantId));
    const sizes = new Map(listed.map((o) => [o.path, o.size]));
    const gone = reused.filter((f) => sizes.get(f.path) !== storedLength(this.services.storage, f.bytes));
    if (gone.length > 0) {
      throw fail(
        "unavailable",
        `${gone.length} chunk(s) this backup reuses are no longer stored (${gone[0]?.path}); back up again`,
      );
    }
  }
}
