// packages/knex/test/support/databases.ts
// Fresh, isolated databases for the knex tests: a PostgreSQL schema, a MariaDB table prefix,
// a SQLite file and an in-memory SQLite database, each dropped again by `drop()`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { knex, type Knex } from 'knex';
import { describeWithService, MARIADB_URL, POSTGRES_URL } from '../../../../test/support/services';

export type Backend = 'postgres' | 'mariadb' | 'sqlite-file' | 'sqlite-memory';

export interface TestDatabase {
  backend: Backend;
  db: Knex;
  /** Table prefix this database's tests use (unique per run where the database is shared). */
  tablePrefix: string;
  /** Store tables with this prefix that exist right now. */
  listTables(): Promise<string[]>;
  /** Drops whatever the run created and closes the connections. */
  drop(): Promise<void>;
}

const suffix = () => randomBytes(4).toString('hex');

/** A PostgreSQL schema `sf_<random>` on the search path; dropped with CASCADE. */
async function postgres(tablePrefix: string): Promise<TestDatabase> {
  const schema = `sf_${suffix()}`;
  const admin = knex({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const db = knex({ client: 'pg', connection: POSTGRES_URL, searchPath: [schema], pool: { min: 0, max: 10 } });
  return {
    backend: 'postgres', db, tablePrefix,
    async listTables() {
      const rows: { table_name: string }[] = await admin('information_schema.tables').where({ table_schema: schema }).select('table_name');
      return rows.map((r) => r.table_name).filter((n) => n.startsWith(tablePrefix)).sort();
    },
    async drop() {
      await db.destroy();
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await admin.destroy();
    },
  };
}

/** MariaDB database `test`, shared: isolation by a unique table prefix, dropped table by table. */
async function mariadb(): Promise<TestDatabase> {
  const tablePrefix = `sf${suffix()}_`;
  const db = knex({ client: 'mysql2', connection: MARIADB_URL, pool: { min: 0, max: 10 } });
  const listTables = async () => {
    const [rows] = (await db.raw('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?', [`${tablePrefix}%`])) as [{ name: string }[], unknown];
    return rows.map((r) => r.name).sort();
  };
  return {
    backend: 'mariadb', db, tablePrefix, listTables,
    async drop() {
      for (const name of await listTables()) await db.schema.dropTableIfExists(name);
      await db.destroy();
    },
  };
}

async function sqliteTables(db: Knex, tablePrefix: string): Promise<string[]> {
  const rows: { name: string }[] = await db('sqlite_master').where({ type: 'table' }).select('name');
  // Array.from: better-sqlite3's arrays belong to another realm than Jest's, which deepEqual notices.
  return Array.from(rows, (r) => r.name).filter((n) => n.startsWith(tablePrefix)).sort();
}

/** A SQLite file in its own temporary directory; the directory goes in `drop()`. */
async function sqliteFile(tablePrefix: string): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-knex-'));
  const db = knex({ client: 'better-sqlite3', connection: { filename: path.join(dir, 'mfa.sqlite') }, useNullAsDefault: true });
  return {
    backend: 'sqlite-file', db, tablePrefix,
    listTables: () => sqliteTables(db, tablePrefix),
    async drop() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** In-memory SQLite: one connection for the whole run, or the database would vanish with it. */
async function sqliteMemory(tablePrefix: string): Promise<TestDatabase> {
  const db = knex({
    client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true,
    pool: { min: 1, max: 1, idleTimeoutMillis: 600_000 },
  });
  return {
    backend: 'sqlite-memory', db, tablePrefix,
    listTables: () => sqliteTables(db, tablePrefix),
    drop: () => db.destroy(),
  };
}

/** Opens a fresh database; `tablePrefix` applies where isolation does not need its own (MariaDB). */
export function openDatabase(backend: Backend, tablePrefix = 'secondfactor_'): Promise<TestDatabase> {
  switch (backend) {
    case 'postgres':
      return postgres(tablePrefix);
    case 'mariadb':
      return mariadb();
    case 'sqlite-file':
      return sqliteFile(tablePrefix);
    case 'sqlite-memory':
      return sqliteMemory(tablePrefix);
  }
}

/** The backends with the `describe` to use for each: real servers go through `describeWithService`. */
const SERVICES: Record<Backend, { service: string; url: string } | null> = {
  postgres: { service: 'PostgreSQL', url: POSTGRES_URL },
  mariadb: { service: 'MariaDB', url: MARIADB_URL },
  'sqlite-file': null,
  'sqlite-memory': null,
};

export const BACKENDS = Object.keys(SERVICES) as Backend[];

/** `describe` for a backend: through `describeWithService` for real servers (fail in CI, loud skip elsewhere). */
export function describeBackend(backend: Backend): (name: string, fn: () => void) => void {
  const service = SERVICES[backend];
  return service ? describeWithService(service.service, service.url) : describe;
}
