// packages/knex/test/migrations.test.ts
// The schema lifecycle on every dialect: `migrate` is idempotent, `rollback` drops everything,
// the migration source runs through the host's own `knex.migrate`, and a database created by an
// earlier version upgrades (and downgrades) with its data.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { knexStore, migrate, rollback, secondfactorMigrations } from '@secondfactor/knex';
import { BACKENDS, describeBackend, openDatabase, type TestDatabase } from './support/databases';

const MIGRATIONS = ['0001_secondfactor_initial', '0002_secondfactor_factor_plugins', '0003_secondfactor_events', '0004_secondfactor_client_attempts'];

const STORE_TABLES = [
  'attempt_state', 'backup_code_sets', 'backup_codes', 'challenges', 'counters', 'events', 'factor_state', 'factors', 'trusted_devices',
];

/** The names of a table's secondary indexes (primary keys left out), sorted. */
async function listIndexes(database: TestDatabase, table: string): Promise<string[]> {
  const { db } = database;
  let names: string[];
  if (database.backend === 'postgres') {
    const { rows } = (await db.raw('SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?', [table])) as { rows: { name: string }[] };
    names = rows.map((r) => r.name).filter((n) => !n.endsWith('_pkey'));
  } else if (database.backend === 'mariadb') {
    const [rows] = (await db.raw('SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?', [table])) as [{ name: string }[], unknown];
    names = rows.map((r) => r.name).filter((n) => n !== 'PRIMARY');
  } else {
    const rows: { name: string }[] = await db('sqlite_master').where({ type: 'index', tbl_name: table }).select('name');
    names = Array.from(rows, (r) => r.name).filter((n) => !n.startsWith('sqlite_autoindex_'));
  }
  return names.sort();
}

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
      await store.compareAndSetAttemptState(userId, null, { failures: 2, blockedUntil: 0, locked: false, clients: [] });
      await migrate(db, { tablePrefix });
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
      assert.equal((await store.getAttemptState(userId))?.failures, 2);
      const applied = await db(`${tablePrefix}migrations`).select('name');
      assert.deepEqual(Array.from(applied, (r: { name: string }) => r.name), MIGRATIONS);
    });

    it('lets several instances that start at once migrate a fresh database together', async () => {
      const { db, tablePrefix } = database;
      await Promise.all(Array.from({ length: 4 }, () => migrate(db, { tablePrefix })));
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
      const applied = await db(`${tablePrefix}migrations`).select('name');
      assert.equal(applied.length, MIGRATIONS.length, 'each applied once');
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
      assert.deepEqual(applied, MIGRATIONS);
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

    it('upgrades a database that 0001 created, with its data, and 0002 goes down and up again', async () => {
      const { db, tablePrefix } = database;
      const t = (name: string) => `${tablePrefix}${name}`;
      const config = { migrationSource: secondfactorMigrations({ tablePrefix }), tableName: t('migrations') };
      await db.migrate.up({ ...config, name: MIGRATIONS[0] });
      assert.deepEqual(Array.from(await db(t('migrations')).select('name'), (r: { name: string }) => r.name), [MIGRATIONS[0]]);

      // Rows as the previous version wrote them.
      const alice = `user-${randomUUID()}`;
      const purgeAt = Date.now() + 3_600_000;
      const factorRow = (id: string, type: string, status: string, lastStep: number | null, data: object) => ({
        user_id: alice, id, type, label: type, status, secret: type === 'totp' ? 'v1.k1.aXY.Y2lwaGVy' : null,
        data: JSON.stringify(data), last_step: lastStep, created_at: 20_000_000_000_000, confirmed_at: status === 'active' ? 20_000_000_000_001 : null,
        last_used_at: null,
      });
      await db(t('factors')).insert([
        factorRow('f-totp', 'totp', 'active', 58_000_123, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }),
        factorRow('f-sms', 'sms', 'pending', null, { phone: '+15005550006' }),
        factorRow('f-email', 'email', 'active', null, { email: 'alice@example.com' }),
      ]);
      const codeRow = (key: string, factorId: string, purpose: string, hash: string) => ({
        code_key: key, code_hash: hash, purpose, factor_id: factorId, user_id: alice, created_at: 20_000_000_000_000,
        expires_at: 20_000_000_300_000, attempts: 2, purge_at: purgeAt,
      });
      await db(t('oob_codes')).insert([
        codeRow('enroll:f-sms', 'f-sms', 'enroll', 'HashOfSmsCode'),
        codeRow('login:ch-1', 'f-email', 'login', 'HashOfEmailCode'),
        codeRow('login:ch-2', 'f-deleted', 'login', 'HashOfOrphan'),
      ]);

      await migrate(db, { tablePrefix });
      assert.deepEqual(Array.from(await db(t('migrations')).orderBy('id').select('name'), (r: { name: string }) => r.name), MIGRATIONS);
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']), 'oob_codes is gone');

      const store = knexStore(db, { tablePrefix });
      const totp = await store.getFactor(alice, 'f-totp');
      assert.equal(totp?.counter, 58_000_123, 'last_step became the counter');
      assert.equal(totp?.lookupKey, null);
      assert.deepEqual(totp?.data, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
      assert.deepEqual((await store.listFactors(alice)).map((f) => [f.id, f.counter, f.lookupKey]), [
        ['f-email', null, null], ['f-sms', null, null], ['f-totp', 58_000_123, null],
      ]);
      assert.deepEqual(await store.getFactorState('enroll:f-sms'), {
        type: 'sms', purpose: 'enroll', userId: alice, factorId: 'f-sms', secret: 'HashOfSmsCode',
        createdAt: 20_000_000_000_000, expiresAt: 20_000_000_300_000, attempts: 2,
      });
      assert.equal((await store.getFactorState('login:ch-1'))?.type, 'email', 'the type comes from the factor');
      assert.equal(await store.getFactorState('login:ch-2'), null, "a code whose factor is gone is not carried over");

      // The new schema works on the upgraded data.
      assert.equal(await store.advanceFactorCounter(alice, 'f-totp', 58_000_123, 1), false, 'the old replay guard holds');
      assert.equal(await store.advanceFactorCounter(alice, 'f-totp', 58_000_124, 1), true);
      assert.equal(await store.consumeFactorState('enroll:f-sms', 'HashOfSmsCode'), true);
      const bob = `user-${randomUUID()}`;
      for (const [user, id] of [[alice, 'wa-1'], [bob, 'wa-2']] as const) {
        await store.createFactor({
          id, userId: user, type: 'webauthn', label: null, status: 'pending', secret: null, data: {}, counter: null, lookupKey: null,
          createdAt: 1, confirmedAt: null, lastUsedAt: null,
        });
      }
      assert.equal(await store.activateFactor(alice, 'wa-1', { confirmedAt: 2, counter: 0, lookupKey: 'cred-1' }), true);
      assert.equal(await store.activateFactor(bob, 'wa-2', { confirmedAt: 2, counter: 0, lookupKey: 'cred-1' }), false, 'the unique index exists');
      assert.equal(await store.activateFactor(alice, 'f-sms', { confirmedAt: 3, counter: null }), true, 'factors without a key do not clash');
      const state = { type: 'webauthn', purpose: 'step_up', userId: alice, factorId: null, secret: 'c'.repeat(43), createdAt: 1, expiresAt: 2, attempts: 0 };
      await store.putFactorState(`user:${alice}:webauthn`, state, 60);
      assert.deepEqual(await store.getFactorState(`user:${alice}:webauthn`), state);
      await store.putFactorState('login:ch-3', { ...state, type: 'sms', purpose: 'login', factorId: 'f-sms', secret: 'HashOfNewCode' }, 60);

      // Down to 0001 (through 0003 and 0002): the columns and the table come back with what they can hold.
      await db.migrate.down({ ...config, name: MIGRATIONS[3] });
      await db.migrate.down({ ...config, name: MIGRATIONS[2] });
      await db.migrate.down({ ...config, name: MIGRATIONS[1] });
      assert.deepEqual(Array.from(await db(t('migrations')).select('name'), (r: { name: string }) => r.name), [MIGRATIONS[0]]);
      assert.deepEqual(
        await database.listTables(),
        withPrefix([...STORE_TABLES.filter((n) => n !== 'factor_state' && n !== 'events'), 'oob_codes', 'migrations', 'migrations_lock']),
      );
      const totpRow: { last_step: unknown } = await db(t('factors')).where({ user_id: alice, id: 'f-totp' }).first('last_step');
      assert.equal(Number(totpRow.last_step), 58_000_124);
      assert.equal(await db.schema.hasColumn(t('factors'), 'lookup_key'), false);
      assert.equal(await db.schema.hasColumn(t('factors'), 'counter'), false);
      const codes: { code_key: string; code_hash: string }[] = await db(t('oob_codes')).select('code_key', 'code_hash').orderBy('code_key');
      assert.deepEqual(Array.from(codes, (r) => [r.code_key, r.code_hash]), [['login:ch-1', 'HashOfEmailCode'], ['login:ch-3', 'HashOfNewCode']], 'WebAuthn state without a factor id stays behind');

      // And up again: the keys are gone, so the key bob was refused is free now.
      await migrate(db, { tablePrefix });
      const upAgain = knexStore(db, { tablePrefix });
      assert.equal((await upAgain.getFactor(alice, 'f-totp'))?.counter, 58_000_124);
      assert.equal((await upAgain.getFactor(alice, 'wa-1'))?.lookupKey, null);
      assert.equal((await upAgain.getFactorState('login:ch-3'))?.secret, 'HashOfNewCode');
      assert.equal(await upAgain.activateFactor(bob, 'wa-2', { confirmedAt: 4, counter: 0, lookupKey: 'cred-1' }), true);
    });

    it('completes a 0002 run that died halfway (MySQL/MariaDB DDL is not transactional)', async () => {
      const { db, tablePrefix } = database;
      const t = (name: string) => `${tablePrefix}${name}`;
      await db.migrate.up({ migrationSource: secondfactorMigrations({ tablePrefix }), tableName: t('migrations'), name: MIGRATIONS[0] });
      const userId = `user-${randomUUID()}`;
      await db(t('factors')).insert({
        user_id: userId, id: 'f-sms', type: 'sms', label: null, status: 'active', secret: null, data: '{}', last_step: null,
        created_at: 1, confirmed_at: 2, last_used_at: null,
      });
      await db(t('oob_codes')).insert({
        code_key: 'login:ch-1', code_hash: 'h', purpose: 'login', factor_id: 'f-sms', user_id: userId, created_at: 1,
        expires_at: 2, attempts: 0, purge_at: Date.now() + 3_600_000,
      });
      // The first steps of 0002 as a run that died would have left them (each DDL statement commits on its own in MySQL).
      await db.schema.alterTable(t('factors'), (table) => {
        table.renameColumn('last_step', 'counter');
      });
      await db.schema.alterTable(t('factors'), (table) => {
        table.string('lookup_key', 512).nullable();
      });
      if (backend === 'mariadb') {
        await db.schema.alterTable(t('factors'), (table) => {
          table.unique(['type', 'lookup_key'], { indexName: t('factors_lookup_uq') });
        });
      }
      await migrate(db, { tablePrefix });
      const store = knexStore(db, { tablePrefix });
      assert.equal((await store.getFactorState('login:ch-1'))?.type, 'sms');
      assert.equal((await store.getFactor(userId, 'f-sms'))?.counter, null);
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
    });

    it('upgrades a database that 0002 created to 0003, with its data, and 0003 goes down and up again', async () => {
      const { db, tablePrefix } = database;
      const t = (name: string) => `${tablePrefix}${name}`;
      const config = { migrationSource: secondfactorMigrations({ tablePrefix }), tableName: t('migrations') };
      await db.migrate.up({ ...config, name: MIGRATIONS[0] });
      await db.migrate.up({ ...config, name: MIGRATIONS[1] });
      assert.equal(await db.schema.hasTable(t('events')), false);
      const factorIndexes0002 = await listIndexes(database, t('factors'));
      assert.deepEqual(factorIndexes0002, [t('factors_lookup_uq')]);

      // Data as 0002's version wrote it.
      const store = knexStore(db, { tablePrefix });
      const alice = `user-${randomUUID()}`;
      const bob = `user-${randomUUID()}`;
      const base = {
        label: null, secret: null, data: {}, counter: null, lookupKey: null, createdAt: 1, confirmedAt: null, lastUsedAt: null,
      };
      const totp = { ...base, id: 'f-totp', userId: alice, type: 'totp', status: 'active' as const, secret: 'v1.k1.aXY.Y2lwaGVy', counter: 58_000_123, confirmedAt: 2 };
      const key = { ...base, id: 'f-key', userId: alice, type: 'webauthn', status: 'active' as const, lookupKey: 'cred-1', counter: 7, confirmedAt: 2 };
      const sms = { ...base, id: 'f-sms', userId: bob, type: 'sms', status: 'pending' as const, data: { phone: '+15005550006' } };
      for (const f of [totp, key, sms]) await store.createFactor(f);

      await migrate(db, { tablePrefix });
      assert.deepEqual(Array.from(await db(t('migrations')).orderBy('id').select('name'), (r: { name: string }) => r.name), MIGRATIONS);
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES, 'migrations', 'migrations_lock']));
      assert.deepEqual(await listIndexes(database, t('events')), [t('events_at_idx'), t('events_day_idx'), t('events_user_idx')]);
      assert.deepEqual(await listIndexes(database, t('factors')), [t('factors_lookup_uq'), t('factors_status_type_idx')]);
      assert.deepEqual(await store.listFactors(alice), [totp, key].sort((a, b) => a.id.localeCompare(b.id)), 'factors kept');
      const counted = await store.countMfaUsers();
      assert.deepEqual({ users: counted.users, byType: [...counted.byType].sort((a, b) => a.type.localeCompare(b.type)) },
        { users: 1, byType: [{ type: 'totp', users: 1 }, { type: 'webauthn', users: 1 }] });
      const event = {
        id: 'AAAAAAAAAAAAAAAAAAAAAA', at: 20_000_000_000_000, day: Math.floor(20_000_000_000_000 / 86_400_000), type: 'mfa.verified',
        userId: alice, outcome: 'success' as const, factorId: 'f-totp', factorType: 'totp', reason: null, purpose: 'login',
        ip: '192.0.2.1', userAgent: 'u'.repeat(512), actor: null, detail: 'd'.repeat(1024),
      };
      await store.appendEvent(event);
      assert.deepEqual(await store.listEvents({ userId: alice, limit: 10 }), [event], 'the longest user agent and detail fit');

      // Down to 0002 (through 0003): the table and the factors index go, the factors stay.
      await db.migrate.down(config);
      await db.migrate.down(config);
      assert.deepEqual(Array.from(await db(t('migrations')).orderBy('id').select('name'), (r: { name: string }) => r.name), MIGRATIONS.slice(0, 2));
      assert.deepEqual(await database.listTables(), withPrefix([...STORE_TABLES.filter((n) => n !== 'events'), 'migrations', 'migrations_lock']));
      assert.deepEqual(await listIndexes(database, t('factors')), factorIndexes0002);
      assert.deepEqual((await store.getFactor(alice, 'f-key'))?.counter, 7);

      // And up again: an empty log that works.
      await migrate(db, { tablePrefix });
      assert.deepEqual(await listIndexes(database, t('factors')), [t('factors_lookup_uq'), t('factors_status_type_idx')]);
      assert.deepEqual(await store.listEvents({ limit: 10 }), []);
      await store.appendEvent(event);
      assert.equal(await store.purgeEvents(event.at + 1), 1);
      assert.equal((await store.countMfaUsers()).users, 1);
    });

    it('completes a 0003 run that died halfway, and a down run that did', async () => {
      const { db, tablePrefix } = database;
      const t = (name: string) => `${tablePrefix}${name}`;
      const config = { migrationSource: secondfactorMigrations({ tablePrefix }), tableName: t('migrations') };
      await db.migrate.up({ ...config, name: MIGRATIONS[0] });
      await db.migrate.up({ ...config, name: MIGRATIONS[1] });
      if (backend === 'mariadb') {
        // What a MySQL run that died after its first steps leaves: the index on factors, no bookkeeping row.
        await db.schema.alterTable(t('factors'), (table) => {
          table.index(['status', 'type', 'user_id'], t('factors_status_type_idx'));
        });
      }
      await migrate(db, { tablePrefix });
      assert.deepEqual(await listIndexes(database, t('factors')), [t('factors_lookup_uq'), t('factors_status_type_idx')]);
      if (backend === 'mariadb') {
        // A down run that dropped the factors index and died before its bookkeeping.
        await db.schema.alterTable(t('factors'), (table) => {
          table.dropIndex(['status', 'type', 'user_id'], t('factors_status_type_idx'));
        });
      }
      await db.migrate.down({ ...config, name: MIGRATIONS[3] });
      await db.migrate.down(config);
      assert.deepEqual(await listIndexes(database, t('factors')), [t('factors_lookup_uq')]);
      assert.equal(await db.schema.hasTable(t('events')), false);
    });

    it('upgrades a database that 0003 created to 0004: attempt states kept with no client counts; 0004 goes down and up again', async () => {
      const { db, tablePrefix } = database;
      const t = (name: string) => `${tablePrefix}${name}`;
      const config = { migrationSource: secondfactorMigrations({ tablePrefix }), tableName: t('migrations') };
      for (const name of MIGRATIONS.slice(0, 3)) await db.migrate.up({ ...config, name });
      assert.equal(await db.schema.hasColumn(t('attempt_state'), 'clients'), false);
      // Rows as 0003's version wrote them: a user's state, and a per-client state keyed by a hash.
      const alice = `user-${randomUUID()}`;
      await db(t('attempt_state')).insert([
        { user_id: alice, failures: 7, blocked_until: 1_700_000_000_000, locked: false, version: 9 },
        { user_id: 'client:0123456789abcdefghijklmnopqrstuv', failures: 3, blocked_until: 20_000_000_000_000, locked: false, version: 3 },
      ]);

      await migrate(db, { tablePrefix });
      assert.deepEqual(Array.from(await db(t('migrations')).orderBy('id').select('name'), (r: { name: string }) => r.name), MIGRATIONS);
      const store = knexStore(db, { tablePrefix });
      assert.deepEqual(await store.getAttemptState(alice), { failures: 7, blockedUntil: 1_700_000_000_000, locked: false, clients: [], version: 9 });
      const clients = [{ key: 'AbC-_0123456789xyzXYZ0', failures: 7, blockedUntil: 20_000_000_000_000 }];
      assert.equal(await store.compareAndSetAttemptState(alice, 9, { failures: 8, blockedUntil: 1_700_000_000_000, locked: false, clients }), true);
      assert.deepEqual(await store.getAttemptState(alice), { failures: 8, blockedUntil: 1_700_000_000_000, locked: false, clients, version: 10 });

      // Down to 0003: the column goes, the counts stay.
      await db.migrate.down(config);
      assert.equal(await db.schema.hasColumn(t('attempt_state'), 'clients'), false);
      const row: { failures: unknown; version: unknown } = await db(t('attempt_state')).where({ user_id: alice }).first('failures', 'version');
      assert.deepEqual([Number(row.failures), Number(row.version)], [8, 10]);

      // Up again, twice (a second run, as after a MySQL run that died after its DDL, changes nothing).
      await migrate(db, { tablePrefix });
      await migrate(db, { tablePrefix });
      assert.deepEqual((await store.getAttemptState(alice))?.clients, []);
      assert.equal(await store.compareAndSetAttemptState(alice, 10, { failures: 0, blockedUntil: 1_700_000_000_000, locked: false, clients }), true);
      assert.deepEqual((await store.getAttemptState(alice))?.clients, clients);
    });
  });
}
