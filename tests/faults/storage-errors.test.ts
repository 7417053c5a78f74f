/**
 * Storage that cannot be written answers with its cause class, not 500 "internal error": a folder that
 * cannot be created (a file stands where it must go) is 503 storage_unavailable, a full disk is 507
 * storage_full; neither leaks a path or an errno to the caller.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleBackupTenantData } from "../../functions/backup-tenant-data.ts";
import { storageCodeOfErrno } from "../../lib/storage/local.ts";
import { type BackupStorage, StorageError } from "../../lib/storage/port.ts";
import { installSmallApp, ORG_A, ORG_B, ORG_C } from "../operations/small-app.ts";
import { call } from "../support/call.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createTestServices, TEST_CRON_SECRET, type TestServices } from "../support/services.ts";

let db: TestDatabase;
let services: TestServices;

beforeAll(async () => {
  db = await createTestDatabase("migrated");
  await installSmallApp(db.owner);
  services = await createTestServices(db.url);
});

afterAll(async () => {
  await services?.cleanup();
  await db?.drop();
});

const backup = (s: TestServices, org: string) =>
  call(handleBackupTenantData, s, "backup-tenant-data", {
    token: TEST_CRON_SECRET,
    body: { organization_id: org },
  });

/** The test's services with some of the storage's requests replaced. */
const withStorage = (requests: Partial<BackupStorage>): TestServices => ({
  ...services,
  storage: { ...services.storage, ...requests },
});

describe("storage that cannot be written", () => {
  it("a manual backup into a folder that cannot be created answers 503 storage_unavailable", async () => {
    // The tenant's folder is a file: mkdir fails (ENOTDIR/EEXIST) whoever runs the test, root included.
    await mkdir(join(services.backupDir, "tenant-backups"), { recursive: true });
    await writeFile(join(services.backupDir, "tenant-backups", ORG_A), "not a folder");
    const answer = await backup(services, ORG_A);
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe("storage_unavailable");
    expect(JSON.stringify(answer.body)).not.toContain(services.backupDir);
    expect(JSON.stringify(answer.body)).not.toMatch(/ENOTDIR|EEXIST/);
  });

  it("a manual backup on a full disk answers 507 storage_full", async () => {
    // The error the local backend raises for ENOSPC, injected at the storage port.
    const full = withStorage({
      async put(path) {
        throw new StorageError(storageCodeOfErrno("ENOSPC"), `local storage put "${path}": ENOSPC`, path);
      },
    });
    const answer = await backup(full, ORG_B);
    expect(answer.status).toBe(507);
    expect(answer.body.error.code).toBe("storage_full");
    expect(JSON.stringify(answer.body)).not.toMatch(/ENOSPC|tenant-backups/);
  });

  it("a manual backup whose chunk folder cannot be listed answers 503 and completes nothing", async () => {
    // Listed while the first tables are read (lib/chunks/store.ts): the failure still ends the backup.
    const unlisted = withStorage({
      async list(prefix) {
        if (prefix.endsWith("/chunks/")) throw new StorageError("transient", "storage list: 503", prefix);
        return services.storage.list(prefix);
      },
    });
    const org = ORG_C;
    const answer = await backup(unlisted, org);
    expect(answer.status).toBe(503);
    const runs = await db.owner.query(
      "select status from public.tenant_backup_runs where organization_id = $1",
      [org],
    );
    expect(runs.rows).toEqual([{ status: "failed" }]);
    expect(await services.storage.list(`tenant-backups/${org}/`)).toEqual([]);
  });

  it("classifies file-system errors in one place", () => {
    expect(storageCodeOfErrno("ENOSPC")).toBe("full");
    expect(storageCodeOfErrno("EDQUOT")).toBe("full");
    for (const errno of ["EROFS", "EACCES", "EPERM", "ENOTDIR", "EEXIST"]) {
      expect(storageCodeOfErrno(errno)).toBe("unavailable");
    }
    expect(storageCodeOfErrno("EMFILE")).toBe("transient");
    expect(storageCodeOfErrno("EIO")).toBe("failed");
  });
});
