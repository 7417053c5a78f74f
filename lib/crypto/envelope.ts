/**
 * The encrypted object format (version 1): AES-256-GCM in frames, so that an object of any size is
 * written and read a frame at a time, and so that a change anywhere — a flipped byte, frames swapped,
 * the end cut off, bytes added — fails authentication.
 *
 *   header  "TBENC" | version 0x01 | key id (8 bytes) | frame size (u32 BE) | nonce (12 random bytes)
 *   frames  AES-256-GCM(frame i) | tag (16 bytes), every frame `frame size` plaintext bytes but the last
 *           (0 … frame size bytes; an empty object is one empty final frame)
 *
 * Each object has its own key, HKDF-SHA256(master key, salt = the object's nonce); frame i is sealed with
 * nonce = i (u32 BE in bytes 7–10) | final flag (byte 11), and the header as additional data. The
 * per-object key keeps frame nonces from ever repeating across objects; the counter pins each frame to its
 * place; the final flag makes a cut at a frame boundary fail; the header as additional data makes an
 * edited key id, version or frame size fail. (The construction of Tink's AES-GCM-HKDF streaming AEAD.)
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { type BackupKey, KEY_ID_BYTES } from "./keys.ts";

const MAGIC = Buffer.from("TBENC", "latin1");
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const HEADER_BYTES = MAGIC.length + 1 + KEY_ID_BYTES + 4 + NONCE_BYTES;
/** 64 KiB: small enough that a reader holds little, large enough that tags cost 0.02 %. */
export const DEFAULT_FRAME_BYTES = 64 * 1024;
/** A reader refuses larger frames before it has authenticated anything, to bound what it buffers. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface Header {
  keyId: string;
  frameBytes: number;
  nonce: Buffer;
  raw: Buffer;
}

/** Why an encrypted object could not be read; the storage wrapper turns it into the answer callers see. */
export class EnvelopeError extends Error {
  constructor(
    readonly reason: "damaged" | "unsupported",
    message: string,
  ) {
    super(message);
    this.name = "EnvelopeError";
  }
}

/** True when `bytes` begin like an encrypted object (the magic); older plain objects never do. */
export function looksEncrypted(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength >= MAGIC.length &&
    MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length))
  );
}

export function parseHeader(bytes: Uint8Array): Header {
  if (bytes.byteLength < HEADER_BYTES) throw new EnvelopeError("damaged", "it ends inside its header");
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (!raw.subarray(0, MAGIC.length).equals(MAGIC)) throw new EnvelopeError("damaged", "it has no header");
  const version = raw[MAGIC.length];
  if (version !== VERSION) {
    throw new EnvelopeError("unsupported", `its format version ${version} is newer than this code reads`);
  }
  let at = MAGIC.length + 1;
  const keyId = raw.subarray(at, at + KEY_ID_BYTES).toString("hex");
  at += KEY_ID_BYTES;
  const frameBytes = raw.readUInt32BE(at);
  at += 4;
  if (frameBytes < 1 || frameBytes > MAX_FRAME_BYTES) {
    throw new EnvelopeError("damaged", `its header names a frame size of ${frameBytes} bytes`);
  }
  return { keyId, frameBytes, nonce: Buffer.from(raw.subarray(at, at + NONCE_BYTES)), raw: Buffer.from(raw) };
}

function objectKey(master: Buffer, nonce: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", master, nonce, "tenant-backup object v1", 32));
}

function frameNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/** The size of `plainBytes` once encrypted: the header and a tag per frame (an empty object has one frame). */
export function encryptedLength(plainBytes: number, frameBytes = DEFAULT_FRAME_BYTES): number {
  return HEADER_BYTES + plainBytes + Math.max(1, Math.ceil(plainBytes / frameBytes)) * TAG_BYTES;
}

/** The whole object, encrypted with `key` under a fresh random nonce. */
export function encrypt(plain: Uint8Array, key: BackupKey, frameBytes = DEFAULT_FRAME_BYTES): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[MAGIC.length] = VERSION;
  Buffer.from(key.id, "hex").copy(header, MAGIC.length + 1);
  header.writeUInt32BE(frameBytes, MAGIC.length + 1 + KEY_ID_BYTES);
  nonce.copy(header, MAGIC.length + 1 + KEY_ID_BYTES + 4);

  const subkey = objectKey(key.key, nonce);
  const frames = Math.max(1, Math.ceil(plain.byteLength / frameBytes));
  const out = Buffer.allocUnsafe(HEADER_BYTES + plain.byteLength + frames * TAG_BYTES);
  header.copy(out, 0);
  let at = HEADER_BYTES;
  for (let i = 0; i < frames; i++) {
    const part = plain.subarray(i * frameBytes, Math.min(plain.byteLength, (i + 1) * frameBytes));
    const cipher = createCipheriv("aes-256-gcm", subkey, frameNonce(i, i === frames - 1));
    cipher.setAAD(header);
    at += cipher.update(part).copy(out, at);
    at += cipher.final().copy(out, at);
    at += cipher.getAuthTag().copy(out, at);
  }
  return out;
}

/**
 * Decrypts an object given in chunks, a frame at a time: yields plaintext only of frames that
 * authenticated. `keyFor` answers the master key for the header's key id (and throws when there is none).
 */
export async function* decryptChunks(
  chunks: AsyncIterable<Uint8Array>,
  keyFor: (header: Header) => Buffer,
): AsyncGenerator<Uint8Array> {
  let pending = Buffer.alloc(0);
  let header: Header | undefined;
  let subkey: Buffer | undefined;
  let index = 0;

  const open = (sealed: Buffer, final: boolean): Buffer => {
    if (!header || !subkey) throw new EnvelopeError("damaged", "it has no header");
    const decipher = createDecipheriv("aes-256-gcm", subkey, frameNonce(index, final));
    decipher.setAAD(header.raw);
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.byteLength - TAG_BYTES)),
        decipher.final(),
      ]);
      index += 1;
      return plain;
    } catch {
      throw new EnvelopeError(
        "damaged",
        `frame ${index} fails authentication (altered, reordered or cut short, or read with another key)`,
      );
    }
  };

  for await (const chunk of chunks) {
    pending = pending.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    if (!header) {
      if (pending.byteLength < HEADER_BYTES) continue;
      header = parseHeader(pending);
      subkey = objectKey(keyFor(header), header.nonce);
      pending = pending.subarray(HEADER_BYTES);
    }
    const sealedBytes = header.frameBytes + TAG_BYTES;
    // A full frame is known not to be the last only once a byte after it has arrived.
    while (pending.byteLength > sealedBytes) {
      yield open(pending.subarray(0, sealedBytes), false);
      pending = pending.subarray(sealedBytes);
    }
  }
  if (!header) throw new EnvelopeError("damaged", "it ends inside its header");
  if (pending.byteLength < TAG_BYTES) throw new EnvelopeError("damaged", "it is cut short");
  yield open(pending, true);
}
