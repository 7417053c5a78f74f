/**
 * A real S3-compatible server (s3rver: the S3 REST API over HTTP, objects on disk) on 127.0.0.1 and a free
 * port, for the S3 backend and the off-site copy. Its one access key id is S3RVER; it refuses other ids but
 * does not verify SigV4 signatures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
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
    },
  };
}
