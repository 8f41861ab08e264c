// examples/custom-storage/src/tables.ts
// The PostgreSQL schema that holds the tables, and the schema-qualified, quoted name of each
// table. The schema name ends up inside SQL text (identifiers cannot be bound parameters), so
// it is validated here once and quoted, and no other identifier is ever built from input.
import { escapeIdentifier } from 'pg';

export const DEFAULT_SCHEMA = 'secondfactor';

/** Lower-case letters, digits and `_`, not starting with a digit, within PostgreSQL's 63 bytes. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Every table of the store, quoted and qualified: `"secondfactor"."factors"`. */
export interface Tables {
  /** The quoted schema itself, for CREATE/DROP SCHEMA. */
  schema: string;
  factors: string;
  backupCodeSets: string;
  backupCodes: string;
  trustedDevices: string;
  challenges: string;
  factorState: string;
  counters: string;
  attemptState: string;
  events: string;
}

/** Validates `schema` and derives the table names; throws a `TypeError` for anything unexpected. */
export function tablesIn(schema: string = DEFAULT_SCHEMA): Tables {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new TypeError(
      `pgStore: schema must be 1-63 lower-case letters, digits or underscores, not starting with a digit (got ${JSON.stringify(schema)})`,
    );
  }
  const s = escapeIdentifier(schema);
  const table = (name: string) => `${s}.${escapeIdentifier(name)}`;
  return {
    schema: s,
    factors: table('factors'),
    backupCodeSets: table('backup_code_sets'),
    backupCodes: table('backup_codes'),
    trustedDevices: table('trusted_devices'),
    challenges: table('challenges'),
    factorState: table('factor_state'),
    counters: table('counters'),
    attemptState: table('attempt_state'),
    events: table('events'),
  };
}
