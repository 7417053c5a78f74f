/**
 * The typed browser client of the backup API: `fetch` only, no Node APIs, so the page, the React
 * component and an app's own code share it. Each method is one endpoint of docs/api.md; answers that say
 * "call again" (202) are followed until the work is done, reporting progress on the way.
 */
import { ApiError, apiErrorFrom, TransportError } from "./errors.ts";
import type {
  BackupAnswer,
  BackupDetails,
  BackupList,
  BackupSchedule,
  BackupScheduleAnswer,
  DeleteAnswer,
  Download,
  DownloadLink,
  HealthReport,
  ImportReport,
  ImportUpload,
  ListBackupsQuery,
  ModuleList,
  ModuleTemplateAnswer,
  PageConfig,
  ProposedRule,
  RestoreReport,
  RestoreRequest,
  ScheduleSettings,
  StorageUsage,
  UsageAnswer,
  ValidationAnswer,
  ValidationRuleAnswer,
  ValidationRulesAnswer,
} from "./types.ts";

export interface ClientOptions {
  /** Where the functions live: "/.netlify/functions" on the same site, or a full URL. */
  apiBaseUrl: string;
  /** The signed-in user's access token (e.g. supabase.auth.getSession()); null when signed out. */
  getAccessToken: () => Promise<string | null> | string | null;
  fetch?: typeof fetch;
  /** Pause between calls that continue a 202 answer; injectable so tests do not wait. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ProgressOptions {
  /** Called with the API's message after each 202 answer. */
  onProgress?: (message: string, calls: number) => void;
  /** Give up after this many calls (default 60). */
  maxCalls?: number;
}

const CONTINUE_PAUSE_MS = 400;

export type TenantBackupClient = ReturnType<typeof createTenantBackupClient>;

export function createTenantBackupClient(options: ClientOptions) {
  const base = options.apiBaseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function send(
    name: string,
    init: {
      method?: string;
      query?: Record<string, string | number | undefined>;
      body?: unknown;
      /** A body sent as it is, e.g. a CSV file. */
      file?: { type: string; data: string | Blob };
    } = {},
    auth = true,
  ): Promise<Response> {
    const url = new URL(`${base}/${name}`, globalThis.location?.href ?? "http://localhost/");
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {};
    if (auth) {
      const token = await options.getAccessToken();
      if (!token) throw new ApiError(401, "unauthorized", "not signed in");
      headers.authorization = `Bearer ${token}`;
    }
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (init.file !== undefined) headers["content-type"] = init.file.type;
    try {
      return await doFetch(url.toString(), {
        method: init.method ?? "GET",
        headers,
        body:
          init.file !== undefined
            ? init.file.data
            : init.body === undefined
              ? undefined
              : JSON.stringify(init.body),
      });
    } catch (err) {
      throw new TransportError(`cannot reach the backup API: ${(err as Error).message}`);
    }
  }

  async function json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await apiErrorFrom(response);
    try {
      return (await response.json()) as T;
    } catch {
      throw new TransportError(`the server answered HTTP ${response.status} without JSON`, response.status);
    }
  }

  /** Repeats a call while it answers 202 (work cut by the function's time budget resumes on the next call). */
  async function untilDone<T>(call: () => Promise<Response>, progress: ProgressOptions): Promise<T> {
    const maxCalls = progress.maxCalls ?? 60;
    for (let calls = 1; ; calls += 1) {
      const response = await call();
      if (response.status !== 202) return json<T>(response);
      const body = await json<{ message?: string }>(response);
      progress.onProgress?.(body.message ?? "still working", calls);
      if (calls >= maxCalls) {
        throw new TransportError(`still under way after ${calls} calls; try again later`, 202);
      }
      await sleep(CONTINUE_PAUSE_MS);
    }
  }

  return {
    async pageConfig(): Promise<PageConfig> {
      return json<PageConfig>(await send("page-config", {}, false));
    },

    async listBackups(query: ListBackupsQuery): Promise<BackupList> {
      return json<BackupList>(await send("list-backups", { query: { ...query } }));
    },

    async backupDetails(organizationId: string, backupId: string): Promise<BackupDetails> {
      return json<BackupDetails>(
        await send("backup-details", { query: { organization_id: organizationId, backup_id: backupId } }),
      );
    },

    /** The summary (no `file`) or one file of a backup: a signed link, or the bytes themselves. */
    async download(organizationId: string, backupId: string, file?: string): Promise<Download> {
      const response = await send("download-backup", {
        query: { organization_id: organizationId, backup_id: backupId, file },
      });
      if (!response.ok) throw await apiErrorFrom(response);
      const disposition = response.headers.get("content-disposition");
      if (disposition === null && (response.headers.get("content-type") ?? "").includes("json")) {
        const link = (await response.json()) as DownloadLink;
        return { kind: "link", url: link.url, file: link.file, expires_at: link.expires_at };
      }
      const filename = /filename="([^"]+)"/.exec(disposition ?? "")?.[1] ?? `${backupId}.bin`;
      return {
        kind: "file",
        blob: await response.blob(),
        filename,
        sha256: response.headers.get("x-content-sha256"),
      };
    },

    /** A manual backup, followed through its 202 answers until it is complete; `note` is kept with it. */
    async createBackup(
      organizationId: string,
      progress: ProgressOptions = {},
      note?: string,
    ): Promise<BackupAnswer> {
      const body = note ? { organization_id: organizationId, note } : { organization_id: organizationId };
      return untilDone<BackupAnswer>(() => send("backup-tenant-data", { method: "POST", body }), progress);
    },

    /** Storage used by backups: one organization's, or (cron, super admins) every one's. */
    async usage(organizationId?: string): Promise<StorageUsage> {
      const answer = await json<UsageAnswer>(
        await send("backup-usage", { query: { organization_id: organizationId } }),
      );
      return answer.usage;
    },

    /** A dry run or a real restore; a real one first writes the undo point, which may take several calls. */
    async restore(request: RestoreRequest, progress: ProgressOptions = {}): Promise<RestoreReport> {
      return untilDone<RestoreReport>(
        () => send("restore-tenant-data", { method: "POST", body: request }),
        progress,
      );
    },

    async deleteBackup(organizationId: string, backupId: string, force = false): Promise<DeleteAnswer> {
      return json<DeleteAnswer>(
        await send("delete-backup", {
          method: "POST",
          body: { organization_id: organizationId, backup_id: backupId, force },
        }),
      );
    },

    async getSchedule(organizationId: string): Promise<BackupSchedule> {
      const answer = await json<BackupScheduleAnswer>(
        await send("backup-schedule", { query: { organization_id: organizationId } }),
      );
      return answer.schedule;
    },

    /** Sets the organization's own schedule; answers it with its next run. */
    async putSchedule(organizationId: string, settings: ScheduleSettings): Promise<BackupSchedule> {
      const answer = await json<BackupScheduleAnswer>(
        await send("backup-schedule", {
          method: "PUT",
          body: { organization_id: organizationId, ...settings },
        }),
      );
      return answer.schedule;
    },

    /** The organization's modules with its record count in each. */
    async listModules(organizationId: string): Promise<ModuleList> {
      return json<ModuleList>(await send("list-modules", { query: { organization_id: organizationId } }));
    },

    /** One table of a module as a CSV file; `forSpreadsheet` guards cells a spreadsheet would run. */
    async exportModule(
      organizationId: string,
      module: string,
      options: { table?: string; forSpreadsheet?: boolean } = {},
    ): Promise<{ blob: Blob; filename: string }> {
      const response = await send("export-module", {
        query: {
          organization_id: organizationId,
          module,
          table: options.table,
          for_spreadsheet: options.forSpreadsheet ? "true" : undefined,
        },
      });
      if (!response.ok) throw await apiErrorFrom(response);
      const filename =
        /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? `${module}.csv`;
      return { blob: await response.blob(), filename };
    },

    async moduleTemplate(
      organizationId: string,
      module: string,
      table?: string,
    ): Promise<ModuleTemplateAnswer> {
      return json<ModuleTemplateAnswer>(
        await send("module-template", { query: { organization_id: organizationId, module, table } }),
      );
    },

    /**
     * Checks (dryRun) or imports a CSV file into one table of a module. A real import with refused rows
     * changes nothing and answers 422 with the same report, which is answered here like a dry run's.
     */
    async importModule(
      organizationId: string,
      module: string,
      csv: { data: string | Blob } | { upload: string },
      options: { table?: string; dryRun: boolean; mode?: "upsert" | "insert" },
    ): Promise<ImportReport> {
      const response = await send("import-module", {
        method: "POST",
        query: {
          organization_id: organizationId,
          module,
          table: options.table,
          dry_run: String(options.dryRun),
          mode: options.mode,
          upload: "upload" in csv ? csv.upload : undefined,
        },
        file: "data" in csv ? { type: "text/csv", data: csv.data } : undefined,
      });
      if (response.status === 422) {
        const report = (await response
          .clone()
          .json()
          .catch(() => null)) as ImportReport | null;
        if (report?.summary) return report;
      }
      return json<ImportReport>(response);
    },

    /**
     * Puts a CSV file too large for a request body into storage through a signed upload URL; answers the
     * key to import it by (importModule with { upload }).
     */
    async uploadCsv(organizationId: string, file: Blob): Promise<string> {
      const signed = await json<ImportUpload>(
        await send("module-upload-url", { method: "POST", query: { organization_id: organizationId } }),
      );
      let response: Response;
      try {
        response = await doFetch(signed.url, {
          method: "PUT",
          headers: { "content-type": "text/csv" },
          body: file,
        });
      } catch (err) {
        throw new TransportError(`cannot reach the storage upload: ${(err as Error).message}`);
      }
      if (!response.ok)
        throw new TransportError(`the storage upload answered HTTP ${response.status}`, response.status);
      return signed.upload;
    },

    /** The organization's rows checked now against the validation rules. */
    async validate(organizationId: string): Promise<ValidationAnswer> {
      return json<ValidationAnswer>(
        await send("validate-tenant-data", { query: { organization_id: organizationId } }),
      );
    },

    /** The same report as CSV for spreadsheets, with the file name the server gives it. */
    async validationCsv(organizationId: string): Promise<{ blob: Blob; filename: string }> {
      const response = await send("validate-tenant-data", {
        query: { organization_id: organizationId, format: "csv" },
      });
      if (!response.ok) throw await apiErrorFrom(response);
      const disposition = response.headers.get("content-disposition") ?? "";
      const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `validation-${organizationId}.csv`;
      return { blob: await response.blob(), filename };
    },

    /** The validation rules (the same for every organization) and the ones the schema proposes. */
    async validationRules(organizationId: string): Promise<ValidationRulesAnswer> {
      return json<ValidationRulesAnswer>(
        await send("validation-rules", { query: { organization_id: organizationId } }),
      );
    },

    /** Adds a rule (super admins; a proposed rule as it is accepts it): it applies to every organization. */
    async addValidationRule(
      rule: Pick<ProposedRule, "table" | "column" | "kind" | "params">,
    ): Promise<ValidationRuleAnswer> {
      const { table, column, kind, params } = rule;
      return json<ValidationRuleAnswer>(
        await send("validation-rules", { method: "POST", body: { table, column, kind, params } }),
      );
    },

    /** Removes a rule (super admins), for every organization. */
    async removeValidationRule(id: string): Promise<ValidationRuleAnswer> {
      return json<ValidationRuleAnswer>(await send("validation-rules", { method: "DELETE", query: { id } }));
    },

    /** Freshness of one organization, or (super admins) of every one: 503 is a report of stale tenants. */
    async health(organizationId?: string): Promise<HealthReport> {
      const response = await send("backup-health", { query: { organization_id: organizationId } });
      if (response.status === 503) {
        const body = (await response
          .clone()
          .json()
          .catch(() => null)) as HealthReport | null;
        if (body && Array.isArray(body.tenants)) return body;
      }
      return json<HealthReport>(response);
    },
  };
}
