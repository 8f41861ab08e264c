// packages/knex/src/options.ts
// The options of the knex store and its migrations, and the table names one table prefix yields.
import { MfaConfigError } from '@secondfactor/core';

export const DEFAULT_TABLE_PREFIX = 'secondfactor_';

/** Longest accepted prefix: keeps every table and index name within PostgreSQL's 63 and MySQL's 64 characters. */
const MAX_PREFIX_LENGTH = 36;
const PREFIX_PATTERN = /^(?:[A-Za-z_][A-Za-z0-9_]*)?$/;

export interface MigrationOptions {
  /** Prepended to every table (and index) name. Letters, digits and `_` only. Default `secondfactor_`. */
  tablePrefix?: string;
}

export interface KnexStoreOptions extends MigrationOptions {
  /**
   * Wall clock (epoch ms) for the physical expiry of challenges, factor state and counters (`ttlSeconds`).
   * Default `Date.now`. Core checks logical expiry itself with its own clock.
   */
  physicalNow?: () => number;
}

/** Every table and index name for one prefix. */
export interface TableNames {
  factors: string;
  backupCodeSets: string;
  backupCodes: string;
  trustedDevices: string;
  challenges: string;
  /** Per-factor verification state (sent codes' hashes, WebAuthn challenges); since migration 0002. */
  factorState: string;
  /** Out-of-band codes as migration 0001 created them; migration 0002 moves them into `factorState`. */
  oobCodes: string;
  counters: string;
  attemptState: string;
  /** The audit log; since migration 0003. */
  events: string;
  /** Knex's migration bookkeeping when `migrate()` runs our migrations. */
  migrations: string;
  migrationsLock: string;
  /** Index names (PostgreSQL and SQLite keep them in one namespace per schema, so they are prefixed too). */
  index: {
    trustedDevicesUser: string;
    trustedDevicesToken: string;
    challengesPurge: string;
    oobCodesPurge: string;
    factorStatePurge: string;
    /** Unique (type, lookup_key) on the factors table. */
    factorsLookup: string;
    countersPurge: string;
    /** Events (user_id, at, id): one user's events, newest first, paged. */
    eventsUser: string;
    /** Events (at, id): everyone's events newest first, paged; the retention purge. */
    eventsAt: string;
    /** Events (day, type, factor_type, outcome, at): per-day figures from the index alone. */
    eventsDay: string;
    /** Factors (status, type, user_id): users with an active factor, from the index alone. */
    factorsStatusType: string;
  };
}

/** Validates a table prefix (it ends up in SQL identifiers) and derives all names from it. */
export function tableNames(tablePrefix: string = DEFAULT_TABLE_PREFIX): TableNames {
  if (typeof tablePrefix !== 'string' || !PREFIX_PATTERN.test(tablePrefix) || tablePrefix.length > MAX_PREFIX_LENGTH) {
    throw new MfaConfigError(
      'tablePrefix',
      `must be at most ${MAX_PREFIX_LENGTH} letters, digits or underscores, not starting with a digit (got ${JSON.stringify(tablePrefix)})`,
    );
  }
  const p = tablePrefix;
  return {
    factors: `${p}factors`,
    backupCodeSets: `${p}backup_code_sets`,
    backupCodes: `${p}backup_codes`,
    trustedDevices: `${p}trusted_devices`,
    challenges: `${p}challenges`,
    factorState: `${p}factor_state`,
    oobCodes: `${p}oob_codes`,
    counters: `${p}counters`,
    attemptState: `${p}attempt_state`,
    events: `${p}events`,
    migrations: `${p}migrations`,
    migrationsLock: `${p}migrations_lock`,
    index: {
      trustedDevicesUser: `${p}trusted_devices_user_idx`,
      trustedDevicesToken: `${p}trusted_devices_token_uq`,
      challengesPurge: `${p}challenges_purge_idx`,
      oobCodesPurge: `${p}oob_codes_purge_idx`,
      factorStatePurge: `${p}factor_state_purge_idx`,
      factorsLookup: `${p}factors_lookup_uq`,
      countersPurge: `${p}counters_purge_idx`,
      eventsUser: `${p}events_user_idx`,
      eventsAt: `${p}events_at_idx`,
      eventsDay: `${p}events_day_idx`,
      factorsStatusType: `${p}factors_status_type_idx`,
    },
  };
}
