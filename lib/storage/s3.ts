/**
 * Backup files in an S3-compatible bucket (AWS S3, Cloudflare R2, Backblaze B2, Supabase Storage's S3
 * endpoint), through @aws-sdk/client-s3. Every key is stored under `prefix` inside the bucket, so that one
 * bucket can hold other things; callers never see the prefix.
 *
 * A PUT replaces an object atomically (S3 has no partial objects), ListObjectsV2 is recursive and paged
 * with a continuation token, and DeleteObjects takes at most 1,000 keys and ignores missing ones: the
 * port's contract maps onto S3 directly.
 *
 * The SDK is loaded on the first request, not with this module: it adds about 10 MB to a process, which
 * every function would otherwise pay although only the off-site copy uses it.
 */
import type {
  DeleteObjectsCommandOutput,
  GetObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { assertValidPrefix, comparePaths } from "./keys.ts";
import {
  assertValidKey,
  type BackupStorage,
  StorageError,
  type StorageErrorCode,
  type StoredObject,
} from "./port.ts";

export interface S3Settings {
  /** Unset for AWS S3 itself; the provider's endpoint URL otherwise. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** '' or folders ending in '/'. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Each request is aborted after this long, so that a hung one cannot use up a function call. */
  timeoutMs?: number;
}

/** DeleteObjects refuses more keys than this in one request. */
const REMOVE_BATCH = 1000;

type Sdk = typeof import("@aws-sdk/client-s3");
let loading: Promise<Sdk> | undefined;
function sdk(): Promise<Sdk> {
  loading ??= import("@aws-sdk/client-s3");
  return loading;
}

async function createS3Client(settings: S3Settings): Promise<S3Client> {
  const { S3Client } = await sdk();
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    // Checksums only where S3 requires them: several S3-compatible services (and older servers) refuse the
    // SDK's default streaming CRC trailers. Copies are checked end to end by the caller instead.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Retries live in one place (lib/storage/retrying.ts), not in each backend.
    maxAttempts: 1,
    requestHandler: { requestTimeout: settings.timeoutMs ?? 30_000 },
  });
}

export class S3Storage implements BackupStorage {
  readonly kind = "s3";
  readonly bucket: string;
  readonly prefix: string;
  private client: Promise<S3Client> | undefined;

  constructor(private readonly settings: S3Settings) {
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
    if (this.prefix !== "" && !this.prefix.endsWith("/")) throw new Error("prefix must be '' or end in '/'");
    if (this.prefix !== "") assertValidPrefix(this.prefix);
  }

  async put(key: string, data: Uint8Array, contentType: string): Promise<void> {
    assertValidKey(key);
    const { PutObjectCommand } = await sdk();
    await this.send(
      "put",
      key,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: data,
        ContentType: contentType,
        ContentLength: data.byteLength,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    const body = await this.body(key);
    return attempt("get", key, async () => (body ? body.transformToByteArray() : new Uint8Array(0)));
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array>> {
    const body = await this.body(key);
    return body ? (body.transformToWebStream() as ReadableStream<Uint8Array>) : new Blob([]).stream();
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    const { ListObjectsV2Command } = await sdk();
    const found: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.send<ListObjectsV2CommandOutput>(
        "list",
        prefix,
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        found.push({ path: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort(comparePaths);
  }

  async remove(keys: string[]): Promise<void> {
    for (const key of keys) assertValidKey(key);
    const { DeleteObjectsCommand } = await sdk();
    for (let i = 0; i < keys.length; i += REMOVE_BATCH) {
      const batch = keys.slice(i, i + REMOVE_BATCH);
      const answer = await this.send<DeleteObjectsCommandOutput>(
        "remove",
        batch[0],
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true },
        }),
      );
      // A missing key is not an error in S3; anything listed here was refused.
      const refused = answer.Errors?.[0];
      if (refused) {
        throw new StorageError(
          refused.Code === "AccessDenied" ? "unauthorized" : "failed",
          `s3 remove ${JSON.stringify(refused.Key)}: ${refused.Code} ${refused.Message ?? ""}`.trim(),
          refused.Key?.slice(this.prefix.length),
        );
      }
    }
  }

  /** The object's body, opened (so that a missing key fails here, as the port asks). */
  private async body(key: string) {
    assertValidKey(key);
    const { GetObjectCommand } = await sdk();
    const answer = await this.send<GetObjectCommandOutput>(
      "get",
      key,
      new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
    );
    return answer.Body;
  }

  /** One request, with the client made on first use; anything it throws becomes a StorageError. */
  private async send<Output>(op: string, key: string | undefined, command: object): Promise<Output> {
    return attempt(op, key, async () => {
      this.client ??= createS3Client(this.settings);
      const client = await this.client;
      return (await client.send(command as never)) as Output;
    });
  }
}

async function attempt<T>(op: string, key: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStorageError(err, op, key);
  }
}

/** Maps what the SDK throws to a port error code; the message names the operation, key and S3 error code. */
export function toStorageError(err: unknown, op: string, key?: string): StorageError {
  if (err instanceof StorageError) return err;
  const where = key === undefined ? "" : ` ${JSON.stringify(key)}`;
  const name = err instanceof Error ? err.name : "Error";
  const status = serviceStatus(err);
  const detail = [name, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(", ");
  const mapped = new StorageError(classify(name, status), `s3 ${op}${where}: ${detail}`, key);
  mapped.cause = err;
  return mapped;
}

/** The HTTP status the server answered with: the SDK's service exceptions carry it in `$metadata`. */
function serviceStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function classify(name: string, status: number | undefined): StorageErrorCode {
  // A missing bucket is a deployment mistake, not a missing backup (see supabase.ts).
  if (name === "NoSuchBucket") return "failed";
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) return "not_found";
  if (
    ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"].includes(name) ||
    status === 401 ||
    status === 403
  ) {
    return "unauthorized";
  }
  if (name === "EntityTooLarge" || status === 413) return "too_large";
  if (name === "QuotaExceeded" || status === 507) return "full";
  if (name === "SlowDown" || status === 429 || (status !== undefined && status >= 500)) return "transient";
  // No answer at all: the network, a timeout or an abort.
  if (status === undefined) return "transient";
  return "failed";
}
