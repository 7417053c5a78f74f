/**
 * An in-memory Supabase Storage for msw: the REST endpoints SupabaseStorage uses, answering the way the
 * real service does (supabase/storage `src/http/routes/object/*`, its error handler and the
 * `storage.search` SQL), so that supabase-js runs unmodified against it:
 *
 * - POST   /storage/v1/object/{bucket}/{key}              upload; x-upsert decides replace vs 409 Duplicate
 * - GET    /storage/v1/object/{bucket}/{key}              download (also /object/authenticated/...)
 * - POST   /storage/v1/object/list/{bucket}               one folder level: {prefix, limit, offset, sortBy}
 * - DELETE /storage/v1/object/{bucket}                    {prefixes: [...]}, at most 1000
 * - POST   /storage/v1/object/sign/{bucket}/{key}         {expiresIn} → {signedURL}
 * - GET    /storage/v1/object/sign/{bucket}/{key}?token=  the signed download
 * - POST   /storage/v1/object/upload/sign/{bucket}/{key}  → {url: "/object/upload/sign/…?token="}
 * - PUT    /storage/v1/object/upload/sign/{bucket}/{key}?token=  the signed upload (the body is the file)
 *
 * Auth is checked like on the platform: the API gateway refuses a wrong `apikey` with a real 401
 * `{message: "Invalid API key"}`; Storage itself refuses a wrong `Authorization: Bearer` JWT. Storage
 * errors use its JSON shape `{statusCode: "<status>", code, error, message}` and, like the real error
 * handler, HTTP 400 for everything that is not a 500 (the real status is only in the body).
 */
import { createHash, randomUUID } from "node:crypto";
import { HttpResponse, http } from "msw";

export interface FakeObject {
  data: Uint8Array;
  contentType: string;
  cacheControl: string | null;
  id: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeStorageOptions {
  url: string;
  /** The key that both `apikey` and `Authorization: Bearer` must carry. */
  key: string;
  buckets?: string[];
  /** Bucket file size limit in bytes; larger uploads answer EntityTooLarge. */
  fileSizeLimit?: number;
}

const MAX_DELETE = 1000;

export function createFakeSupabaseStorage(options: FakeStorageOptions) {
  const base = `${options.url}/storage/v1`;
  const buckets = new Map<string, Map<string, FakeObject>>(
    (options.buckets ?? ["backups"]).map((name) => [name, new Map<string, FakeObject>()]),
  );

  function storageError(status: number, code: string, error: string, message: string) {
    return HttpResponse.json(
      { statusCode: String(status), code, error, message },
      { status: status === 500 ? 500 : 400 },
    );
  }

  /** Returns an error response when the request's credentials are not the project's key. */
  function refuse(request: Request): Response | undefined {
    if (request.headers.get("apikey") !== options.key) {
      return HttpResponse.json(
        { message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." },
        { status: 401 },
      );
    }
    const auth = request.headers.get("authorization") ?? "";
    if (!/^Bearer\s+/i.test(auth)) {
      return storageError(
        400,
        "InvalidRequest",
        "Bad Request",
        "headers must have required property 'authorization'",
      );
    }
    if (auth.replace(/^Bearer\s+/i, "") !== options.key) {
      return storageError(403, "AccessDenied", "Unauthorized", "invalid signature");
    }
    return undefined;
  }

  function bucketOf(name: string): Map<string, FakeObject> | Response {
    return buckets.get(name) ?? storageError(404, "NoSuchBucket", "Bucket not found", "Bucket not found");
  }

  /** The object key from the URL: everything after /{bucket}/, percent-decoded like fastify does. */
  function keyFrom(request: Request, after: string): string {
    const pathname = new URL(request.url).pathname;
    return pathname.slice(after.length).split("/").map(decodeURIComponent).join("/");
  }

  function notFound() {
    return storageError(404, "NoSuchKey", "not_found", "Object not found");
  }

  function fileObject(name: string, object: FakeObject) {
    return {
      name,
      id: object.id,
      updated_at: object.updatedAt,
      created_at: object.createdAt,
      last_accessed_at: object.updatedAt,
      metadata: {
        eTag: etagOf(object),
        size: object.data.byteLength,
        mimetype: object.contentType,
        cacheControl: object.cacheControl ?? "no-cache",
        lastModified: object.updatedAt,
        contentLength: object.data.byteLength,
        httpStatusCode: 200,
      },
    };
  }

  function download(object: FakeObject) {
    return new HttpResponse(object.data.slice(), {
      status: 200,
      headers: {
        "content-type": object.contentType,
        "content-length": String(object.data.byteLength),
        etag: etagOf(object),
      },
    });
  }

  /**
   * storage.search (v1): the prefix is a folder (a '/' is appended), matched with
   * `lower(name) LIKE lower(prefix || search) || '%'`; folders (id null) first, then files, each sorted
   * by name; limit/offset apply to that combined list.
   */
  function search(
    objects: Map<string, FakeObject>,
    prefix: string,
    searchText: string,
    limit: number,
    offset: number,
  ) {
    const folderPrefix = prefix.length > 0 && !prefix.endsWith("/") ? `${prefix}/` : prefix;
    const level = folderPrefix === "" ? 1 : folderPrefix.split("/").length;
    const pattern = likePattern(`${folderPrefix}${searchText}`);
    const folders = new Set<string>();
    const files: [string, FakeObject][] = [];
    for (const [name, object] of objects) {
      if (!pattern.test(name)) continue;
      const tokens = name.split("/");
      const token = tokens[level - 1];
      if (token === undefined) continue;
      if (tokens.length > level) folders.add(token);
      else if (tokens.length === level) files.push([token, object]);
    }
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const rows = [
      ...[...folders].sort(byName).map((name) => ({
        name,
        id: null,
        updated_at: null,
        created_at: null,
        last_accessed_at: null,
        metadata: null,
      })),
      ...files.sort((a, b) => byName(a[0], b[0])).map(([name, object]) => fileObject(name, object)),
    ];
    return rows.slice(offset, offset + limit);
  }

  const handlers = [
    http.post(`${base}/object/list/:bucket`, async ({ request, params }) => {
      const refused = refuse(request);
      if (refused) return refused;
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const body = (await request.json()) as Record<string, unknown>;
      if (typeof body.prefix !== "string") {
        return storageError(
          400,
          "InvalidRequest",
          "Bad Request",
          "body must have required property 'prefix'",
        );
      }
      const limit = body.limit ?? 100;
      const offset = body.offset ?? 0;
      if (
        !Number.isInteger(limit) ||
        (limit as number) < 1 ||
        !Number.isInteger(offset) ||
        (offset as number) < 0
      ) {
        return storageError(400, "InvalidRequest", "Bad Request", "body/limit or body/offset is invalid");
      }
      const searchText = typeof body.search === "string" ? body.search : "";
      return HttpResponse.json(search(objects, body.prefix, searchText, limit as number, offset as number));
    }),

    http.post(`${base}/object/upload/sign/:bucket/*`, ({ request, params }) => {
      const refused = refuse(request);
      if (refused) return refused;
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const key = keyFrom(request, `/storage/v1/object/upload/sign/${params.bucket}/`);
      if (objects.has(key) && request.headers.get("x-upsert") !== "true") {
        return storageError(409, "ResourceAlreadyExists", "Duplicate", "The resource already exists");
      }
      // Valid for two hours, as the platform's signed upload URLs are.
      const token = Buffer.from(
        JSON.stringify({ url: `${params.bucket}/${key}`, exp: Math.floor(Date.now() / 1000) + 7200 }),
      ).toString("base64url");
      return HttpResponse.json({ url: `/object/upload/sign/${params.bucket}/${key}?token=${token}` });
    }),

    http.put(`${base}/object/upload/sign/:bucket/*`, async ({ request, params }) => {
      // The token is the credential: no apikey needed, as for a browser holding the URL.
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const key = keyFrom(request, `/storage/v1/object/upload/sign/${params.bucket}/`);
      const token = new URL(request.url).searchParams.get("token") ?? "";
      let claims: { url?: string; exp?: number } = {};
      try {
        claims = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      } catch {
        // An unreadable token is refused below like a wrong one.
      }
      if (claims.url !== `${params.bucket}/${key}` || (claims.exp ?? 0) < Date.now() / 1000) {
        return storageError(400, "InvalidSignature", "InvalidSignature", "invalid signature");
      }
      const data = new Uint8Array(await request.arrayBuffer());
      if (options.fileSizeLimit !== undefined && data.byteLength > options.fileSizeLimit) {
        return storageError(
          413,
          "EntityTooLarge",
          "Payload too large",
          "The object exceeded the maximum allowed size",
        );
      }
      const now = new Date().toISOString();
      const object: FakeObject = {
        data,
        contentType: request.headers.get("content-type") ?? "application/octet-stream",
        cacheControl: request.headers.get("cache-control"),
        id: randomUUID(),
        createdAt: now,
        updatedAt: now,
      };
      objects.set(key, object);
      return HttpResponse.json({ Key: `${params.bucket}/${key}` });
    }),

    http.post(`${base}/object/sign/:bucket/*`, async ({ request, params }) => {
      const refused = refuse(request);
      if (refused) return refused;
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const key = keyFrom(request, `/storage/v1/object/sign/${params.bucket}/`);
      const body = (await request.json()) as Record<string, unknown>;
      if (!Number.isInteger(body.expiresIn) || (body.expiresIn as number) < 1) {
        return storageError(400, "InvalidRequest", "Bad Request", "body/expiresIn must be >= 1");
      }
      if (!objects.has(key)) return notFound();
      const token = Buffer.from(
        JSON.stringify({
          url: `${params.bucket}/${key}`,
          exp: Math.floor(Date.now() / 1000) + (body.expiresIn as number),
        }),
      ).toString("base64url");
      return HttpResponse.json({ signedURL: `/object/sign/${params.bucket}/${key}?token=${token}` });
    }),

    http.get(`${base}/object/sign/:bucket/*`, ({ request, params }) => {
      // Signed downloads need no credentials: the token is the credential.
      const key = keyFrom(request, `/storage/v1/object/sign/${params.bucket}/`);
      const token = new URL(request.url).searchParams.get("token") ?? "";
      let claims: { url?: string; exp?: number } = {};
      try {
        claims = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      } catch {
        // An unreadable token is refused below like a wrong one.
      }
      if (claims.url !== `${params.bucket}/${key}` || (claims.exp ?? 0) < Date.now() / 1000) {
        return storageError(400, "InvalidSignature", "InvalidSignature", "invalid signature");
      }
      const object = buckets.get(String(params.bucket))?.get(key);
      return object ? download(object) : notFound();
    }),

    ...["authenticated/:bucket", ":bucket"].map((route) =>
      http.get(`${base}/object/${route}/*`, ({ request, params }) => {
        const refused = refuse(request);
        if (refused) return refused;
        const objects = bucketOf(String(params.bucket));
        if (objects instanceof Response) return objects;
        const prefix = route === ":bucket" ? "" : "authenticated/";
        const object = objects.get(keyFrom(request, `/storage/v1/object/${prefix}${params.bucket}/`));
        return object ? download(object) : notFound();
      }),
    ),

    http.post(`${base}/object/:bucket/*`, async ({ request, params }) => {
      const refused = refuse(request);
      if (refused) return refused;
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const key = keyFrom(request, `/storage/v1/object/${params.bucket}/`);
      const data = new Uint8Array(await request.arrayBuffer());
      if (options.fileSizeLimit !== undefined && data.byteLength > options.fileSizeLimit) {
        return storageError(
          413,
          "EntityTooLarge",
          "Payload too large",
          "The object exceeded the maximum allowed size",
        );
      }
      const existing = objects.get(key);
      if (existing && request.headers.get("x-upsert") !== "true") {
        return storageError(409, "ResourceAlreadyExists", "Duplicate", "The resource already exists");
      }
      const now = new Date().toISOString();
      const object: FakeObject = {
        data,
        contentType: request.headers.get("content-type") ?? "application/octet-stream",
        cacheControl: request.headers.get("cache-control"),
        id: existing?.id ?? randomUUID(),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      objects.set(key, object);
      return HttpResponse.json({ Id: object.id, Key: `${params.bucket}/${key}` });
    }),

    http.delete(`${base}/object/:bucket`, async ({ request, params }) => {
      const refused = refuse(request);
      if (refused) return refused;
      const objects = bucketOf(String(params.bucket));
      if (objects instanceof Response) return objects;
      const body = (await request.json()) as { prefixes?: unknown };
      const prefixes = body.prefixes;
      if (!Array.isArray(prefixes) || prefixes.length < 1 || prefixes.some((p) => typeof p !== "string")) {
        return storageError(
          400,
          "InvalidRequest",
          "Bad Request",
          "body/prefixes must NOT have fewer than 1 items",
        );
      }
      if (prefixes.length > MAX_DELETE) {
        return storageError(
          400,
          "InvalidRequest",
          "Bad Request",
          `body/prefixes must NOT have more than ${MAX_DELETE} items`,
        );
      }
      const deleted = [];
      for (const key of prefixes as string[]) {
        const object = objects.get(key);
        if (!object) continue;
        objects.delete(key);
        deleted.push({ ...fileObject(key, object), bucket_id: params.bucket });
      }
      return HttpResponse.json(deleted);
    }),
  ];

  return {
    handlers,
    /** bucket → key → object, for assertions and for seeding. */
    buckets,
    objects(bucket = "backups"): Map<string, FakeObject> {
      const objects = buckets.get(bucket);
      if (!objects) throw new Error(`no bucket ${bucket} in the fake`);
      return objects;
    },
  };
}

/** As S3 (Storage's backend) answers for an object uploaded in one part: the MD5 of its bytes, quoted. */
function etagOf(object: FakeObject): string {
  return `"${createHash("md5").update(object.data).digest("hex")}"`;
}

/** SQL LIKE (case-insensitive, as `lower(a) LIKE lower(b)`) as an anchored prefix regex: '%' any run, '_' one. */
function likePattern(prefix: string): RegExp {
  let source = "";
  for (const ch of prefix) {
    if (ch === "%") source += ".*";
    else if (ch === "_") source += ".";
    else source += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}`, "is");
}
