// packages/knex/src/migration-source.ts
// The schema as a knex migration source, so hosts can run it next to their own migrations.
import type { Knex } from 'knex';
import { dialectOf } from './dialect';
import { tableNames, type MigrationOptions, type TableNames } from './options';

/** One of our migrations, as `secondfactorMigrations()` lists it. */
export interface SecondfactorMigration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Identifiers, keys and hashes are `varchar(255)` (MySQL/MariaDB cannot index TEXT without a
// length); counter keys embed host user ids and IPs, so they get 512. Every time is a
// `bigint` of epoch milliseconds: core's logical times may lie far in the future.
const ID = 255;
const COUNTER_KEY = 512;
/**
 * A factor's lookup key (a WebAuthn credential id): 512 characters, so that (type, lookup_key) stays
 * within MySQL's 3072-byte index limit in utf8mb4 (64 × 4 + 512 × 4 bytes).
 */
const LOOKUP_KEY = 512;

type Columns = (table: Knex.CreateTableBuilder) => void;

/** Creates a table unless it exists (a MySQL migration that died halfway left some behind: DDL is not transactional there). */
async function createTable(knex: Knex, name: string, columns: Columns): Promise<void> {
  if (await knex.schema.hasTable(name)) return;
  const mysql = dialectOf(knex) === 'mysql';
  await knex.schema.createTable(name, (table) => {
    if (mysql) {
      // Transactions need InnoDB; hashes, tokens and ids are case-sensitive, so compare them byte-wise.
      table.engine('InnoDB');
      table.charset('utf8mb4');
      table.collate('utf8mb4_bin');
    }
    columns(table);
  });
}

function initialUp(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    await createTable(knex, t.factors, (table) => {
      table.string('user_id', ID).notNullable();
      table.string('id', ID).notNullable();
      table.string('type', 64).notNullable();
      table.text('label').nullable();
      table.string('status', 16).notNullable();
      table.text('secret').nullable();
      table.text('data').notNullable(); // JSON object
      table.bigInteger('last_step').nullable();
      table.bigInteger('created_at').notNullable();
      table.bigInteger('confirmed_at').nullable();
      table.bigInteger('last_used_at').nullable();
      table.primary(['user_id', 'id']); // also the index for per-user lookups
    });
    await createTable(knex, t.backupCodeSets, (table) => {
      table.string('user_id', ID).notNullable().primary();
      table.string('salt', ID).notNullable();
      table.bigInteger('created_at').notNullable();
    });
    await createTable(knex, t.backupCodes, (table) => {
      table.string('user_id', ID).notNullable();
      table.string('code_hash', ID).notNullable();
      table.integer('position').notNullable();
      table.bigInteger('used_at').nullable();
      table.primary(['user_id', 'code_hash']);
    });
    await createTable(knex, t.trustedDevices, (table) => {
      table.string('id', ID).notNullable().primary();
      table.string('user_id', ID).notNullable();
      table.string('token_hash', ID).notNullable();
      table.text('label').nullable();
      table.bigInteger('created_at').notNullable();
      table.bigInteger('last_seen_at').notNullable();
      table.bigInteger('expires_at').notNullable();
      table.index(['user_id'], t.index.trustedDevicesUser);
      table.unique(['token_hash'], { indexName: t.index.trustedDevicesToken });
    });
    await createTable(knex, t.challenges, (table) => {
      table.string('id', ID).notNullable().primary();
      table.string('user_id', ID).notNullable();
      table.text('methods').notNullable(); // JSON array of strings
      table.bigInteger('created_at').notNullable();
      table.bigInteger('expires_at').notNullable();
      table.integer('attempts').notNullable().defaultTo(0);
      table.bigInteger('purge_at').notNullable(); // wall clock: absent from this time on
      table.index(['purge_at'], t.index.challengesPurge);
    });
    await createTable(knex, t.oobCodes, oobCodesColumns(t));
    await createTable(knex, t.counters, (table) => {
      table.string('counter_key', COUNTER_KEY).notNullable().primary();
      table.bigInteger('hits').notNullable();
      table.bigInteger('purge_at').notNullable();
      table.index(['purge_at'], t.index.countersPurge);
    });
    await createTable(knex, t.attemptState, (table) => {
      table.string('user_id', ID).notNullable().primary();
      table.integer('failures').notNullable();
      table.bigInteger('blocked_until').notNullable();
      table.boolean('locked').notNullable();
      table.bigInteger('version').notNullable();
    });
  };
}

function initialDown(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    for (const name of [t.attemptState, t.counters, t.oobCodes, t.challenges, t.trustedDevices, t.backupCodes, t.backupCodeSets, t.factors]) {
      await knex.schema.dropTableIfExists(name);
    }
  };
}

/** A MySQL/MariaDB error for an index name that exists already (left by a migration that died halfway). */
function isDuplicateIndexName(error: unknown): boolean {
  const e = typeof error === 'object' && error !== null ? (error as { code?: unknown; errno?: unknown }) : {};
  return e.code === 'ER_DUP_KEYNAME' || e.errno === 1061;
}

/** The out-of-band codes table as migration 0001 created it (and 0002's `down` puts back). */
function oobCodesColumns(t: TableNames): Columns {
  return (table) => {
    table.string('code_key', ID).notNullable().primary();
    table.string('code_hash', ID).notNullable();
    table.string('purpose', 16).notNullable();
    table.string('factor_id', ID).notNullable();
    table.string('user_id', ID).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('purge_at').notNullable();
    table.index(['purge_at'], t.index.oobCodesPurge);
  };
}

/**
 * 0002, factor plugins (#10): the per-factor counter (`last_step` → `counter`), a lookup key unique
 * per factor type, and the out-of-band codes table generalised to factor state (a `type`, a null
 * factor id, any purpose, a secret of any length). Codes in flight move over, with their factor's type.
 * On PostgreSQL and SQLite it runs in one transaction; on MySQL/MariaDB (DDL is not transactional)
 * every step is skipped when already done, so a run that died halfway completes on the next one.
 */
function factorPluginsUp(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    if (await knex.schema.hasColumn(t.factors, 'last_step')) {
      await knex.schema.alterTable(t.factors, (table) => {
        table.renameColumn('last_step', 'counter');
      });
    }
    if (!(await knex.schema.hasColumn(t.factors, 'lookup_key'))) {
      await knex.schema.alterTable(t.factors, (table) => {
        table.string('lookup_key', LOOKUP_KEY).nullable();
      });
    }
    try {
      // NULLs are distinct in a unique index on all three databases: factors without a key never clash.
      await knex.schema.alterTable(t.factors, (table) => {
        table.unique(['type', 'lookup_key'], { indexName: t.index.factorsLookup });
      });
    } catch (error) {
      if (!(dialectOf(knex) === 'mysql' && isDuplicateIndexName(error))) throw error;
    }
    await createTable(knex, t.factorState, (table) => {
      table.string('state_key', ID).notNullable().primary();
      table.string('type', 64).notNullable();
      table.string('purpose', 32).notNullable();
      table.string('user_id', ID).notNullable();
      table.string('factor_id', ID).nullable();
      table.text('secret').notNullable();
      table.bigInteger('created_at').notNullable();
      table.bigInteger('expires_at').notNullable();
      table.integer('attempts').notNullable().defaultTo(0);
      table.bigInteger('purge_at').notNullable(); // wall clock: absent from this time on
      table.index(['purge_at'], t.index.factorStatePurge);
    });
    if (await knex.schema.hasTable(t.oobCodes)) {
      // A code whose factor is gone could never be verified: it is left behind.
      await knex.raw(
        'INSERT INTO ?? (state_key, type, purpose, user_id, factor_id, secret, created_at, expires_at, attempts, purge_at) ' +
        'SELECT o.code_key, f.type, o.purpose, o.user_id, o.factor_id, o.code_hash, o.created_at, o.expires_at, o.attempts, o.purge_at ' +
        'FROM ?? o JOIN ?? f ON f.user_id = o.user_id AND f.id = o.factor_id ' +
        'WHERE NOT EXISTS (SELECT 1 FROM ?? s WHERE s.state_key = o.code_key)',
        [t.factorState, t.oobCodes, t.factors, t.factorState],
      );
      await knex.schema.dropTable(t.oobCodes);
    }
  };
}

/**
 * Back to 0001's schema. Lookup keys are dropped; factor state that 0001 cannot hold (no factor id,
 * a purpose other than `login`/`enroll`, a type other than `sms`/`email`) is dropped too.
 */
function factorPluginsDown(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    await createTable(knex, t.oobCodes, oobCodesColumns(t));
    if (await knex.schema.hasTable(t.factorState)) {
      await knex.raw(
        'INSERT INTO ?? (code_key, code_hash, purpose, factor_id, user_id, created_at, expires_at, attempts, purge_at) ' +
        'SELECT s.state_key, s.secret, s.purpose, s.factor_id, s.user_id, s.created_at, s.expires_at, s.attempts, s.purge_at ' +
        "FROM ?? s WHERE s.factor_id IS NOT NULL AND s.purpose IN ('login', 'enroll') AND s.type IN ('sms', 'email') " +
        'AND NOT EXISTS (SELECT 1 FROM ?? o WHERE o.code_key = s.state_key)',
        [t.oobCodes, t.factorState, t.oobCodes],
      );
      await knex.schema.dropTable(t.factorState);
    }
    if (await knex.schema.hasColumn(t.factors, 'lookup_key')) {
      await knex.schema.alterTable(t.factors, (table) => {
        table.dropUnique(['type', 'lookup_key'], t.index.factorsLookup);
      });
      await knex.schema.alterTable(t.factors, (table) => {
        table.dropColumn('lookup_key');
      });
    }
    if (await knex.schema.hasColumn(t.factors, 'counter')) {
      await knex.schema.alterTable(t.factors, (table) => {
        table.renameColumn('counter', 'last_step');
      });
    }
  };
}

/** The longest user agent core stores (it cuts longer ones), and the longest admin-given detail. */
const USER_AGENT = 512;
const DETAIL = 1024;

/**
 * 0003, the audit log (#11): the events table with an index per query (one user's events newest
 * first; everyone's, and the purge; per-day figures), and an index on factors that counts users
 * with an active factor per type without reading the table. Safe to re-run on MySQL/MariaDB.
 */
function eventsUp(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    await createTable(knex, t.events, (table) => {
      table.string('id', 64).notNullable().primary();
      table.bigInteger('at').notNullable();
      table.integer('day').notNullable(); // floor(at / 86 400 000): the UTC day
      table.string('type', 64).notNullable();
      table.string('user_id', ID).notNullable();
      table.string('outcome', 8).notNullable();
      table.string('factor_id', ID).nullable();
      table.string('factor_type', 64).nullable();
      table.string('reason', 64).nullable();
      table.string('purpose', 32).nullable();
      table.string('ip', 64).nullable();
      table.string('user_agent', USER_AGENT).nullable();
      table.string('actor', ID).nullable();
      table.string('detail', DETAIL).nullable();
      table.index(['user_id', 'at', 'id'], t.index.eventsUser);
      table.index(['at', 'id'], t.index.eventsAt);
      // `at` last: the counts filter on it exactly, and the index alone answers the query.
      table.index(['day', 'type', 'factor_type', 'outcome', 'at'], t.index.eventsDay);
    });
    try {
      await knex.schema.alterTable(t.factors, (table) => {
        table.index(['status', 'type', 'user_id'], t.index.factorsStatusType);
      });
    } catch (error) {
      if (!(dialectOf(knex) === 'mysql' && isDuplicateIndexName(error))) throw error;
    }
  };
}

function eventsDown(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    await knex.schema.dropTableIfExists(t.events);
    if (await hasIndex(knex, t.factors, t.index.factorsStatusType)) {
      await knex.schema.alterTable(t.factors, (table) => {
        table.dropIndex(['status', 'type', 'user_id'], t.index.factorsStatusType);
      });
    }
  };
}

/**
 * 0004, one attempt state per user (#13): the per-client failure counts move into the user's row,
 * as a JSON list in `clients` (NULL in rows written before: no client counts). The rows the
 * earlier per-client states left (keyed by a hash, never read again) stay until the host deletes
 * them; they hold no address.
 */
function clientAttemptsUp(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    if (await knex.schema.hasColumn(t.attemptState, 'clients')) return; // MySQL: DDL is not transactional
    await knex.schema.alterTable(t.attemptState, (table) => {
      table.text('clients').nullable();
    });
  };
}

function clientAttemptsDown(t: TableNames): (knex: Knex) => Promise<void> {
  return async (knex) => {
    if (!(await knex.schema.hasColumn(t.attemptState, 'clients'))) return;
    await knex.schema.alterTable(t.attemptState, (table) => {
      table.dropColumn('clients');
    });
  };
}

/** Whether `table` has an index called `name` (so a down migration that died halfway can run again). */
async function hasIndex(knex: Knex, table: string, name: string): Promise<boolean> {
  switch (dialectOf(knex)) {
    case 'postgres': {
      const { rows } = (await knex.raw('SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ? AND indexname = ?', [table, name])) as { rows: unknown[] };
      return rows.length > 0;
    }
    case 'mysql': {
      const [rows] = (await knex.raw('SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?', [table, name])) as [unknown[], unknown];
      return rows.length > 0;
    }
    case 'sqlite': {
      const rows: unknown[] = await knex('sqlite_master').where({ type: 'index', tbl_name: table, name }).select('name');
      return rows.length > 0;
    }
  }
}

/** Every table our migrations create (the latest schema, then tables earlier migrations left), for one prefix. */
export function storeTables(t: TableNames): string[] {
  return [t.factors, t.backupCodeSets, t.backupCodes, t.trustedDevices, t.challenges, t.factorState, t.counters, t.attemptState, t.events, t.oobCodes];
}

/**
 * A knex migration source with our schema for one table prefix.
 *
 * @example
 * await knex.migrate.latest({ migrationSource: secondfactorMigrations(), tableName: 'secondfactor_migrations' });
 */
export function secondfactorMigrations(options: MigrationOptions = {}): Knex.MigrationSource<SecondfactorMigration> {
  const t = tableNames(options.tablePrefix);
  const migrations: SecondfactorMigration[] = [
    { name: '0001_secondfactor_initial', up: initialUp(t), down: initialDown(t) },
    { name: '0002_secondfactor_factor_plugins', up: factorPluginsUp(t), down: factorPluginsDown(t) },
    { name: '0003_secondfactor_events', up: eventsUp(t), down: eventsDown(t) },
    { name: '0004_secondfactor_client_attempts', up: clientAttemptsUp(t), down: clientAttemptsDown(t) },
  ];
  return {
    async getMigrations() {
      return migrations;
    },
    getMigrationName(migration) {
      return migration.name;
    },
    async getMigration(migration) {
      return { up: migration.up, down: migration.down };
    },
  };
}
