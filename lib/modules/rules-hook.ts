/**
 * Where data validation rules plug into an import: a check that reads the parsed rows of one table and
 * answers the rows that break a rule. A row it names is refused like a row the database refuses. The
 * import calls the one it is given; without rules it is `noRules`.
 */
import type { CsvRecord } from "./csv.ts";

export interface ImportRowError {
  /** The CSV's physical line the row starts on; null for the file as a whole. */
  line: number | null;
  column: string | null;
  message: string;
}

export type ImportRuleCheck = (args: {
  tenantId: string;
  table: string;
  /** The header's column names, in the order of each record's fields. */
  columns: string[];
  rows: CsvRecord[];
}) => Promise<ImportRowError[]>;

export const noRules: ImportRuleCheck = async () => [];
