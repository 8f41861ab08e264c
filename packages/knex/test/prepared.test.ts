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
