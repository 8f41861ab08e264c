// Statements compiled once (src/prepared.ts): the builder runs once, every call after that hands
// the compiled SQL to knex's client — on every backend the same rows, counts and events as running
// the builder each time, and the builder on every call where the client lacks the hooks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { preparer, type Prepare } from '../src/prepared';
import { BACKENDS, describeBackend, openDatabase, type TestDatabase } from './support/databases';

for (const backend of BACKENDS) {
  describeBackend(backend)(`prepared statements on ${backend}`, () => {
    let tdb: TestDatabase;
    let db: Knex;
    let table: string;
    let prepare: Prepare;
    beforeAll(async () => {
      tdb = await openDatabase(backend);
      db = tdb.db;
      table = `${tdb.tablePrefix}prepared_probe`;
      await db.schema.createTable(table, (t) => {
        t.string('k', 64).primary();
        t.bigInteger('n').notNullable();
        t.string('note', 64).nullable();
        t.boolean('flag').notNullable();
      });
      prepare = preparer(db);
    });
    afterAll(async () => {
      await db.schema.dropTableIfExists(table);
      await tdb.drop();
    });

    test('the builder runs once; rows, counts and NULLs are what knex itself returns', async () => {
      let builds = 0;
      const insert = prepare<[string, number, string | undefined, boolean], void>('none', (k, n, note, flag) => {
        builds++;
        return db(table).insert({ k, n, note, flag });
      }, 4);
      const first = prepare<[string], { k: string; n: unknown; note: string | null; flag: unknown } | undefined>('first', (k) => db(table).where({ k }).first(), 1);
      const bump = prepare<[string, number], number>('count', (k, below) => db(table).where({ k }).andWhere('n', '<', below).update({ n: db.raw('?? + 1', ['n']) }), 2);
      expect(builds).toBe(1);

      await insert('a', 1, 'x', true);
      await insert('b', 5, undefined, false);
      expect(builds).toBe(1);
      const a = await first('a');
      expect(a).toMatchObject({ k: 'a', note: 'x' });
      expect(Number(a!.n)).toBe(1);
      expect([true, 1]).toContain(a!.flag);
      expect(await first('b')).toMatchObject({ k: 'b', note: null });
      expect(await first('missing')).toBeUndefined();
      // The constant binding of `first()` (LIMIT 1) stays a constant; the arguments change per call.
      expect(await bump('a', 3)).toBe(1);
      expect(await bump('a', 3)).toBe(1);
      expect(await bump('a', 3)).toBe(0); // n = 3 now: the condition holds no longer
      expect(Number((await db(table).where({ k: 'a' }).first())!.n)).toBe(3);
    });

    test('every execution is a knex `query` event carrying its SQL and bindings', async () => {
      const seen: { sql: string; bindings: unknown[] }[] = [];
      const listen = (q: { sql: string; bindings: unknown[] }) => seen.push(q);
      db.on('query', listen);
      try {
        const count = prepare<[string], { k: string }[]>('rows', (k) => db(table).where('k', '>=', k).orderBy('k'), 1);
        expect((await count('a')).map((r) => r.k)).toEqual(['a', 'b']);
        expect(await count('b')).toHaveLength(1);
      } finally {
        db.off('query', listen);
      }
      expect(seen).toHaveLength(2);
      expect(seen.map((q) => q.bindings)).toEqual([['a'], ['b']]);
      expect(seen[0]!.sql).toMatch(/select \* from .*prepared_probe.* where .*k.* >= /i);
    });

    test('a driver error keeps its code (a duplicate key is still recognisable) and names the statement', async () => {
      const insert = prepare<[string, number, string | null, boolean], void>('none', (k, n, note, flag) => db(table).insert({ k, n, note, flag }), 4);
      const error = await insert('a', 1, null, true).catch((e: unknown) => e as { code?: unknown; errno?: unknown; message: string });
      // (Not `toBeInstanceOf(Error)`: better-sqlite3's errors belong to another realm under Jest.)
      expect(typeof error?.message).toBe('string');
      expect(['23505', 'ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_PRIMARYKEY']).toContain(error!.code);
      expect(error!.message).toMatch(/insert into/i);
    });

    test('a statement the database cannot prepare (its table is gone) names the statement too, with its code', async () => {
      const gone = `${tdb.tablePrefix}prepared_gone`;
      await db.schema.createTable(gone, (t) => t.string('k', 64).primary());
      // Compiled now; on better-sqlite3 first prepared at its first call, after the table is dropped.
      const first = prepare<[string], unknown>('first', (k) => db(gone).where({ k }).first(), 1);
      await db.schema.dropTable(gone);
      const error = await first('a').then(() => null, (e: unknown) => e as { code?: unknown; message: string });
      expect(error).not.toBeNull();
      expect(['42P01', 'ER_NO_SUCH_TABLE', 'SQLITE_ERROR']).toContain(error!.code);
      expect(error!.message).toMatch(/^select /i);
      expect(error!.message).toMatch(/prepared_gone/);
    });

    test('without the client hooks it needs, the builder runs on every call (the same results)', async () => {
      const bare = new Proxy(db, {
        get(target, prop, receiver) {
          if (prop === 'client') return { ...target.client, acquireConnection: undefined };
          return Reflect.get(target, prop, receiver);
        },
      });
      let builds = 0;
      const first = preparer(bare)<[string], { k: string } | undefined>('first', (k) => {
        builds++;
        return db(table).where({ k }).first();
      }, 1);
      expect(builds).toBe(0);
      expect(await first('b')).toMatchObject({ k: 'b' });
      expect(await first('nope')).toBeUndefined();
      expect(builds).toBe(2);
    });
  });
}

// better-sqlite3 runs a statement synchronously: where the pool holds its connection idle and
// taking it would be a formality, the statement runs on it where it lies (no acquire, no release).
describe('prepared statements on better-sqlite3: the idle connection', () => {
  type Row = { k: string; n: unknown } | undefined;
  const open: Knex[] = [];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sf-prepared-'));
  });
  afterAll(async () => {
    await Promise.all(open.map((d) => d.destroy()));
    rmSync(dir, { recursive: true, force: true });
  });
  async function database(pool: Knex.PoolConfig = {}): Promise<{ db: Knex; first: (k: string) => Promise<Row>; insert: (k: string, n: number) => Promise<void>; acquired: () => number }> {
    const db = knex({ client: 'better-sqlite3', connection: { filename: join(dir, `${open.length}.db`) }, useNullAsDefault: true, pool });
    open.push(db);
    await db.schema.createTable('t', (t) => {
      t.string('k', 64).primary();
      t.integer('n').notNullable();
    });
    const acquire = jest.spyOn(db.client as { acquireConnection(): Promise<unknown> }, 'acquireConnection');
    const prepare = preparer(db);
    return {
      db,
      first: prepare<[string], Row>('first', (k) => db('t').where({ k }).first(), 1),
      insert: prepare<[string, number], void>('none', (k, n) => db('t').insert({ k, n }), 2),
      acquired: () => acquire.mock.calls.length,
    };
  }

  test('is used where it lies: the same rows, no acquire and no release', async () => {
    const { db, first, insert, acquired } = await database();
    const release = jest.spyOn(db.client as { releaseConnection(c: unknown): unknown }, 'releaseConnection');
    await insert('a', 1);
    expect(acquired()).toBe(0);
    expect(await first('a')).toMatchObject({ k: 'a', n: 1 });
    expect(await first('b')).toBeUndefined();
    expect(acquired()).toBe(0);
    expect(release).not.toHaveBeenCalled();
    // And knex's own queries still find the connection in the pool.
    expect(await db('t').count({ c: '*' }).first()).toMatchObject({ c: 1 });
  });

  test('a transaction holding the connection is waited for, as with an acquire: the statement runs after its commit', async () => {
    const { db, first, insert, acquired } = await database();
    const order: string[] = [];
    let during: Promise<Row> | undefined;
    await db.transaction(async (trx) => {
      await trx('t').insert({ k: 'x', n: 7 });
      during = first('x').then((row) => {
        order.push('read');
        return row;
      });
      // Also a write, which inside the transaction would be rolled back with it.
      void insert('y', 8).then(() => order.push('write'));
      await new Promise((r) => setTimeout(r, 20));
      order.push('commit');
    });
    expect(await during).toMatchObject({ k: 'x', n: 7 });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['commit', 'read', 'write']);
    expect(acquired()).toBe(3); // the transaction's own, then the two that waited
    expect(await first('y')).toMatchObject({ k: 'y', n: 8 });
  });

  test('a rolled-back transaction takes none of the statements that waited for it', async () => {
    const { db, first, insert } = await database();
    let waited: Promise<void> | undefined;
    await db
      .transaction(async (trx) => {
        await trx('t').insert({ k: 'gone', n: 1 });
        waited = insert('kept', 2);
        await new Promise((r) => setTimeout(r, 10));
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await waited;
    expect(await first('gone')).toBeUndefined();
    expect(await first('kept')).toMatchObject({ k: 'kept', n: 2 });
  });

  test('the pool is asked when the host listens to its events, validates connections or limits their lifetime', async () => {
    const listened = await database();
    const events: string[] = [];
    (listened.db.client as { pool: { on(e: string, f: () => void): void } }).pool.on('acquireRequest', () => events.push('acquire'));
    await listened.insert('a', 1);
    expect(await listened.first('a')).toMatchObject({ k: 'a' });
    expect(listened.acquired()).toBe(2);
    expect(events).toEqual(['acquire', 'acquire']);

    let validated = 0;
    const validating = await database({ validate: () => ++validated > 0 } as Knex.PoolConfig);
    await validating.insert('a', 1);
    expect(await validating.first('a')).toMatchObject({ k: 'a' });
    expect(validating.acquired()).toBe(2);
    expect(validated).toBeGreaterThanOrEqual(2);

    const limited = await database({ maxConnectionLifetimeMillis: 60_000 } as Knex.PoolConfig);
    await limited.insert('a', 1);
    expect(await limited.first('a')).toMatchObject({ k: 'a' });
    expect(limited.acquired()).toBe(2);
  });

  test('a closed connection is not used: the pool is asked', async () => {
    const { db, first, insert, acquired } = await database();
    await insert('a', 1);
    expect(acquired()).toBe(0);
    const free = (db.client as { pool: { free: { resource: { close(): void } }[] } }).pool.free;
    expect(free).toHaveLength(1);
    free[0]!.resource.close();
    await expect(first('a')).rejects.toThrow();
    expect(acquired()).toBe(1);
  });
});

// better-sqlite3: the writes handed in during one turn of the event loop are committed together,
// and each is answered only once committed; reads run at once.
/** better-sqlite3 itself (it ships no types), for a second connection that reads synchronously. */
interface SqliteReader {
  prepare(sql: string): { get(...args: unknown[]): unknown };
  close(): void;
}
const SqliteDatabase = require('better-sqlite3') as new (file: string, options: { readonly: boolean }) => SqliteReader;

describe('prepared statements on better-sqlite3: group commit', () => {
  type Row = { k: string; n: unknown } | undefined;
  const open: Knex[] = [];
  const readers: SqliteReader[] = [];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sf-group-commit-'));
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await Promise.all(open.map((d) => d.destroy()));
    rmSync(dir, { recursive: true, force: true });
  });
  async function database() {
    const file = join(dir, `${open.length}.db`);
    const db = knex({
      client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true,
      pool: { afterCreate: (c: { pragma(p: string): unknown }, done: (e: null, c: unknown) => void) => done(null, c.pragma('journal_mode = WAL') && c) },
    });
    open.push(db);
    await db.schema.createTable('t', (t) => {
      t.string('k', 64).primary();
      t.integer('n').notNullable();
    });
    // Another connection to the same file: it sees only what was committed.
    const reader = new SqliteDatabase(file, { readonly: true });
    readers.push(reader);
    const prepare = preparer(db);
    const sql: string[] = [];
    db.on('query', (q: { sql: string }) => sql.push(q.sql));
    return {
      db, sql,
      committed: (k: string) => reader.prepare('SELECT k, n FROM t WHERE k = ?').get(k) as Row,
      first: prepare<[string], Row>('first', (k) => db('t').where({ k }).first(), 1),
      insert: prepare<[string, number], void>('none', (k, n) => db('t').insert({ k, n }), 2),
      bump: prepare<[string], { n: unknown }[]>('rows', (k) => db('t').where({ k }).update({ n: db.raw('?? + 1', ['n']) }).returning('n'), 1),
    };
  }

  test('the writes of one turn run in one transaction, in the order they came; each is answered only once committed; a read runs at once', async () => {
    const { sql, committed, first, insert, bump } = await database();
    await insert('a', 1);
    sql.length = 0;
    const answered: string[] = [];
    const seenAtAnswer: Row[] = [];
    const writes = [
      insert('b', 2).then(() => { answered.push('b'); seenAtAnswer.push(committed('b')); }),
      bump('a').then((rows) => { answered.push(`a=${Number(rows[0]!.n)}`); seenAtAnswer.push(committed('a')); }),
      bump('a').then((rows) => { answered.push(`a=${Number(rows[0]!.n)}`); }),
    ];
    // Handed in after the writes, answered before them: it does not see them.
    const read = await first('a');
    expect(Number(read!.n)).toBe(1);
    expect(answered).toEqual([]);
    await Promise.all(writes);
    expect(answered).toEqual(['b', 'a=2', 'a=3']);
    // What another connection saw at the moment each write was answered: it was committed.
    expect(seenAtAnswer.map((r) => r && { k: r.k, n: Number(r.n) })).toEqual([{ k: 'b', n: 2 }, { k: 'a', n: 3 }]);
    expect(sql.map((q) => q.replace(/ .*/, ''))).toEqual(['select', 'BEGIN', 'insert', 'update', 'update', 'COMMIT']);
    expect(sql[1]).toBe('BEGIN IMMEDIATE');
  });

  test('a write the database refuses fails alone, with its own error; the others of its transaction are committed', async () => {
    const { sql, committed, insert } = await database();
    await insert('dup', 1);
    sql.length = 0;
    const results = await Promise.allSettled([insert('x', 1), insert('dup', 2), insert('y', 3)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason as { code?: string; message: string };
    expect(error.code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(error.message).toMatch(/^insert into/);
    expect([committed('x')?.k, Number(committed('dup')?.n), committed('y')?.k]).toEqual(['x', 1, 'y']);
    expect(sql.filter((q) => /^(BEGIN|COMMIT|ROLLBACK)/.test(q))).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
  });

  test('a full database: every write answered as done is stored, every write answered as failed is not, and the connection is left usable', async () => {
    const { db, committed, first, insert } = await database();
    const pages = Number((await db.raw('PRAGMA page_count'))[0].page_count);
    await db.raw(`PRAGMA max_page_count = ${pages + 6}`);
    const keys = Array.from({ length: 12 }, (_, i) => `${i}-${'k'.repeat(3000)}`); // a page or more each
    const results = await Promise.allSettled(keys.map((k, i) => insert(k, i)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    expect(failed.length).toBeGreaterThan(0);
    for (const i of failed) expect((results[i] as PromiseRejectedResult).reason).toMatchObject({ code: expect.stringMatching(/^SQLITE_FULL/) });
    expect(keys.map((k) => committed(k) !== undefined)).toEqual(keys.map((_, i) => !failed.includes(i)));
    await db.raw('PRAGMA max_page_count = 1073741823');
    await Promise.all([insert('after-1', 1), insert('after-2', 2)]);
    expect((await first('after-2'))?.k).toBe('after-2');
    expect(committed('after-1')?.k).toBe('after-1');
  });

  test('a transaction that took the connection before the turn ended is waited for: the writes run after its commit', async () => {
    const { db, committed, insert } = await database();
    const order: string[] = [];
    const write = insert('w', 1).then(() => order.push('write'));
    await db.transaction(async (trx) => {
      await trx('t').insert({ k: 'in-trx', n: 2 });
      await new Promise((r) => setTimeout(r, 20));
      order.push('commit');
    });
    await write;
    expect(order).toEqual(['commit', 'write']);
    expect([committed('w')?.k, committed('in-trx')?.k]).toEqual(['w', 'in-trx']);
  });

  test("fake timers do not hold the writes back: they are committed on Node's own setImmediate", async () => {
    const { committed, insert } = await database();
    jest.useFakeTimers();
    try {
      await Promise.all([insert('f1', 1), insert('f2', 2)]);
    } finally {
      jest.useRealTimers();
    }
    expect([committed('f1')?.k, committed('f2')?.k]).toEqual(['f1', 'f2']);
  });
});
