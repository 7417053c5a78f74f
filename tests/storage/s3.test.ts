import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Storage } from "../../lib/storage/s3.ts";
import { startS3Server, type TestS3Server } from "../support/s3-server.ts";
import { storageContract, storageErrorOf, text } from "./contract.ts";

let server: TestS3Server;
let bucketCount = 0;
const BUCKETS = Array.from({ length: 80 }, (_, i) => `contract-${i}`);

beforeAll(async () => {
  server = await startS3Server([...BUCKETS, "shared"]);
});
afterAll(async () => {
  await server?.close();
});

/** Each contract test gets a bucket of its own, so every test starts from an empty store. */
function nextBucket(): string {
  const bucket = BUCKETS[bucketCount++];
  if (!bucket) throw new Error("more contract tests than prepared buckets");
  return bucket;
}

storageContract("s3 (s3rver)", async () => {
  return { storage: new S3Storage(server.settings(nextBucket())) };
});

storageContract("s3 (s3rver, under a prefix)", async () => {
  return { storage: new S3Storage(server.settings(nextBucket(), "copies/site-a/")) };
});

describe("S3Storage against the server", () => {
  it("keeps keys under its prefix apart from the rest of the bucket", async () => {
    const a = new S3Storage(server.settings("shared", "a/"));
    const b = new S3Storage(server.settings("shared", "ab/"));
    await a.put("x.json", text("in a"), "application/json");
    await b.put("x.json", text("in ab"), "application/json");
    expect(await a.list("")).toEqual([{ path: "x.json", size: 4 }]);
    expect(new TextDecoder().decode(await b.get("x.json"))).toBe("in ab");
    expect((await new S3Storage(server.settings("shared")).list("")).map((o) => o.path)).toEqual([
      "a/x.json",
      "ab/x.json",
    ]);
  });

  it("answers an unknown access key as unauthorized and a missing bucket as failed, not as a missing object", async () => {
    // s3rver checks the access key id (it does not verify SigV4 signatures themselves).
    const wrong = new S3Storage({ ...server.settings("shared"), accessKeyId: "NOT-A-KEY" });
    expect((await storageErrorOf(wrong.get("a/x.json"))).code).toBe("unauthorized");
    const nowhere = new S3Storage(server.settings("no-such-bucket"));
    expect((await storageErrorOf(nowhere.get("x.json"))).code).toBe("failed");
  });

  it("answers a server that does not answer as transient", async () => {
    const gone = new S3Storage({ ...server.settings("shared"), endpoint: "http://127.0.0.1:9" });
    expect((await storageErrorOf(gone.list(""))).code).toBe("transient");
  });
});
