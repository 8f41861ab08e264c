// packages/knex/test/query-plans.test.ts
// The audit-log and figures queries read indexes, not whole tables: the store's own SQL (taken
// from knex's query events) under EXPLAIN. On PostgreSQL with sequential scans priced out (so
// the plan shows whether an index CAN serve the query), on MariaDB with EXPLAIN, and on SQLite
// with EXPLAIN QUERY PLAN.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { knexStore, migrate, type KnexMfaStore } from '@secondfactor/knex';
import { describeBackend, openDatabase, type Backend, type TestDatabase } from './support/databases';

const DAY_MS = 86_400_000;
const T0 = 20_000 * DAY_MS;

interface Captured {
  sql: string;
  bindings: readonly unknown[];
}

/** Runs `call` and returns the SQL statements it issued. */
async function captureStatements(db: Knex, call: () => Promise<unknown>): Promise<Captured[]> {
  const seen: Captured[] = [];
  const listener = (q: { sql: string; bindings?: readonly unknown[] }) => seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
  db.on('query', listener);
  try {
    await call();
  } finally {
    db.removeListener('query', listener);
  }
  return seen;
}

async function fill(db: Knex, prefix: string): Promise<void> {
  const events = [];
  for (let i = 0; i < 6_000; i++) {
    const at = T0 + (i % 30) * DAY_MS + i;
    events.push({
      id: `ev${String(i).padStart(20, '0')}`, at, day: Math.floor(at / DAY_MS), type: i % 3 === 0 ? 'mfa.failed' : 'mfa.verified',
      user_id: i % 2 === 0 ? 'user-busy' : `user-${i % 300}`, outcome: i % 3 === 0 ? 'failure' : 'success', factor_type: i % 5 === 0 ? null : 'totp',
    });
  }
  await db.batchInsert(`${prefix}events`, events, 500);
  const factors = [];
  for (let i = 0; i < 3_000; i++) {
    factors.push({
      user_id: `user-${i % 1_000}`, id: `f-${i}`, type: ['totp', 'webauthn', 'sms'][i % 3], label: null, status: i % 4 === 0 ? 'pending' : 'active',
      secret: null, data: '{}', counter: null, lookup_key: null, created_at: 1, confirmed_at: null, last_used_at: null,
    });
  }
  await db.batchInsert(`${prefix}factors`, factors, 500);
}

const QUERIES: [name: string, call: (store: KnexMfaStore) => Promise<unknown>, index: string, sorted: boolean][] = [
  ['listEvents of one user, after a cursor', (s) => s.listEvents({ userId: 'user-busy', before: { at: T0 + 20 * DAY_MS, id: 'ev5' }, limit: 50 }), 'events_user_idx', true],
  ['listEvents of everyone in a time range', (s) => s.listEvents({ since: T0, until: T0 + 10 * DAY_MS, limit: 50 }), 'events_at_idx', true],
  ['purgeEvents', (s) => s.purgeEvents(T0 - 1), 'events_at_idx', false],
  ['countEventsByDay', (s) => s.countEventsByDay({ since: T0 + DAY_MS + 5, until: T0 + 8 * DAY_MS }), 'events_day_idx', false],
  ['countMfaUsers', (s) => s.countMfaUsers(), 'factors_status_type_idx', false],
];

const PLANNED: Backend[] = ['postgres', 'mariadb', 'sqlite-memory'];

for (const backend of PLANNED) {
  describeBackend(backend)(`audit-log query plans on ${backend}`, () => {
    let database: TestDatabase;
    let store: KnexMfaStore;
    beforeAll(async () => {
      database = await openDatabase(backend);
      await migrate(database.db, { tablePrefix: database.tablePrefix });
      await fill(database.db, database.tablePrefix);
      // Fresh statistics, and (PostgreSQL) a visibility map, as autovacuum would have made them.
      if (backend === 'mariadb') {
        for (const table of ['events', 'factors']) await database.db.raw('ANALYZE TABLE ??', [`${database.tablePrefix}${table}`]);
      } else {
        await database.db.raw(backend === 'postgres' ? 'VACUUM ANALYZE' : 'ANALYZE');
      }
      store = knexStore(database.db, { tablePrefix: database.tablePrefix });
    }, 60_000);
    afterAll(async () => {
      await database?.drop();
    }, 30_000);

    async function plan(statement: Captured): Promise<string> {
      const { db } = database;
      if (backend === 'postgres') {
        // pg's query events carry $1, $2…; knex.raw wants ?.
        const sql = statement.sql.replace(/\$\d+/g, '?');
        return db.transaction(async (trx) => {
          await trx.raw('SET LOCAL enable_seqscan = off');
          const { rows } = (await trx.raw(`EXPLAIN ${sql}`, statement.bindings as Knex.RawBinding[])) as { rows: { 'QUERY PLAN': string }[] };
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
      }
      if (backend === 'mariadb') {
        // One row per table read: `type` ALL is a full scan, `key` the index, `Extra` says "Using filesort" when it sorts.
        const [rows] = (await db.raw(`EXPLAIN ${statement.sql}`, statement.bindings as Knex.RawBinding[])) as [Record<string, unknown>[], unknown];
        return rows.map((r) => `${r.type === 'ALL' ? 'Seq Scan' : String(r.type)} ${String(r.table)} key=${String(r.key)} ${String(r.Extra ?? '')}`.replace('filesort', 'Sort')).join('\n');
      }
      const rows: { detail: string }[] = await db.raw(`EXPLAIN QUERY PLAN ${statement.sql}`, statement.bindings as Knex.RawBinding[]);
      return Array.from(rows, (r) => r.detail).join('\n');
    }

    for (const [name, call, index, sorted] of QUERIES) {
      it(`${name} reads ${index}`, async () => {
        const statements = await captureStatements(database.db, () => call(store));
        assert.ok(statements.length >= 1);
        for (const statement of statements) {
          const text = await plan(statement);
          assert.match(text, new RegExp(`${database.tablePrefix}${index}\\b`), `${statement.sql}\n${text}`);
          assert.doesNotMatch(text, /Seq Scan|SCAN [a-z_]+events\b(?! USING)|SCAN [a-z_]+factors\b(?! USING)/, `${statement.sql}\n${text}`);
          if (sorted) assert.doesNotMatch(text, /\bSort\b|TEMP B-TREE/, `the index gives the order\n${text}`);
          if (process.env.SHOW_PLANS) process.stdout.write(`--- ${backend}: ${name}\n${statement.sql}\n${text}\n`);
        }
      }, 30_000);
    }
  });
}
