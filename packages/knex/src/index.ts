// packages/knex/src/index.ts
// @secondfactor/knex: the storage contract over knex (PostgreSQL, SQLite, MySQL/MariaDB), with its migrations.
export { knexStore } from './knex-store';
export type { KnexMfaStore } from './knex-store';
export { migrate, rollback } from './migrate';
export { secondfactorMigrations } from './migration-source';
export type { SecondfactorMigration } from './migration-source';
export { DEFAULT_TABLE_PREFIX } from './options';
export type { KnexStoreOptions, MigrationOptions } from './options';
