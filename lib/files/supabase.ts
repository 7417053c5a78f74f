/**
 * Tenant files in the app's Supabase Storage buckets, through the Storage API (supabase-js): list with
 * metadata, download, upload with content type and cache control (upsert), and remove, which is the only
 * way to delete (Supabase refuses direct deletes from storage.objects).
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import { SupabaseStorage } from "../storage/supabase.ts";
import { DEFAULT_CONTENT_TYPE, type FileBucketStore, type TenantFileStores } from "./port.ts";

export function supabaseFileStores(client: SupabaseClient): TenantFileStores {
  return {
    kind: "supabase",
    bucket(name: string): FileBucketStore {
      const storage = new SupabaseStorage(client, name);
      return {
        list: async (prefix) =>
          (await storage.listWithMetadata(prefix)).map((o) => ({
            path: o.path,
            size: o.size,
            contentType: o.contentType ?? DEFAULT_CONTENT_TYPE,
            cacheControl: o.cacheControl,
            version: o.version,
          })),
        get: (path) => storage.get(path),
        put: (path, data, metadata) => storage.putWithMetadata(path, data, metadata),
        remove: (paths) => storage.remove(paths),
      };
    },
  };
}
