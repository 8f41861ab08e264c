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
    await createTable(knex, t.oobCodes, (table) => {
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
    });
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

/** Every table our migrations create, for one prefix. */
export function storeTables(t: TableNames): string[] {
  return [t.factors, t.backupCodeSets, t.backupCodes, t.trustedDevices, t.challenges, t.oobCodes, t.counters, t.attemptState];
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
