/**
 * /.netlify/functions/validation-rules — the validation rules, the same for every tenant.
 *   GET [?organization_id=]  → { success, rules: [{ id, table, column, kind, params, enabled }], proposed }
 *   POST { table, column, kind, params, enabled? } → 201 { success, rule }
 *   DELETE ?id=<rule id>     → { success, rule }
 * `proposed` lists rules the schema suggests (lib/validation/proposals.ts); POST one as it is to accept it.
 * Reading: the cron secret, a super admin, or an admin of the organization named (the rules are what that
 * organization's data is checked against). Changing: the cron secret or a super admin only, since a rule
 * applies to every organization. A rule naming a table or column outside the tenant catalog, or with
 * parameters that do not fit its kind, is a 400 naming the field, and nothing is stored.
 */
import { z } from "zod";
import type { ValidationRule, ValidationRuleAnswer, ValidationRulesAnswer } from "../lib/api-answers.ts";
import { fail } from "../lib/errors.ts";
import { proposeRules } from "../lib/validation/proposals.ts";
import { checkAgainstCatalog, ruleInput, type StoredRule } from "../lib/validation/rules.ts";
import { endpoint, endpointByMethod } from "./endpoint.ts";
import { json, validate } from "./http.ts";
import { organizationId } from "./organization-id.ts";

const NAME = "validation-rules";

/** A rule as the API shows it. */
export function publicRule({ id, table, column, kind, params, enabled }: StoredRule): ValidationRule {
  return { id, table, column, kind, params, enabled };
}

const list = endpoint({
  name: NAME,
  methods: ["GET"],
  from: "query",
  input: z.object({ organization_id: organizationId.optional() }).strict(),
  access: "organization",
  async run({ services }) {
    const [rules, catalog] = await Promise.all([services.db.validationRules(), services.db.catalog()]);
    const shown = rules.map(publicRule);
    return json(200, {
      success: true,
      rules: shown,
      proposed: proposeRules(catalog, shown),
    } satisfies ValidationRulesAnswer);
  },
});

const add = endpoint({
  name: NAME,
  methods: ["POST"],
  from: "body",
  // The shape every kind shares; the kind's own parameters are checked below, by its schema.
  input: z
    .object({
      table: z.unknown().optional(),
      column: z.unknown().optional(),
      kind: z.unknown().optional(),
      params: z.unknown().optional(),
      enabled: z.unknown().optional(),
    })
    .strict(),
  access: "super_admin",
  async run({ input, services }) {
    const rule = validate(ruleInput, input);
    checkAgainstCatalog(rule, await services.db.catalog());
    const stored = await services.db.addValidationRule(rule);
    if ("error" in stored) {
      throw fail("bad_request", `${stored.error.field}: ${stored.error.message}`, {
        field: stored.error.field,
      });
    }
    services.log.info({ rule: publicRule(stored.rule) }, "validation rule added");
    return json(201, { success: true, rule: publicRule(stored.rule) } satisfies ValidationRuleAnswer);
  },
});

const remove = endpoint({
  name: NAME,
  methods: ["DELETE"],
  from: "query",
  input: z.object({ id: z.uuid({ error: "must be a rule id (a UUID)" }) }).strict(),
  access: "super_admin",
  async run({ input, services }) {
    const rule = (await services.db.validationRules()).find((r) => r.id === input.id);
    if (!rule || !(await services.db.deleteValidationRule(input.id))) {
      throw fail("not_found", `no validation rule ${input.id}`, { field: "id" });
    }
    services.log.info({ rule: publicRule(rule) }, "validation rule removed");
    return json(200, { success: true, rule: publicRule(rule) } satisfies ValidationRuleAnswer);
  },
});

export const handleValidationRules = endpointByMethod(NAME, { GET: list, POST: add, DELETE: remove });
