/**
 * `npm run decrypt -- <file> [--out <file>]`
 *
 * Decrypts one backup object copied out of storage (a summary, a table file, an off-site copy) with the
 * keys in BACKUP_ENCRYPTION_KEY and BACKUP_DECRYPTION_KEYS, a frame at a time, to --out or standard output.
 * Nothing is written unless every frame authenticates: the output goes to a temporary file that is renamed
 * only at the end (to standard output, a failure after the first frames leaves what was printed, and the
 * exit status says so). A file that is not encrypted (written before encryption was switched on) is
 * copied as it is, with a note on standard error.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { ConfigError, loadKeys } from "../lib/config.ts";
import { decryptChunks, EnvelopeError, looksEncrypted } from "../lib/crypto/envelope.ts";
import { keyRing } from "../lib/crypto/keys.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: "string" } },
});

async function main(): Promise<number> {
  const input = positionals[0];
  if (!input || positionals.length > 1) {
    process.stderr.write("usage: npm run decrypt -- <file> [--out <file>]\n");
    return 2;
  }
  const keys = loadKeys();
  const ring = keyRing(keys.writeKey, keys.readKeys);

  const head = Buffer.alloc(5);
  const handle = await open(input, "r");
  const { bytesRead } = await handle.read(head, 0, 5, 0);
  await handle.close();
  const encrypted = looksEncrypted(head.subarray(0, bytesRead));
  if (!encrypted) process.stderr.write(`${input} is not encrypted: copied as it is\n`);

  const chunks = createReadStream(input) as AsyncIterable<Uint8Array>;
  const plain = encrypted
    ? decryptChunks(chunks, ({ keyId }) => {
        const found = ring.read.get(keyId);
        if (!found) {
          throw new Error(
            `${input} is encrypted with key ${keyId}, which is not set: put it in BACKUP_ENCRYPTION_KEY or BACKUP_DECRYPTION_KEYS`,
          );
        }
        return found.key;
      })
    : chunks;

  if (!values.out) {
    await pipeline(Readable.from(plain), process.stdout as unknown as Writable);
    return 0;
  }
  const temp = `${values.out}.partial-${process.pid}`;
  try {
    await pipeline(Readable.from(plain), createWriteStream(temp, { mode: 0o600 }));
    await rename(temp, values.out);
  } finally {
    await rm(temp, { force: true });
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    const message =
      err instanceof EnvelopeError
        ? `${positionals[0]} cannot be decrypted: ${err.message}`
        : err instanceof ConfigError
          ? err.message
          : String((err as Error).message ?? err);
    process.stderr.write(`${message}\n`);
    process.exitCode = 1;
  },
);
