// Statements compiled once (src/prepared.ts): the builder runs once, every call after that hands
// the compiled SQL to knex's client — on every backend the same rows, counts and events as running
// the builder each time, and the builder on every call where the client lacks the hooks.
import type { Knex } from 'knex';
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
