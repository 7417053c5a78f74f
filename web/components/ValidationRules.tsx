/**
 * The validation rules themselves, under the Data checks: the rules in force and the ones the schema
 * proposes (validation-rules). A rule applies to every organization, so only a super admin adds or
 * removes one; an organization's admin reads them.
 */
import { useCallback, useEffect, useState } from "react";
import type { TenantBackupClient } from "../client/api-client.ts";
import type { ProposedRule, ValidationRule, ValidationRulesAnswer } from "../client/types.ts";
import { ErrorNotice } from "./ErrorNotice.tsx";
import { type Column, ListTable } from "./Table.tsx";

const RULE_COLUMNS: Column[] = [
  { label: "Table" },
  { label: "Column" },
  { label: "Rule" },
  { label: "Settings" },
  { label: "" },
];
const PROPOSED_COLUMNS: Column[] = [
  { label: "Table" },
  { label: "Column" },
  { label: "Rule" },
  { label: "Settings" },
  { label: "Why" },
  { label: "" },
];

/** A rule's parameters as text: "format=email", "min=0 max=100". */
function paramsText(params: Record<string, unknown>): string {
  const text = Object.entries(params)
    .map(([name, value]) => `${name}=${Array.isArray(value) ? value.join("|") : String(value)}`)
    .join(" ");
  return text || "—";
}

/** A proposal's identity: the same table, column, kind and parameters are the same rule. */
function proposalKey(rule: ProposedRule): string {
  return `${rule.table}.${rule.column}:${rule.kind}:${JSON.stringify(rule.params)}`;
}

export function ValidationRules(props: {
  client: TenantBackupClient;
  organizationId: string;
  superAdmin: boolean;
  /** Called after a rule was added or removed: the check's results change with the rules. */
  onChanged: () => void;
  onSignInAgain?: () => void;
}) {
  const { client, organizationId, superAdmin, onChanged } = props;
  const [answer, setAnswer] = useState<ValidationRulesAnswer | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setAnswer(await client.validationRules(organizationId));
    } catch (err) {
      setError(err);
    }
  }, [client, organizationId]);

  useEffect(() => {
    void load();
  }, [load]);

  async function change(key: string, action: () => Promise<unknown>) {
    setBusy(key);
    setError(null);
    try {
      await action();
      await load();
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  const add = (rule: ProposedRule) => change(proposalKey(rule), () => client.addValidationRule(rule));
  const remove = (rule: ValidationRule) => change(rule.id, () => client.removeValidationRule(rule.id));

  return (
    <div className="validation-rules">
      <h3>Rules</h3>
      <p className="muted">
        {superAdmin
          ? "A rule applies to every organization."
          : "The rules apply to every organization; a super admin adds or removes them."}
      </p>
      <ErrorNotice error={error} onSignInAgain={props.onSignInAgain} />
      <ListTable
        className="rule-list"
        caption="Validation rules in force"
        busy={answer === null}
        columns={RULE_COLUMNS}
        rowCount={answer ? answer.rules.length : null}
        emptyText="No rules yet."
      >
        {(answer?.rules ?? []).map((rule) => (
          <tr key={rule.id}>
            <td data-label="Table">{rule.table}</td>
            <td data-label="Column">{rule.column}</td>
            <td data-label="Rule">
              {rule.kind}
              {rule.enabled ? "" : " (off)"}
            </td>
            <td data-label="Settings">
              <code>{paramsText(rule.params)}</code>
            </td>
            <td>
              {superAdmin && (
                <button
                  type="button"
                  className="button button-small button-danger"
                  disabled={busy !== null}
                  onClick={() => void remove(rule)}
                  aria-label={`Remove rule ${rule.kind} on ${rule.table}.${rule.column}`}
                >
                  {busy === rule.id ? "Removing…" : "Remove"}
                </button>
              )}
            </td>
          </tr>
        ))}
      </ListTable>
      {answer && answer.proposed.length > 0 && (
        <>
          <h3>Proposed from the schema</h3>
          <ListTable
            className="rule-proposals"
            caption="Validation rules the schema proposes"
            busy={false}
            columns={PROPOSED_COLUMNS}
            rowCount={answer.proposed.length}
            emptyText="Nothing to propose."
          >
            {answer.proposed.map((rule) => (
              <tr key={proposalKey(rule)}>
                <td data-label="Table">{rule.table}</td>
                <td data-label="Column">{rule.column}</td>
                <td data-label="Rule">{rule.kind}</td>
                <td data-label="Settings">
                  <code>{paramsText(rule.params)}</code>
                </td>
                <td data-label="Why" className="muted">
                  {rule.reason}
                </td>
                <td>
                  {superAdmin && (
                    <button
                      type="button"
                      className="button button-small"
                      disabled={busy !== null}
                      onClick={() => void add(rule)}
                      aria-label={`Add rule ${rule.kind} on ${rule.table}.${rule.column}`}
                    >
                      {busy === proposalKey(rule) ? "Adding…" : "Add rule"}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </ListTable>
        </>
      )}
    </div>
  );
}
