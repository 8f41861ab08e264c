// packages/knex/src/migrate.ts
// One-call schema management: run our migrations (with their own bookkeeping tables) or drop it all.
import type { Knex } from 'knex';
import { isUniqueViolation } from './dialect';
import { secondfactorMigrations, storeTables } from './migration-source';
import { tableNames, type MigrationOptions, type TableNames } from './options';

/** How long `migrate` waits for another instance's migration run before giving up. */
const LOCK_WAIT_MS = 30_000;

function migratorConfig(options: MigrationOptions): Knex.MigratorConfig {
  const t = tableNames(options.tablePrefix);
  // Our own bookkeeping table (`<prefix>migrations`), so the host's knex_migrations never sees our names.
  return { migrationSource: secondfactorMigrations(options), tableName: t.migrations };
}

/** Creates a table unless it exists; losing a creation race to another process is fine. */
async function createTableOnce(knex: Knex, name: string, columns: (table: Knex.CreateTableBuilder) => void): Promise<void> {
  if (await knex.schema.hasTable(name)) return;
  try {
    await knex.schema.createTable(name, columns);
  } catch (error) {
    if (!(await knex.schema.hasTable(name))) throw error;
  }
}

/**
 * Creates knex's bookkeeping tables (same columns as knex's own) and the single lock row, race-free.
 * Left to knex, instances starting at once on a fresh database can each insert a lock row, and
 * with two rows knex's `UPDATE ... SET is_locked = 1 WHERE is_locked = 0` never succeeds again.
 * Here the row has a fixed primary key, so a second insert is a harmless unique violation.
 */
async function ensureBookkeeping(knex: Knex, t: TableNames): Promise<void> {
  await createTableOnce(knex, t.migrations, (table) => {
    table.increments();
    table.string('name');
    table.integer('batch');
    table.timestamp('migration_time');
  });
  await createTableOnce(knex, t.migrationsLock, (table) => {
    table.increments('index').primary();
    table.integer('is_locked');
  });
  if ((await knex(t.migrationsLock).select('index')).length > 0) return;
  try {
    await knex(t.migrationsLock).insert({ index: 1, is_locked: 0 });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

function isMigrationLocked(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'MigrationLocked';
}

/**
 * Creates or upgrades the tables for one prefix. Safe to run on every start: applied migrations
 * are skipped, and when several app instances start at once the others wait (up to 30 s) for the
 * one holding the migration lock, then find nothing left to do.
 *
 * @example
 * await migrate(knex);                               // tables secondfactor_*
 * await migrate(knex, { tablePrefix: 'mfa_' });      // tables mfa_*
 */
export async function migrate(knex: Knex, options: MigrationOptions = {}): Promise<void> {
  const config = migratorConfig(options);
  await ensureBookkeeping(knex, tableNames(options.tablePrefix));
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 1000)) {
    try {
      await knex.migrate.latest(config);
      return;
    } catch (error) {
      // A lock that outlives the wait was left by a crashed run: see docs/storage-knex.md.
      if (!isMigrationLocked(error) || Date.now() + delayMs > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Drops everything `migrate()` created for one prefix: the store tables (all data!) and the
 * migration bookkeeping tables.
 *
 * @example
 * await rollback(knex, { tablePrefix: 'mfa_' });
 */
export async function rollback(knex: Knex, options: MigrationOptions = {}): Promise<void> {
  const t = tableNames(options.tablePrefix);
  await knex.migrate.rollback(migratorConfig(options), true);
  // Also drops tables whose bookkeeping was lost (a half-applied MySQL migration, a dropped migrations table).
  for (const name of storeTables(t).reverse()) await knex.schema.dropTableIfExists(name);
  await knex.schema.dropTableIfExists(t.migrationsLock);
  await knex.schema.dropTableIfExists(t.migrations);
}
