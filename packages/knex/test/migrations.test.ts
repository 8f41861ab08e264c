// packages/knex/test/migrations.test.ts
// The schema lifecycle on every dialect: `migrate` is idempotent, `rollback` drops everything,
// and the migration source runs through the host's own `knex.migrate`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { knexStore, migrate, rollback, secondfactorMigrations } from '@secondfactor/knex';
import { BACKENDS, describeBackend, openDatabase, type TestDatabase } from './support/databases';

const STORE_TABLES = [
  'attempt_state', 'backup_code_sets', 'backup_codes', 'challenges', 'counters', 'factors', 'oob_codes', 'trusted_devices',
];

for (const backend of BACKENDS) {
  describeBackend(backend)(`knex migrations on ${backend}`, () => {
    let database: TestDatabase;
    const withPrefix = (names: string[]) => names.map((n) => `${database.tablePrefix}${n}`).sort();

    beforeEach(async () => {
      database = await openDatabase(backend);
    }, 30_000);
    afterEach(async () => {
      await database?.drop();
    }, 30_000);

    it('creates the tables once; a second migrate changes nothing and keeps the data', async () => {
      const { db, tablePrefix } = database;
      await migrate(db, { tablePrefix });
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));

      const store = knexStore(db, { tablePrefix });
      const userId = `user-${randomUUID()}`;
      await store.compareAndSetAttemptState(userId, null, { failures: 2, blockedUntil: 0, locked: false });
      await migrate(db, { tablePrefix });
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
      assert.equal((await store.getAttemptState(userId))?.failures, 2);
      const applied = await db(`${tablePrefix}migrations`).select('name');
      assert.deepEqual(Array.from(applied, (r: { name: string }) => r.name), ['0001_secondfactor_initial']);
    });

    it('lets several instances that start at once migrate a fresh database together', async () => {
      const { db, tablePrefix } = database;
      await Promise.all(Array.from({ length: 4 }, () => migrate(db, { tablePrefix })));
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
      const applied = await db(`${tablePrefix}migrations`).select('name');
      assert.equal(applied.length, 1, 'applied once');
    });

    it('rollback drops every table, bookkeeping included, and tolerates nothing to drop', async () => {
      const { db, tablePrefix } = database;
      await rollback(db, { tablePrefix });
      assert.deepEqual(await database.listTables(), []);
      await migrate(db, { tablePrefix });
      await rollback(db, { tablePrefix });
      assert.deepEqual(await database.listTables(), []);
      await migrate(db, { tablePrefix });
      assert.equal((await database.listTables()).length, STORE_TABLES.length + 2, 'migrates again after a rollback');
    });

    it("runs through the host's own knex.migrate with the migration source", async () => {
      const { db, tablePrefix } = database;
      const config = { migrationSource: secondfactorMigrations({ tablePrefix }), tableName: `${tablePrefix}host_migrations` };
      const [, applied] = (await db.migrate.latest(config)) as [number, string[]];
      assert.deepEqual(applied, ['0001_secondfactor_initial']);
      const [, again] = (await db.migrate.latest(config)) as [number, string[]];
      assert.deepEqual(again, []);
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'host_migrations', 'host_migrations_lock']));

      const store = knexStore(db, { tablePrefix });
      const c = { id: `ch-${randomUUID()}`, userId: 'u', methods: ['totp'], createdAt: 1, expiresAt: 2, attempts: 0 };
      await store.createChallenge(c, 60);
      assert.deepEqual(await store.getChallenge(c.id), c);

      await db.migrate.rollback(config, true);
      assert.deepEqual(await database.listTables(), withPrefix(['host_migrations', 'host_migrations_lock']));
    });
  });
}
