/**
 * One way to write an endpoint: a declaration — methods, input schema, who may call it, an optional rate
 * limit — and its work, whose input is typed from the schema. `handle` runs the steps every endpoint
 * shares, in this order, and throws a typed error (lib/errors.ts) at the first refusal:
 *
 *   preflight (OPTIONS) → method (405 + Allow) → caller (401, or 403 for a cron-only endpoint) →
 *   input (413, 415, 400 naming the field) → organization id made canonical (400) → access (403) →
 *   rate limit (429 + Retry-After) → the work.
 *
 * The caller is identified before the input is read, so that an anonymous caller learns nothing about
 * the endpoint's fields. Errors become Responses in one place: serve() in runtime.ts, which also adds
 * the CORS headers to every answer.
 */
import type { z } from "zod";
import { canReach, type Principal, reachesAll } from "../lib/auth/principal.ts";
import { type AppError, fail, isAppError } from "../lib/errors.ts";
import { enforceRateLimit, type RateLimitKind, type RateLimitSlot } from "../lib/rate-limit.ts";
import type { Services } from "../lib/services.ts";
import { identify } from "./auth.ts";
import { readJsonBody, validate } from "./http.ts";
import { canonicalOrganizationId, organizationFields } from "./organization-id.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/**
 * Who may call:
 * - "cron": the cron secret only (a verified user gets 403);
 * - "super_admin": the cron secret or a super admin;
 * - "organization": the cron secret, a super admin, or an admin of the organization the input's
 *   organization id field names; when that field is optional and absent, the call acts on every tenant
 *   and only the cron secret or a super admin may make it.
 */
export type Access = "cron" | "super_admin" | "organization";

export interface Context<Input> {
  input: Input;
  principal: Principal;
  services: Services;
  request: Request;
  /** Epoch ms (from services.now()) after which the work starts nothing new: the call's time budget. */
  deadline: number;
}

export interface RateLimit<Input> {
  /** The limit the call counts against; a function when it depends on the input. */
  kind: RateLimitKind | ((context: Context<Input>) => RateLimitKind);
  /** Calls that take no slot (a dry run; the continuation of a backup already under way). */
  skip?: (context: Context<Input>) => boolean | Promise<boolean>;
  /** The work failed before doing anything (no such tenant, tenant busy): the slot is given back. */
  refund: (err: AppError) => boolean;
  /** The answer says the work is not done yet and a later call finishes it: the slot is given back. */
  refundAnswer?: (response: Response) => boolean;
}

export interface Declaration<Schema extends z.ZodObject> {
  /** The function's name, as in /.netlify/functions/<name>. */
  name: string;
  methods: readonly Method[];
  /** Where the input comes from: the query string (GET) or a JSON body. */
  from: "query" | "body";
  input: Schema;
  access: Access;
  rateLimit?: RateLimit<z.output<Schema>>;
  /** Overrides BACKUP_TIME_BUDGET_MS for this endpoint's deadline. */
  timeBudgetMs?: number;
  /**
   * A Netlify background function: Netlify answers the caller itself and discards ours, so a refused
   * call is written to the log as "<label> refused: …" (the work logs its own outcome).
   */
  background?: string;
  run(context: Context<z.output<Schema>>): Promise<Response>;
}

/** What serve() and the tests call: the declaration's shape, and the steps above behind handle(). */
export interface Endpoint {
  readonly name: string;
  readonly methods: readonly Method[];
  readonly timeBudgetMs?: number;
  readonly background?: string;
  handle(request: Request, services: Services): Promise<Response>;
}

export function endpoint<Schema extends z.ZodObject>(declaration: Declaration<Schema>): Endpoint {
  const fields = organizationFields(declaration.input);
  const organizationField = accessField(declaration, fields);

  return {
    name: declaration.name,
    methods: declaration.methods,
    timeBudgetMs: declaration.timeBudgetMs,
    background: declaration.background,
    async handle(request, services) {
      const deadline =
        services.now().getTime() + (declaration.timeBudgetMs ?? services.config.backup.timeBudgetMs);
      if (request.method === "OPTIONS") {
        return new Response(null, { status: 204, headers: { allow: allowHeader(declaration.methods) } });
      }
      if (!(declaration.methods as readonly string[]).includes(request.method)) {
        throw fail("method_not_allowed", `use ${declaration.methods.join(" or ")} for this endpoint`, {
          allow: declaration.methods.join(", "),
        });
      }
      const principal = await identify(request, services, { cronOnly: declaration.access === "cron" });

      const raw = declaration.from === "query" ? queryInput(request) : await readJsonBody(request);
      const input: Record<string, unknown> = validate(declaration.input, raw);
      for (const field of fields) {
        const value = input[field];
        if (typeof value === "string") input[field] = await canonicalOrganizationId(services, field, value);
      }
      requireAccess(declaration.access, principal, organizationField && input[organizationField]);

      const context: Context<z.output<Schema>> = {
        input: input as z.output<Schema>,
        principal,
        services,
        request,
        deadline,
      };
      const slot = await takeSlot(declaration.rateLimit, context, organizationField);
      try {
        const response = await declaration.run(context);
        if (slot && declaration.rateLimit?.refundAnswer?.(response)) await slot.release();
        return response;
      } catch (err) {
        if (slot && isAppError(err) && declaration.rateLimit?.refund(err)) await slot.release();
        throw err;
      }
    },
  };
}

/**
 * One function answering several methods, each declared as an endpoint of its own (its own input schema,
 * access and work), e.g. GET reads a setting from the query and PUT sets it from a JSON body. OPTIONS and a
 * method none of them takes are answered here, naming every method.
 */
export function endpointByMethod(name: string, byMethod: Partial<Record<Method, Endpoint>>): Endpoint {
  const methods = Object.keys(byMethod) as Method[];
  for (const method of methods) {
    const declared = byMethod[method];
    if (declared?.name !== name || !declared.methods.includes(method)) {
      throw new Error(`${name}: the ${method} endpoint must be named ${name} and declare ${method}`);
    }
  }
  return {
    name,
    methods,
    async handle(request, services) {
      if (request.method === "OPTIONS") {
        return new Response(null, { status: 204, headers: { allow: allowHeader(methods) } });
      }
      const declared = byMethod[request.method as Method];
      if (!declared) {
        throw fail("method_not_allowed", `use ${methods.join(" or ")} for this endpoint`, {
          allow: methods.join(", "),
        });
      }
      return declared.handle(request, services);
    },
  };
}

export function allowHeader(methods: readonly string[]): string {
  return [...methods, "OPTIONS"].join(", ");
}

/** The query string as an object; `secret` is the cron secret's (identify() read it), not input. */
function queryInput(request: Request): Record<string, string> {
  const params = new URL(request.url).searchParams;
  params.delete("secret");
  return Object.fromEntries(params);
}

/**
 * The field an "organization" endpoint checks access (and counts rate limits) by. Declared wrongly, the
 * module fails to load rather than letting a call through unchecked.
 */
function accessField(declaration: Declaration<z.ZodObject>, fields: string[]): string | undefined {
  if (declaration.access !== "organization") {
    if (declaration.rateLimit)
      throw new Error(`${declaration.name}: a rate limit needs access "organization"`);
    return undefined;
  }
  if (fields.length !== 1) {
    throw new Error(`${declaration.name}: access "organization" needs exactly one organization id field`);
  }
  return fields[0];
}

function requireAccess(access: Access, principal: Principal, organizationId: unknown): void {
  if (access === "cron") return; // identify() already refused everyone else
  if (access === "organization" && typeof organizationId === "string") {
    if (!canReach(principal, organizationId)) {
      throw fail("forbidden", `not an admin of organization ${organizationId}`, { field: "organization_id" });
    }
    return;
  }
  if (!reachesAll(principal)) {
    throw fail("forbidden", "only the cron secret or a super admin may act on every organization", {
      field: "organization_id",
    });
  }
}

async function takeSlot<Input>(
  limit: RateLimit<Input> | undefined,
  context: Context<Input>,
  organizationField: string | undefined,
): Promise<RateLimitSlot | undefined> {
  if (!limit || organizationField === undefined) return undefined;
  // An absent organization means every tenant; no endpoint limits those calls.
  const tenantId = (context.input as Record<string, unknown>)[organizationField];
  if (typeof tenantId !== "string") return undefined;
  if (await limit.skip?.(context)) return undefined;
  const kind = typeof limit.kind === "function" ? limit.kind(context) : limit.kind;
  return enforceRateLimit(context.services, tenantId, kind, context.principal);
}
