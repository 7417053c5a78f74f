/**
 * A real S3-compatible server (s3rver: the S3 REST API over HTTP, objects on disk) on 127.0.0.1 and a free
 * port, for the S3 backend and the off-site copy. Its one access key id is S3RVER; it refuses other ids but
 * does not verify SigV4 signatures.
 */
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import S3rver from "s3rver";
import type { S3Settings } from "../../lib/storage/s3.ts";

export interface TestS3Server {
  endpoint: string;
  /** Settings for a client of `bucket` (created at start) under `prefix`. */
  settings(bucket: string, prefix?: string): S3Settings;
  /** The same as environment variables, as a deployment would set them. */
  env(bucket: string, prefix?: string): Record<string, string>;
  close(): Promise<void>;
}

export const S3_CREDENTIAL = "S3RVER";

export async function startS3Server(buckets: string[]): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), "tenant-backup-s3-"));
  const incoming = await mkdtemp(join(tmpdir(), "tenant-backup-s3-incoming-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  readOwnWrites(server, incoming);
  const address = (await server.run()) as { address: string; port: number };
  const endpoint = `http://127.0.0.1:${address.port}`;
  const settings = (bucket: string, prefix = ""): S3Settings => ({
    endpoint,
    region: "us-east-1",
    bucket,
    prefix,
    accessKeyId: S3_CREDENTIAL,
    secretAccessKey: S3_CREDENTIAL,
    forcePathStyle: true,
  });
  return {
    endpoint,
    settings,
    env: (bucket, prefix = "") => ({
      OFFSITE_S3_ENDPOINT: endpoint,
      OFFSITE_S3_REGION: "us-east-1",
      OFFSITE_S3_BUCKET: bucket,
      ...(prefix ? { OFFSITE_S3_PREFIX: prefix } : {}),
      OFFSITE_S3_ACCESS_KEY_ID: S3_CREDENTIAL,
      OFFSITE_S3_SECRET_ACCESS_KEY: S3_CREDENTIAL,
      OFFSITE_S3_FORCE_PATH_STYLE: "true",
    }),
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
      await rm(incoming, { recursive: true, force: true });
    },
  };
}

/** The parts of s3rver's file store (lib/stores/filesystem.js) that a PUT uses; its types do not name them. */
interface FileStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}
interface StoredObject {
  bucket: string;
  key: string;
  metadata: unknown;
  content: Buffer | NodeJS.ReadableStream;
}

/**
 * S3 reads its own writes: a GET after a PUT's answer returns the new object. s3rver 3.7 answers a PUT as
 * soon as it has read the body, before its write stream has opened (and truncated) the object's file, so a
 * GET right after could still read the previous object — a replaced summary came back as the old one. Here
 * a PUT writes its body to a file of its own and renames it over the object before it is answered.
 */
function readOwnWrites(server: S3rver, incoming: string): void {
  const store = (server as unknown as { store: FileStore }).store;
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, "object");
    const partial = join(incoming, randomUUID());
    const md5 = createHash("md5");
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const body = Buffer.isBuffer(object.content) ? [object.content] : object.content;
    await pipeline(body, count, createWriteStream(partial));
    await mkdir(dirname(objectPath), { recursive: true });
    await rename(partial, objectPath);
    const digest = md5.digest("hex");
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
}
