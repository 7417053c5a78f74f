/**
 * Alerts as the engine raises them. A failure is told once per tenant until a backup succeeds (then a
 * "resolved"); so is each condition the watch raises (lib/alerts/watch.ts) until it clears. Each delivery is retried with backoff and recorded in tenant_backup_alert_deliveries, and
 * nothing here ever throws into a backup or restore or holds it up past DELIVERY_BUDGET_MS.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Config } from "../config.ts";
import type { SqlFunctionCaller } from "../db/port.ts";
import type { Logger } from "../logger.ts";
import { type RetryPolicy, retrier } from "../retry.ts";
import type { Clock } from "../time.ts";
import { type Channel, emailChannel, webhookChannel } from "./channels.ts";
import {
  type AlertBody,
  type AlertEventName,
  backupFailed,
  backupResolved,
  type RestoreDetails,
  restoreCompleted,
  restoreFailed,
  type Tenant,
} from "./events.ts";

/** The longest an alert may add to the call that raised it. */
const DELIVERY_BUDGET_MS = 15_000;

export interface Alerts {
  /** false when no channel is configured: callers may then skip the work of deciding what to tell. */
  readonly enabled: boolean;
  backupFailed(tenant: Tenant, details: { error: string; type: string }): Promise<void>;
  backupSucceeded(tenant: Tenant, details: { backup_id: string; type: string }): Promise<void>;
  restoreFinished(tenant: Tenant, details: RestoreDetails): Promise<void>;
  /** Opens the alert `body.event` for its tenant and tells it, unless it is open already. */
  raise(body: AlertBody): Promise<void>;
  /** Closes the alert `event` of the body's tenant and tells `body` (its resolution) when it was open. */
  resolve(event: AlertEventName, body: AlertBody): Promise<void>;
}

export const noAlerts: Alerts = {
  enabled: false,
  backupFailed: async () => {},
  backupSucceeded: async () => {},
  restoreFinished: async () => {},
  raise: async () => {},
  resolve: async () => {},
};

export interface AlertParts {
  db: SqlFunctionCaller;
  log: Logger;
  now: Clock;
  retry?: RetryPolicy;
  budgetMs?: number;
}

/** The configured channels, or no alerts at all (and no database work) when none is configured. */
export function createAlerts(config: Config["alerts"], parts: AlertParts): Alerts {
  const { webhooks, email } = config;
  const channels: Channel[] = [
    ...(webhooks ? webhooks.urls.map((url) => webhookChannel(url, webhooks.secret)) : []),
    ...(email ? [emailChannel(email)] : []),
  ];
  if (channels.length === 0) return noAlerts;
  const { db, log, now } = parts;
  const retry = retrier({ attempts: 3, baseDelayMs: 500, maxDelayMs: 4_000, ...parts.retry });
  const budgetMs = parts.budgetMs ?? DELIVERY_BUDGET_MS;

  async function deliver(body: AlertBody): Promise<void> {
    await Promise.all(
      channels.map(async (channel) => {
        let attempts = 0;
        let lastError: string | null = null;
        try {
          await retry(
            () => {
              attempts++;
              return channel.send(body);
            },
            () => true,
            (_attempt, err) => {
              lastError = errorText(err);
            },
          );
          await record(body, channel.name, "sent", attempts, lastError);
        } catch (err) {
          lastError = errorText(err);
          log.error(
            { event: body.event, channel: channel.name, attempts, err: lastError },
            "alert not delivered",
          );
          await record(body, channel.name, "failed", attempts, lastError);
        }
      }),
    );
  }

  function record(
    body: AlertBody,
    channel: string,
    status: string,
    attempts: number,
    lastError: string | null,
  ) {
    return db.call("tenant_backup_alert_delivered", {
      p_org: body.organization_id,
      p_event: body.event,
      p_channel: channel,
      p_status: status,
      p_attempts: attempts,
      p_last_error: lastError,
      p_at: now().toISOString(),
    });
  }

  /** Runs the alert work within the budget; whatever goes wrong is logged, never thrown. */
  async function bounded(what: string, work: () => Promise<void>): Promise<void> {
    const budget = new AbortController();
    try {
      const finished = await Promise.race([
        work().then(() => true),
        delay(budgetMs, false, { signal: budget.signal }),
      ]);
      if (!finished) log.warn({ alert: what, budgetMs }, "alert delivery cut off at its time budget");
    } catch (err) {
      log.error({ alert: what, err: errorText(err) }, "alert failed");
    } finally {
      budget.abort();
    }
  }

  async function open(body: AlertBody): Promise<void> {
    const opened = await db.call<boolean>("tenant_backup_alert_open", {
      p_org: body.organization_id,
      p_event: body.event,
      p_at: body.at,
    });
    if (opened) await deliver(body);
  }

  async function clear(event: AlertEventName, body: AlertBody): Promise<void> {
    const cleared = await db.call<boolean>("tenant_backup_alert_clear", {
      p_org: body.organization_id,
      p_event: event,
    });
    if (cleared) await deliver(body);
  }

  return {
    enabled: true,
    backupFailed: (tenant, details) =>
      bounded("backup.failed", () => open(backupFailed(tenant, now(), details))),
    backupSucceeded: (tenant, details) =>
      bounded("backup.resolved", () => clear("backup.failed", backupResolved(tenant, now(), details))),
    raise: (body) => bounded(body.event, () => open(body)),
    resolve: (event, body) => bounded(body.event, () => clear(event, body)),
    restoreFinished: (tenant, details) =>
      bounded("restore", () =>
        deliver(
          details.error ? restoreFailed(tenant, now(), details) : restoreCompleted(tenant, now(), details),
        ),
      ),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
