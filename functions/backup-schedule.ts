/**
 * /.netlify/functions/backup-schedule — a tenant's backup schedule.
 *   GET ?organization_id=…  → { success, schedule }
 *   PUT { organization_id, frequency, time_of_day, day_of_week, enabled } → { success, schedule }
 * schedule: { organization_id, frequency, time_of_day, day_of_week, enabled, next_run_at, last_run_at,
 * is_default }. frequency is every_2_days, daily, weekly or off; time_of_day is "HH:MM" in UTC; day_of_week
 * (0 Sunday … 6 Saturday) is required for weekly and null otherwise; enabled defaults to true. The cron call
 * (daily-tenant-backup) backs the tenant up at the start of each slot (lib/schedule/slots.ts).
 * Cron secret, a super admin, or an admin of that organization.
 */
import { z } from "zod";
import type { BackupScheduleAnswer } from "../lib/api-answers.ts";
import { fail } from "../lib/errors.ts";
import { FREQUENCIES, TIME_OF_DAY_PATTERN } from "../lib/schedule/slots.ts";
import { readSchedule, setSchedule } from "../lib/schedule/tenant-schedule.ts";
import type { Services } from "../lib/services.ts";
import { endpoint, endpointByMethod } from "./endpoint.ts";
import { json } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const NAME = "backup-schedule";

const scheduleBody = z
  .object({
    organization_id: organizationId,
    frequency: z.enum(FREQUENCIES, { error: `must be one of ${FREQUENCIES.join(", ")}` }),
    time_of_day: z
      .string({ error: "is required: HH:MM, UTC" })
      .regex(TIME_OF_DAY_PATTERN, "must be HH:MM on a 24-hour clock (00:00 to 23:59), UTC"),
    day_of_week: z
      .number({ error: "must be a whole number from 0 (Sunday) to 6 (Saturday), or null" })
      .int("must be a whole number from 0 (Sunday) to 6 (Saturday)")
      .min(0, "must be from 0 (Sunday) to 6 (Saturday)")
      .max(6, "must be from 0 (Sunday) to 6 (Saturday)")
      .nullable()
      .default(null),
    enabled: z.boolean({ error: "must be true or false" }).default(true),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.frequency === "weekly" && body.day_of_week === null) {
      ctx.addIssue({ code: "custom", path: ["day_of_week"], message: "is required for a weekly schedule" });
    }
    if (body.frequency !== "weekly" && body.day_of_week !== null) {
      ctx.addIssue({
        code: "custom",
        path: ["day_of_week"],
        message: `must be null unless frequency is weekly (it is ${body.frequency})`,
      });
    }
  });

async function requireTenant(services: Services, id: string): Promise<void> {
  if (!(await services.db.getTenant(id))) {
    throw fail("not_found", `no organization ${id}`, { field: "organization_id" });
  }
}

const read = endpoint({
  name: NAME,
  methods: ["GET"],
  from: "query",
  input: z.object({ organization_id: organizationId }).strict(),
  access: "organization",
  async run({ input, services }) {
    await requireTenant(services, input.organization_id);
    const schedule = await readSchedule(services, input.organization_id);
    return json(200, { success: true, schedule } satisfies BackupScheduleAnswer);
  },
});

const write = endpoint({
  name: NAME,
  methods: ["PUT"],
  from: "body",
  input: scheduleBody,
  access: "organization",
  async run({ input, services }) {
    const { organization_id, ...schedule } = input;
    await requireTenant(services, organization_id);
    const saved = await setSchedule(services, organization_id, schedule);
    services.log.info({ tenant: organization_id, schedule }, "backup schedule set");
    return json(200, { success: true, schedule: saved } satisfies BackupScheduleAnswer);
  },
});

export const handleBackupSchedule = endpointByMethod(NAME, { GET: read, PUT: write });
