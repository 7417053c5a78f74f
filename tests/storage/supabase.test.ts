import { createClient, type SupabaseClientOptions } from "@supabase/supabase-js";
import { delay, HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { BackupStorage } from "../../lib/storage/port.ts";
import { type RetryInfo, withRetries } from "../../lib/storage/retrying.ts";
import { SupabaseStorage } from "../../lib/storage/supabase.ts";
import { createSupabaseClient } from "../../lib/supabase-client.ts";
import { storageContract, storageErrorOf, text } from "./contract.ts";
import { createFakeSupabaseStorage } from "./fake-supabase-storage.ts";

const PROJECT_URL = "https://fake-project.supabase.co";
const KEY = "service-role-key-for-tests";
const OBJECT_URL = `${PROJECT_URL}/storage/v1/object`;

const server = setupServer();
/** Every request that reached the network layer, in order. */
let requests: { method: string; path: string }[] = [];

beforeAll(() => {
  server.listen({ onUnhandledRequest: "error" });
  server.events.on("request:start", ({ request }) => {
    requests.push({ method: request.method, path: decodeURIComponent(new URL(request.url).pathname) });
  });
});
beforeEach(() => {
  requests = [];
});
afterAll(() => server.close());

function client(key = KEY, options: SupabaseClientOptions<"public"> = {}) {
  return createClient(PROJECT_URL, key, {
    ...options,
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

/** A fresh, empty fake behind the msw server; replaces every handler of the previous test. */
function freshFake(options: { fileSizeLimit?: number; buckets?: string[] } = {}) {
  const fake = createFakeSupabaseStorage({ url: PROJECT_URL, key: KEY, ...options });
  server.resetHandlers(...fake.handlers);
  return fake;
}

function seed(fake: ReturnType<typeof freshFake>, keys: string[]) {
  const now = new Date().toISOString();
  for (const key of keys) {
    fake.objects().set(key, {
      data: text(key),
      contentType: "application/json",
      cacheControl: null,
      id: crypto.randomUUID(),
      createdAt: now,
      updatedAt: now,
    });
  }
}

function noSleep() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

const count = (method: string, pathStart: string) =>
  requests.filter((r) => r.method === method && r.path.startsWith(pathStart)).length;

storageContract("supabase (msw fake, default pages)", async () => {
  freshFake();
  return { storage: new SupabaseStorage(client(), "backups") };
});

storageContract("supabase (msw fake, 7-entry pages)", async () => {
  freshFake();
  return { storage: new SupabaseStorage(client(), "backups", { pageSize: 7 }) };
});

describe("SupabaseStorage requests", () => {
  it("uploads with x-upsert: true, the content type and both credentials", async () => {
    const fake = freshFake();
    const seen: Headers[] = [];
    server.use(
      http.post(`${OBJECT_URL}/backups/*`, ({ request }) => {
        seen.push(request.headers);
        // Fall through to the fake.
      }),
    );
    const storage = new SupabaseStorage(client(), "backups");
    await storage.put("tenant-backups/org-1/2024-05-01/summary-1.json", text("{}"), "application/json");
    await storage.put("tenant-backups/org-1/2024-05-01/summary-1.json", text("[]"), "application/json");

    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /storage/v1/object/backups/tenant-backups/org-1/2024-05-01/summary-1.json",
      "POST /storage/v1/object/backups/tenant-backups/org-1/2024-05-01/summary-1.json",
    ]);
    for (const headers of seen) {
      expect(headers.get("x-upsert")).toBe("true");
      expect(headers.get("content-type")).toBe("application/json");
      expect(headers.get("apikey")).toBe(KEY);
      expect(headers.get("authorization")).toBe(`Bearer ${KEY}`);
    }
    const stored = fake.objects().get("tenant-backups/org-1/2024-05-01/summary-1.json");
    expect(stored?.contentType).toBe("application/json");
    expect(new TextDecoder().decode(stored?.data)).toBe("[]");
  });

  it("asks for pages of 1000 sorted by name by default, and pages with offsets until a short page", async () => {
    const fake = freshFake();
    const keys = Array.from({ length: 250 }, (_, i) => `p/obj-${String(i).padStart(3, "0")}.json`);
    seed(fake, keys);
    const bodies: Record<string, unknown>[] = [];
    server.use(
      http.post(`${OBJECT_URL}/list/backups`, async ({ request }) => {
        bodies.push((await request.clone().json()) as Record<string, unknown>);
      }),
    );

    expect((await new SupabaseStorage(client(), "backups").list("p/")).map((o) => o.path)).toEqual(keys);
    expect(bodies).toEqual([
      { prefix: "p", limit: 1000, offset: 0, sortBy: { column: "name", order: "asc" } },
    ]);

    bodies.length = 0;
    const small = new SupabaseStorage(client(), "backups", { pageSize: 100 });
    expect((await small.list("p/")).map((o) => o.path)).toEqual(keys);
    expect(bodies.map((b) => [b.limit, b.offset])).toEqual([
      [100, 0],
      [100, 100],
      [100, 200],
    ]);
  });

  it("recurses into folders (entries with id null) and skips the Dashboard's folder placeholder", async () => {
    const fake = freshFake();
    seed(fake, ["a/.emptyFolderPlaceholder", "a/b/c/d.json", "a/b/e.json", "a/f.json"]);
    const listed = await new SupabaseStorage(client(), "backups").list("a/");
    expect(listed.map((o) => o.path)).toEqual(["a/b/c/d.json", "a/b/e.json", "a/f.json"]);
    expect(listed[0]?.size).toBe(text("a/b/c/d.json").byteLength);
    // One request per folder: a/, a/b/, a/b/c/.
    expect(count("POST", "/storage/v1/object/list/backups")).toBe(3);
  });

  it("does not list an object twice when the folder changes between pages", async () => {
    const fake = freshFake();
    seed(
      fake,
      Array.from({ length: 10 }, (_, i) => `shift/k-${i}.json`),
    );
    let calls = 0;
    server.use(
      http.post(`${OBJECT_URL}/list/backups`, () => {
        // Between the first and second page a new object appears that sorts before everything, so the
        // second page (offset 4) starts with the last entry of the first one.
        calls += 1;
        if (calls === 2) seed(fake, ["shift/a-new.json"]);
      }),
    );
    const listed = (await new SupabaseStorage(client(), "backups", { pageSize: 4 }).list("shift/")).map(
      (o) => o.path,
    );
    expect(new Set(listed).size).toBe(listed.length);
    for (let i = 0; i < 10; i++) expect(listed).toContain(`shift/k-${i}.json`);
  });

  it("removes in batches of at most 1000 keys", async () => {
    const fake = freshFake();
    const keys = Array.from({ length: 2500 }, (_, i) => `rm/${String(i).padStart(4, "0")}.json`);
    seed(fake, [keys[0], keys[1500], keys[2499], "rm/keep.json"] as string[]);
    const sizes: number[] = [];
    server.use(
      http.delete(`${OBJECT_URL}/backups`, async ({ request }) => {
        sizes.push(((await request.clone().json()) as { prefixes: string[] }).prefixes.length);
      }),
    );
    await new SupabaseStorage(client(), "backups").remove(keys);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect([...fake.objects().keys()]).toEqual(["rm/keep.json"]);
  });

  it("sends no request for an empty remove or a key Supabase cannot take", async () => {
    freshFake();
    const storage = new SupabaseStorage(client(), "backups");
    await storage.remove([]);
    for (const bad of ["a/b?c.json", "a/b#c.json", "a/100%.json"]) {
      expect((await storageErrorOf(storage.put(bad, text("x"), "text/plain"))).code).toBe("failed");
      expect((await storageErrorOf(storage.get(bad))).code).toBe("failed");
    }
    expect(requests).toEqual([]);
  });

  it("createSignedUrl sends expiresIn and returns an absolute URL that downloads the object", async () => {
    freshFake();
    const bodies: unknown[] = [];
    server.use(
      http.post(`${OBJECT_URL}/sign/backups/*`, async ({ request }) => {
        bodies.push(await request.clone().json());
      }),
    );
    const storage = new SupabaseStorage(client(), "backups");
    await storage.put(
      "tenant-backups/org-1/2024-05-01/summary-1.json",
      text('{"ok":true}'),
      "application/json",
    );

    const url = await storage.createSignedUrl("tenant-backups/org-1/2024-05-01/summary-1.json", 600);
    expect(bodies).toEqual([{ expiresIn: 600 }]);
    expect(url).toMatch(
      new RegExp(
        `^${PROJECT_URL}/storage/v1/object/sign/backups/tenant-backups/org-1/2024-05-01/summary-1\\.json\\?token=`,
      ),
    );
    // No credentials: the URL alone is enough.
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"ok":true}');

    expect((await storageErrorOf(storage.createSignedUrl("missing.json", 60))).code).toBe("not_found");
    expect((await storageErrorOf(storage.createSignedUrl("x.json", 0))).code).toBe("failed");
  });
});

describe("SupabaseStorage errors", () => {
  /** Wraps with retries whose waits are recorded instead of slept. */
  function retrying(storage: BackupStorage) {
    const { sleeps, sleep } = noSleep();
    const retries: RetryInfo[] = [];
    const wrapped = withRetries(storage, { sleep, onRetry: (info) => retries.push(info) });
    return { wrapped, sleeps, retries };
  }

  it("a wrong key is unauthorized (gateway 401) and is not retried", async () => {
    freshFake();
    const { wrapped, sleeps } = retrying(new SupabaseStorage(client("wrong-key"), "backups"));
    expect((await storageErrorOf(wrapped.put("a.json", text("x"), "application/json"))).code).toBe(
      "unauthorized",
    );
    expect((await storageErrorOf(wrapped.get("a.json"))).code).toBe("unauthorized");
    expect((await storageErrorOf(wrapped.list(""))).code).toBe("unauthorized");
    expect((await storageErrorOf(wrapped.remove(["a.json"]))).code).toBe("unauthorized");
    expect(requests).toHaveLength(4);
    expect(sleeps).toEqual([]);
  });

  it("a JWT that Storage refuses (HTTP 400, statusCode 403) is unauthorized and not retried", async () => {
    freshFake();
    const bad = client(KEY, { global: { headers: { Authorization: "Bearer not-the-key" } } });
    const { wrapped } = retrying(new SupabaseStorage(bad, "backups"));
    const err = await storageErrorOf(wrapped.get("a.json"));
    expect(err.code).toBe("unauthorized");
    expect(err.message).toContain("invalid signature");
    expect(requests).toHaveLength(1);
  });

  it("a policy refusal (HTTP 400, statusCode 403) is unauthorized whatever its message", async () => {
    freshFake();
    server.use(
      http.post(`${OBJECT_URL}/backups/*`, () =>
        HttpResponse.json(
          { statusCode: "403", error: "Unauthorized", message: "new row violates row-level security policy" },
          { status: 400 },
        ),
      ),
    );
    const { wrapped } = retrying(new SupabaseStorage(client(), "backups"));
    expect((await storageErrorOf(wrapped.put("a.json", text("x"), "application/json"))).code).toBe(
      "unauthorized",
    );
    expect(requests).toHaveLength(1);
  });

  it("a missing object answered as HTTP 400 + statusCode 404 or as a plain 404 is not_found", async () => {
    freshFake();
    const storage = new SupabaseStorage(client(), "backups");
    const err = await storageErrorOf(storage.get("tenant-backups/none.json"));
    expect(err.code).toBe("not_found");
    expect(err.path).toBe("tenant-backups/none.json");

    server.use(
      http.get(`${OBJECT_URL}/backups/*`, () =>
        HttpResponse.json(
          { statusCode: "404", error: "not_found", message: "Object not found" },
          { status: 404 },
        ),
      ),
    );
    expect((await storageErrorOf(storage.get("tenant-backups/none.json"))).code).toBe("not_found");
  });

  it("a missing bucket is a configuration failure, not a missing object", async () => {
    freshFake({ buckets: ["other"] });
    const storage = new SupabaseStorage(client(), "backups");
    expect((await storageErrorOf(storage.get("a.json"))).code).toBe("failed");
    expect((await storageErrorOf(storage.put("a.json", text("x"), "application/json"))).code).toBe("failed");
  });

  it("an upload over the size limit is too_large and is not retried", async () => {
    freshFake({ fileSizeLimit: 1024 });
    const { wrapped } = retrying(new SupabaseStorage(client(), "backups"));
    const err = await storageErrorOf(
      wrapped.put("big.bin", new Uint8Array(2048), "application/octet-stream"),
    );
    expect(err.code).toBe("too_large");
    expect(count("POST", "/storage/v1/object/backups/")).toBe(1);

    // A proxy in front answering a bare 413 (an HTML body, nginx's wording) means the same.
    server.use(
      http.post(
        `${OBJECT_URL}/backups/*`,
        () =>
          new HttpResponse("<html>413 Request Entity Too Large</html>", {
            status: 413,
            statusText: "Request Entity Too Large",
          }),
      ),
    );
    expect((await storageErrorOf(wrapped.put("big.bin", new Uint8Array(10), "text/plain"))).code).toBe(
      "too_large",
    );
    expect(count("POST", "/storage/v1/object/backups/")).toBe(2);
  });

  it("a 503 twice then success: withRetries succeeds on the third attempt", async () => {
    const fake = freshFake();
    let calls = 0;
    server.use(
      http.post(`${OBJECT_URL}/backups/*`, () => {
        calls += 1;
        if (calls <= 2) {
          return HttpResponse.json(
            { statusCode: "503", error: "DatabaseReadOnly", message: "try again later" },
            { status: 503 },
          );
        }
      }),
    );
    const { wrapped, sleeps, retries } = retrying(new SupabaseStorage(client(), "backups"));
    await wrapped.put("flaky.json", text("{}"), "application/json");
    expect(calls).toBe(3);
    expect(fake.objects().has("flaky.json")).toBe(true);
    expect(sleeps).toHaveLength(2);
    expect(retries.map((r) => [r.op, r.path, r.attempt, (r.error as { code?: string }).code])).toEqual([
      ["put", "flaky.json", 1, "transient"],
      ["put", "flaky.json", 2, "transient"],
    ]);
  });

  it("aborts a request slower than SUPABASE_TIMEOUT_MS as transient, and the wrapper tries again", async () => {
    const fake = freshFake();
    seed(fake, ["slow.json"]);
    let slow = 1;
    server.use(
      http.get(`${OBJECT_URL}/backups/*`, async () => {
        // The first answer comes long after the timeout; then the fake answers (no answer here: the next
        // handler does).
        if (slow-- > 0) await delay(2_000);
        return undefined;
      }),
    );
    const timed = createSupabaseClient({ url: PROJECT_URL, serviceRoleKey: KEY, timeoutMs: 100 });
    const started = performance.now();
    const err = await storageErrorOf(new SupabaseStorage(timed, "backups").get("slow.json"));
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(err.code).toBe("transient");
    expect(err.message).toMatch(/TimeoutError|aborted/i);

    slow = 1;
    const { wrapped, retries } = retrying(new SupabaseStorage(timed, "backups"));
    expect(new TextDecoder().decode(await wrapped.get("slow.json"))).toBe("slow.json");
    expect(retries.map((r) => [r.op, r.attempt, (r.error as { code?: string }).code])).toEqual([
      ["get", 1, "transient"],
    ]);
  });

  it("a 500 forever fails after 4 attempts with transient", async () => {
    freshFake();
    server.use(
      http.get(`${OBJECT_URL}/backups/*`, () =>
        HttpResponse.json(
          { statusCode: "500", error: "Internal", message: "Internal Server Error" },
          { status: 500 },
        ),
      ),
    );
    const { wrapped, sleeps } = retrying(new SupabaseStorage(client(), "backups"));
    const err = await storageErrorOf(wrapped.get("a.json"));
    expect(err.code).toBe("transient");
    expect(count("GET", "/storage/v1/object/backups/")).toBe(4);
    expect(sleeps).toHaveLength(3);
  });

  it.each([
    [
      "HTTP 400 with statusCode 503 (read-only database)",
      400,
      { statusCode: "503", error: "DatabaseReadOnly" },
    ],
    ["HTTP 429 (too many connections)", 429, { statusCode: "429", error: "too_many_connections" }],
    ["HTTP 544 (database timeout)", 544, { statusCode: "544", error: "DatabaseTimeout" }],
    ["HTTP 502 with an HTML body", 502, null],
  ])("%s is transient", async (_name, status, body) => {
    freshFake();
    server.use(
      http.post(`${OBJECT_URL}/list/backups`, () =>
        body
          ? HttpResponse.json({ ...body, message: "busy" }, { status })
          : new HttpResponse("<html>", { status }),
      ),
    );
    expect((await storageErrorOf(new SupabaseStorage(client(), "backups").list(""))).code).toBe("transient");
  });

  it("any other refusal is failed and not retried", async () => {
    freshFake();
    server.use(
      http.delete(`${OBJECT_URL}/backups`, () =>
        HttpResponse.json(
          { statusCode: "400", error: "InvalidKey", message: "Invalid key: x" },
          { status: 400 },
        ),
      ),
    );
    const { wrapped } = retrying(new SupabaseStorage(client(), "backups"));
    expect((await storageErrorOf(wrapped.remove(["x.json"]))).code).toBe("failed");
    expect(requests).toHaveLength(1);
  });

  it("a network error is transient, and retried until attempts run out", async () => {
    freshFake();
    server.use(http.get(`${OBJECT_URL}/backups/*`, () => HttpResponse.error()));
    const storage = new SupabaseStorage(client(), "backups");
    expect((await storageErrorOf(storage.get("a.json"))).code).toBe("transient");

    requests = [];
    const { wrapped } = retrying(storage);
    expect((await storageErrorOf(wrapped.get("a.json"))).code).toBe("transient");
    expect(requests).toHaveLength(4);
  });

  it("a connection dropped in the middle of a download is transient", async () => {
    freshFake();
    server.use(
      http.get(`${OBJECT_URL}/backups/*`, () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new Uint8Array(1024));
            // What undici reports when the socket closes before the body is complete.
            controller.error(new TypeError("terminated"));
          },
        });
        return new HttpResponse(body, { status: 200, headers: { "content-length": "4096" } });
      }),
    );
    expect((await storageErrorOf(new SupabaseStorage(client(), "backups").get("a.json"))).code).toBe(
      "transient",
    );
  });

  it("an aborted or timed-out fetch is transient", async () => {
    for (const name of ["AbortError", "TimeoutError"]) {
      const aborting = client(KEY, {
        global: {
          fetch: async () => {
            throw new DOMException("The operation was aborted.", name);
          },
        },
      });
      const storage = new SupabaseStorage(aborting, "backups");
      expect((await storageErrorOf(storage.get("a.json"))).code, name).toBe("transient");
      expect((await storageErrorOf(storage.put("a.json", text("x"), "text/plain"))).code, name).toBe(
        "transient",
      );
      expect((await storageErrorOf(storage.list(""))).code, name).toBe("transient");
    }
  });
});
