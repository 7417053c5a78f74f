/**
 * Tenant files in a local folder standing in for the app's Storage (TENANT_FILES_DIR), for `npm start`
 * and tests: root/<bucket>/<key> holds the object, and root/.metadata/<bucket>/<key>.json its content type
 * and cache control, which a disk does not keep. An object without that file lists as
 * application/octet-stream with no cache control. A listing tells no version: every backup reads each file.
 */
import path from "node:path";
import { LocalStorage } from "../storage/local.ts";
import { StorageError } from "../storage/port.ts";
import {
  DEFAULT_CONTENT_TYPE,
  type FileBucketStore,
  type FileMetadata,
  type TenantFileStores,
} from "./port.ts";

export function localFileStores(root: string): TenantFileStores {
  return {
    kind: "local",
    bucket(name: string): FileBucketStore {
      const objects = new LocalStorage(path.join(root, name));
      const metadata = new LocalStorage(path.join(root, ".metadata", name));
      const metaKey = (key: string) => `${key}.json`;
      const readMeta = async (key: string): Promise<FileMetadata> => {
        try {
          const saved = JSON.parse(Buffer.from(await metadata.get(metaKey(key))).toString("utf8"));
          return { contentType: saved.contentType, cacheControl: saved.cacheControl ?? null };
        } catch (err) {
          if (err instanceof StorageError && err.code === "not_found") {
            return { contentType: DEFAULT_CONTENT_TYPE, cacheControl: null };
          }
          throw err;
        }
      };
      return {
        list: async (prefix) =>
          Promise.all(
            (await objects.list(prefix)).map(async (o) => ({
              ...o,
              ...(await readMeta(o.path)),
              version: null,
            })),
          ),
        get: (key) => objects.get(key),
        async put(key, data, meta) {
          await metadata.put(metaKey(key), Buffer.from(JSON.stringify(meta)), "application/json");
          await objects.put(key, data, meta.contentType);
        },
        async remove(keys) {
          await objects.remove(keys);
          await metadata.remove(keys.map(metaKey));
        },
      };
    },
  };
}
