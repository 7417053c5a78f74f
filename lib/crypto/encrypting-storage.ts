/**
 * Encryption at rest as a wrapper over any storage port: put() encrypts with the write key (when one is
 * configured), get() and getStream() decrypt with whichever configured key the object names, and objects
 * written before encryption was switched on are read as they are. Paths, listing and removal pass through;
 * listed sizes are the stored (encrypted) sizes.
 *
 * Failures answer what the caller can act on, and never hold a key: an object needing a key this
 * deployment lacks is `encryption_key_missing` (500, naming the key id and the variables to set); one
 * that fails authentication is `unprocessable` (422, damaged or altered, naming the object).
 */
import { fail } from "../errors.ts";
import { type BackupStorage, backendWith } from "../storage/port.ts";
import {
  decryptChunks,
  EnvelopeError,
  encrypt,
  encryptedLength,
  type Header,
  looksEncrypted,
} from "./envelope.ts";
import type { KeyRing } from "./keys.ts";

export const ALGORITHM = "AES-256-GCM" as const;

export interface EncryptingStorage extends BackupStorage {
  /** The id of the key new objects are encrypted with; undefined when they are written unencrypted. */
  readonly writeKeyId: string | undefined;
}

export function withEncryption(storage: BackupStorage, ring: KeyRing): EncryptingStorage {
  const keyFor = (path: string) => (header: Header) => {
    const found = ring.read.get(header.keyId);
    if (!found) {
      throw fail(
        "encryption_key_missing",
        `backup object ${path} is encrypted with key ${header.keyId}, which is not configured: ` +
          "set it as BACKUP_ENCRYPTION_KEY or add it to BACKUP_DECRYPTION_KEYS",
        { file: path, key_id: header.keyId },
      );
    }
    return found.key;
  };
  const readError = (path: string, err: unknown) =>
    err instanceof EnvelopeError
      ? fail("unprocessable", `backup object ${path} cannot be decrypted: ${err.message}`, {
          file: path,
          reason: err.reason,
        })
      : err;

  const wrapper: EncryptingStorage = {
    kind: storage.kind,
    writeKeyId: ring.write?.id,
    async put(path, data, contentType) {
      await storage.put(path, ring.write ? encrypt(data, ring.write) : data, contentType);
    },
    async get(path) {
      const stored = await storage.get(path);
      if (!looksEncrypted(stored)) return stored;
      const parts: Uint8Array[] = [];
      try {
        for await (const part of decryptChunks(once(stored), keyFor(path))) parts.push(part);
      } catch (err) {
        throw readError(path, err);
      }
      return new Uint8Array(Buffer.concat(parts));
    },
    async getStream(path) {
      const stream = (await storage.getStream(path)) as unknown as AsyncIterable<Uint8Array>;
      const chunks = stream[Symbol.asyncIterator]();
      // Enough of the start to tell an encrypted object from an older plain one.
      const head: Uint8Array[] = [];
      let headBytes = 0;
      let ended = false;
      while (headBytes < 5) {
        const next = await chunks.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        headBytes += next.value.byteLength;
      }
      const rest = async function* () {
        yield* head;
        if (!ended) yield* { [Symbol.asyncIterator]: () => chunks };
      };
      const first = Buffer.concat(head);
      if (!looksEncrypted(first)) return streamOf(rest());
      const plain = async function* () {
        try {
          yield* decryptChunks(rest(), keyFor(path));
        } catch (err) {
          throw readError(path, err);
        }
      };
      return streamOf(plain());
    },
    list: (prefix) => storage.list(prefix),
    remove: (paths) => storage.remove(paths),
  };
  // Beneath this wrapper objects are ciphertext: a capability reached through it (a signed download URL)
  // would hand that out. Only when no key is configured is nothing beneath encrypted by it.
  if (ring.read.size === 0) wrapper.unwrap = () => storage;
  return wrapper;
}

function isEncrypting(layer: object): layer is EncryptingStorage {
  return "writeKeyId" in layer;
}

/** What a new manifest records about encryption: the write key's id, or null when unencrypted. */
export function encryptionOf(storage: BackupStorage): { algorithm: typeof ALGORITHM; key_id: string } | null {
  const keyId = backendWith(storage, isEncrypting)?.writeKeyId;
  return keyId ? { algorithm: ALGORITHM, key_id: keyId } : null;
}

/**
 * The size a listing of `storage` shows for an object put with `plainBytes` now: larger by the envelope
 * when objects are written encrypted. What a writer compares listed sizes with to know a stored object is
 * the one it would write (content-addressed chunks).
 */
export function storedLength(storage: BackupStorage, plainBytes: number): number {
  return backendWith(storage, isEncrypting)?.writeKeyId ? encryptedLength(plainBytes) : plainBytes;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

function streamOf(source: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await source.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await source.return(undefined);
    },
  });
}

/**
 * Whether a listed size is that of an object of `plainBytes`, stored plain or encrypted. For readers checking
 * what a summary names: whether a backup was written encrypted depends on the keys of its day, not today's.
 */
export function isStoredSizeOf(listedBytes: number | undefined, plainBytes: number): boolean {
  return listedBytes === plainBytes || listedBytes === encryptedLength(plainBytes);
}
