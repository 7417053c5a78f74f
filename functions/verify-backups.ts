/**
 * The verification drill (lib/verify/drill.ts), cron secret only:
 *
 * - POST /.netlify/functions/verify-backups `{}`: drills the tenants whose newest backup was verified
 *   longest ago, within BACKUP_TIME_BUDGET_MS. 200 when every drill it picked passed; 202 when some were
 *   busy or cut by the time budget (the next call takes them first); 500 when a drill failed (alerted as
 *   verify.failed). Call it once a day: every tenant is drilled within six days.
 * - POST /.netlify/functions/verify-backups-background: the same with a 13-minute budget, which the
 *   scheduled function scheduled-verify-backups starts once a day on Netlify; its outcome is in the
 *   function log and in the database.
 */
import { z } from "zod";
import type { Services } from "../lib/services.ts";
import { runDrills } from "../lib/verify/drill.ts";
import { type TriggerOptions, triggerBackground } from "./background-trigger.ts";
import { BACKGROUND_TIME_BUDGET_MS } from "./daily-background.ts";
import { endpoint } from "./endpoint.ts";
import { json } from "./http.ts";

export const VERIFY_BACKGROUND_FUNCTION = "verify-backups-background";

export const handleVerifyBackups = endpoint({
  name: "verify-backups",
  methods: ["POST"],
  from: "body",
  input: z.object({}).strict(),
  access: "cron",
  async run({ services, deadline }) {
    const { status, body } = await verifyRun(services, deadline);
    return json(status, body);
  },
});

export const handleVerifyBackgroundRun = endpoint({
  name: VERIFY_BACKGROUND_FUNCTION,
  methods: ["POST"],
  from: "body",
  input: z.object({}).strict(),
  access: "cron",
  timeBudgetMs: BACKGROUND_TIME_BUDGET_MS,
  background: "verification drill",
  async run({ services, deadline }) {
    const { status, body } = await verifyRun(services, deadline);
    services.log[status >= 500 ? "error" : "info"](
      { status, drills: body.summary, failed: body.drills.filter((d) => d.status === "failed") },
      `verification drill: ${body.message}`,
    );
    return json(status, body);
  },
});

/** Starts verify-backups-background: what the scheduled function does. */
export function triggerVerifyBackground(options: TriggerOptions = {}): Promise<Response> {
  return triggerBackground(
    {
      function: VERIFY_BACKGROUND_FUNCTION,
      scheduled: "scheduled-verify-backups",
      what: "verification drill",
    },
    options,
  );
}

async function verifyRun(services: Services, deadline: number) {
  const { drills, ...summary } = await runDrills(services, { deadline });
  const picked = drills.length;
  const status = summary.failed > 0 ? 500 : summary.remaining > 0 ? 202 : 200;
  const message =
    summary.failed > 0
      ? `${summary.failed} of ${picked} drills failed: those backups may not restore`
      : summary.remaining > 0
        ? `${summary.passed} of ${picked} drills passed; ${summary.remaining} continue on the next call`
        : picked === 0
          ? "no tenant has a backup to drill"
          : `${summary.passed} drills passed`;
  return { status, body: { success: summary.failed === 0, message, summary, drills } };
}
