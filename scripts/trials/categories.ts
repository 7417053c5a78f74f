/**
 * The five fault categories. Each trial builds its own database, makes its fault happen for real (a
 * SIGKILLed process, backends terminated by the server, a writer on its own connection) at a random moment,
 * and returns what broke the category's invariant: an empty list when it held.
 */
import pg from "pg";
import { isAppError } from "../../lib/errors.ts";
import { backupRows, backupToEnd, checkSummaries, manifestOf, restoreToEnd } from "./checks.ts";
import { durationOf, sleep, startChild } from "./process.ts";
import {
  eraseTenant,
  leaseFreed,
  leftovers,
  productBackendsGone,
  sameSnapshot,
  TENANT,
  type TrialDatabase,
  tenantSnapshot,
  type World,
} from "./world.ts";

export interface Category {
  name: string;
  /** Measures what the trials need (how long an uncut operation takes). */
  prepare(world: World): Promise<void>;
  trial(world: World): Promise<string[]>;
}

/** Changes to the tenant that a restore of an earlier backup must undo. */
async function editTenant(db: TrialDatabase): Promise<void> {
  await db.admin.query(
    "update customers set notes = coalesce(notes, '') || ' edited' where organization_id = $1",
    [TENANT],
  );
  await db.admin.query("delete from bottle_scans where organization_id = $1 and random() < 0.5", [TENANT]);
}

/** A database whose tenant has a completed backup and has changed since: ready for a restore. */
async function restorable(world: World) {
  const db = await world.trialDatabase();
  const services = db.services();
  const backup = await backupToEnd(services);
  const atBackup = await tenantSnapshot(db);
  await editTenant(db);
  const before = await tenantSnapshot(db);
  return { db, services, backup, atBackup, before };
}

const windows = { backup: 0, restore: 0 };

async function measureWindows(world: World): Promise<void> {
  if (windows.backup && windows.restore) return;
  const first = await world.trialDatabase();
  try {
    windows.backup = await durationOf(first, { TRIAL_OP: "backup" });
  } finally {
    await first.drop();
  }
  const { db, backup } = await restorable(world);
  try {
    windows.restore = await durationOf(db, {
      TRIAL_OP: "restore",
      TRIAL_DATE: backup.date,
      TRIAL_BACKUP_ID: backup.backupId,
    });
  } finally {
    await db.drop();
  }
}

/** The tenant's backup `backupId` restored into a database that lost the tenant equals `expected`. */
async function restoresExactly(
  db: TrialDatabase,
  date: string,
  backupId: string,
  expected: Record<string, string>,
) {
  const fresh = await db.sibling();
  try {
    await eraseTenant(fresh);
    await restoreToEnd(fresh.services(), date, backupId);
    const differ = sameSnapshot(expected, await tenantSnapshot(fresh));
    return differ.length ? [`restored into a new database, differs in ${differ.join(", ")}`] : [];
  } catch (err) {
    return [`restore into a new database: ${(err as Error).message}`];
  } finally {
    await fresh.drop();
  }
}

export const killDuringBackup: Category = {
  name: "kill during backup",
  prepare: measureWindows,
  async trial(world) {
    const db = await world.trialDatabase();
    try {
      const expected = await tenantSnapshot(db);
      const child = startChild(db, { TRIAL_OP: "backup" });
      await child.started;
      await sleep(Math.random() * windows.backup);
      child.process.kill("SIGKILL");
      await child.ended;
      const services = db.services();
      if (!(await leaseFreed(services))) return ["the killed backup's lease was still held 5 s later"];
      const done = await backupToEnd(services);
      const problems: string[] = [];
      const { manifests, problems: bad } = await checkSummaries(services);
      problems.push(...bad);
      const logs = await db.admin.query(
        "select backup_id, status from backup_logs where organization_id = $1",
        [TENANT],
      );
      for (const m of manifests) {
        const log = logs.rows.find((r) => r.backup_id === m.backup_id);
        if (log?.status !== "completed")
          problems.push(`summary of ${m.backup_id} whose log is ${log?.status ?? "absent"}`);
      }
      problems.push(...(await leftovers(db)));
      problems.push(...(await restoresExactly(db, done.date, done.backupId, expected)));
      return problems;
    } finally {
      await db.drop();
    }
  },
};

export const killDuringRestore: Category = {
  name: "kill during restore",
  prepare: measureWindows,
  async trial(world) {
    const { db, services, backup, atBackup, before } = await restorable(world);
    try {
      const child = startChild(db, {
        TRIAL_OP: "restore",
        TRIAL_DATE: backup.date,
        TRIAL_BACKUP_ID: backup.backupId,
      });
      await child.started;
      await sleep(Math.random() * windows.restore);
      child.process.kill("SIGKILL");
      await child.ended;
      if (!(await productBackendsGone(db))) return ["the killed restore's statement still ran 30 s later"];
      const now = await tenantSnapshot(db);
      const fromBefore = sameSnapshot(before, now);
      const fromBackup = sameSnapshot(atBackup, now);
      const problems: string[] = [];
      if (fromBefore.length && fromBackup.length) {
        problems.push(
          `tenant is a mix: ${fromBefore.join(", ")} changed, ${fromBackup.join(", ")} not as backed up`,
        );
      }
      if (!(await leaseFreed(services))) {
        problems.push("the killed restore's lease was still held 5 s later; no next operation possible");
        return [...problems, ...(await leftovers(db))];
      }
      // The next operation: the restore asked again, run to its end.
      try {
        await restoreToEnd(services, backup.date, backup.backupId);
        const differ = sameSnapshot(atBackup, await tenantSnapshot(db));
        if (differ.length) problems.push(`the next restore left ${differ.join(", ")} unlike the backup`);
      } catch (err) {
        problems.push(`the next restore: ${(err as Error).message}`);
      }
      problems.push(...(await leftovers(db)));
      return problems;
    } finally {
      await db.drop();
    }
  },
};

/** Terminates every backend of the product (the owner role) on the trial's database, from a superuser. */
async function cutConnections(db: TrialDatabase): Promise<number> {
  const { rows } = await db.admin.query(
    `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
      where datname = $1 and usename = 'tb_owner' and pid <> pg_backend_pid()) t`,
    [db.name],
  );
  return rows[0].n;
}

function connectionLoss(op: "backup" | "restore"): Category {
  return {
    name: `connection loss (${op})`,
    prepare: measureWindows,
    async trial(world) {
      const setup = op === "backup" ? { db: await world.trialDatabase() } : await restorable(world);
      const { db } = setup;
      try {
        const env: Record<string, string> =
          "backup" in setup
            ? { TRIAL_OP: "restore", TRIAL_DATE: setup.backup.date, TRIAL_BACKUP_ID: setup.backup.backupId }
            : { TRIAL_OP: "backup" };
        const child = startChild(db, env);
        await child.started;
        await sleep(Math.random() * windows[op]);
        const cut = await cutConnections(db);
        const end = await child.ended;
        const problems: string[] = [];
        if (end.signal || end.code !== 0 || !end.alive) {
          const why = (
            end.stderr.split("\n").find((l) => /error/i.test(l)) ?? end.stderr.slice(0, 160)
          ).trim();
          problems.push(
            `process died (exit ${end.code ?? end.signal}) after ${cut} backends cut: ${why.slice(0, 160)}`,
          );
        } else if (!end.answer?.startsWith("OK ") && !end.answer?.startsWith("ERROR 503 ")) {
          problems.push(`answered "${end.answer?.slice(0, 160)}" instead of success or 503`);
        }
        const services = db.services();
        if (!(await leaseFreed(services))) return [...problems, "lease still held 5 s after the cut"];
        try {
          if ("backup" in setup) {
            await restoreToEnd(services, setup.backup.date, setup.backup.backupId);
            const differ = sameSnapshot(setup.atBackup, await tenantSnapshot(db));
            if (differ.length) problems.push(`the next restore left ${differ.join(", ")} unlike the backup`);
          } else {
            await backupToEnd(services);
            problems.push(...(await checkSummaries(services)).problems);
          }
        } catch (err) {
          problems.push(`the next ${op}: ${(err as Error).message}`);
        }
        problems.push(...(await leftovers(db)));
        return problems;
      } finally {
        await db.drop();
      }
    },
  };
}

export const connectionLossBackup = connectionLoss("backup");
export const connectionLossRestore = connectionLoss("restore");

/** An app's connection that keeps committing until stopped; what it committed is kept in `committed`. */
function writer(db: TrialDatabase, step: (client: pg.Client, i: number) => Promise<void>) {
  const client = new pg.Client({ connectionString: db.url });
  client.on("error", () => {});
  const state = { stop: false, refused: 0 };
  const done = (async () => {
    await client.connect();
    for (let i = 0; !state.stop; i++) {
      try {
        await step(client, i);
      } catch {
        state.refused++;
      }
      await sleep(3);
    }
    await client.end();
  })();
  return { state, done };
}

export const restoreUnderWrites: Category = {
  name: "restore under concurrent writes",
  prepare: measureWindows,
  async trial(world) {
    const { db, services, backup } = await restorable(world);
    try {
      const ids = (
        await db.admin.query("select id::text from customers where organization_id = $1 order by random()", [
          TENANT,
        ])
      ).rows.map((r) => r.id as string);
      const committed: { kind: string; id: string; name: string }[] = [];
      const app = writer(db, async (client, i) => {
        const name = `trial-write-${i}`;
        if (i % 2 === 0) {
          const { rows } = await client.query(
            "insert into customers (organization_id, name) values ($1, $2) returning id::text",
            [TENANT, name],
          );
          committed.push({ kind: "insert", id: rows[0].id, name });
        } else {
          const id = ids.pop();
          if (!id) return;
          const { rowCount } = await client.query("update customers set name = $2 where id = $1", [id, name]);
          if (rowCount === 1) committed.push({ kind: "update", id, name });
        }
      });
      await sleep(Math.random() * 300);
      const problems: string[] = [];
      let undoBackupId: string | null = null;
      try {
        undoBackupId = (await restoreToEnd(services, backup.date, backup.backupId)).undoBackupId;
      } catch (err) {
        // Refusing to start when writes in flight keep the tables from being locked is allowed (503):
        // then every committed write must simply be in the data.
        if (isAppError(err) && err.status === 503) console.error(`  restore refused: ${err.message}`);
        else problems.push(`restore: ${(err as Error).message}`);
      }
      await sleep(100);
      app.state.stop = true;
      await app.done;
      const final = new Map(
        (
          await db.admin.query("select id::text, name from customers where organization_id = $1", [TENANT])
        ).rows.map((r) => [r.id as string, r.name as string]),
      );
      const undo = new Map<string, string | null>();
      if (undoBackupId) {
        const rows = await backupRows(services, await manifestOf(services, undoBackupId), "customers");
        for (const r of rows) undo.set(r.id as string, r.name ?? null);
      }
      const lost = committed.filter((w) => final.get(w.id) !== w.name && undo.get(w.id) !== w.name);
      if (lost.length) {
        const first = lost[0] as (typeof lost)[number];
        problems.push(
          `${lost.length} of ${committed.length} committed writes in neither the data nor the undo point (first: ${first.kind} ${first.name})`,
        );
      }
      if (!committed.length) problems.push("the writer committed nothing: the trial proved nothing");
      return problems;
    } finally {
      await db.drop();
    }
  },
};

export const backupUnderWrites: Category = {
  name: "backup under concurrent writes",
  prepare: async () => {},
  async trial(world) {
    const db = await world.trialDatabase();
    try {
      // Storage that takes time, so that a small budget stops the backup after a few parts: many calls.
      const services = db.services({ BACKUP_MAX_FILE_BYTES: "8000", BACKUP_PAGE_ROWS: "100" });
      const inner = services.storage;
      services.storage = {
        ...inner,
        async put(path, data, type) {
          await inner.put(path, data, type);
          await sleep(5);
        },
      };
      const app = writer(db, async (client, i) => {
        const { rows } = await client.query(
          "insert into support_tickets (organization_id, subject) values ($1, $2) returning id",
          [TENANT, `trial ticket ${i}`],
        );
        await client.query(
          "insert into support_ticket_messages (ticket_id, body, sent_at) values ($1, 'hello', now())",
          [rows[0].id],
        );
        if (i % 3 === 0) {
          await client.query(
            "delete from support_tickets where id = (select id from support_tickets where organization_id = $1 order by random() limit 1)",
            [TENANT],
          );
        }
      });
      const problems: string[] = [];
      try {
        const done = await backupToEnd(services, 100 + Math.random() * 200);
        app.state.stop = true;
        await app.done;
        if (done.calls < 2) problems.push(`the backup took ${done.calls} call: not a backup across calls`);
        const tickets = new Set(
          (await backupRows(services, done.manifest, "support_tickets")).map((r) => r.id as string),
        );
        const orphans = (await backupRows(services, done.manifest, "support_ticket_messages")).filter(
          (m) => !tickets.has(m.ticket_id as string),
        );
        if (orphans.length)
          problems.push(
            `${orphans.length} messages in the backup without their ticket (${done.calls} calls)`,
          );
        const fresh = await db.sibling();
        try {
          await eraseTenant(fresh);
          await restoreToEnd(fresh.services(), done.date, done.backupId);
        } catch (err) {
          problems.push(`restore into a new database: ${(err as Error).message}`);
        } finally {
          await fresh.drop();
        }
      } finally {
        app.state.stop = true;
        await app.done;
      }
      return problems;
    } finally {
      await db.drop();
    }
  },
};

export const CATEGORIES: Category[] = [
  killDuringBackup,
  killDuringRestore,
  connectionLossBackup,
  connectionLossRestore,
  restoreUnderWrites,
  backupUnderWrites,
];
