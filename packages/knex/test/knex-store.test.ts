// packages/knex/test/knex-store.test.ts
// What the conformance kit cannot see from outside: case-sensitive keys (MariaDB collations),
// wall-clock expiry and purging, racing backup-code regenerations, and option validation.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { MfaConfigError, type ChallengeRecord, type FactorStateRecord } from '@secondfactor/core';
import { knexStore, migrate, rollback, type KnexMfaStore } from '@secondfactor/knex';
import { BACKENDS, describeBackend, openDatabase, type TestDatabase } from './support/databases';

const challenge = (overrides: Partial<ChallengeRecord> = {}): ChallengeRecord => ({
  id: `ch-${randomUUID()}`, userId: `user-${randomUUID()}`, methods: ['totp'], createdAt: 1, expiresAt: 2, attempts: 0, ...overrides,
});
const oob = (overrides: Partial<FactorStateRecord> = {}): FactorStateRecord => ({
  type: 'sms', secret: 'hash', purpose: 'login', factorId: randomUUID(), userId: `user-${randomUUID()}`, createdAt: 1, expiresAt: 2,
  attempts: 0, ...overrides,
});

for (const backend of BACKENDS) {
  describeBackend(backend)(`knex store specifics on ${backend}`, () => {
    let database: TestDatabase;
    let store: KnexMfaStore;
    const start = Date.now() + 10 * 365 * 86_400_000; // later than any row the real-clock store writes
    let clock = start;
    let clocked: KnexMfaStore;

    beforeAll(async () => {
      database = await openDatabase(backend);
      await migrate(database.db, { tablePrefix: database.tablePrefix });
      store = knexStore(database.db, { tablePrefix: database.tablePrefix });
      clocked = knexStore(database.db, { tablePrefix: database.tablePrefix, physicalNow: () => clock });
    }, 60_000);
    afterAll(async () => {
      if (!database) return;
      try {
        await rollback(database.db, { tablePrefix: database.tablePrefix });
      } finally {
        await database.drop();
      }
    }, 60_000);

    it('compares ids, keys and hashes case-sensitively', async () => {
      const userId = `user-${randomUUID()}`;
      const token = `th-${randomUUID()}`;
      await store.createTrustedDevice({
        id: randomUUID(), userId, tokenHash: `${token}-AbC`, label: null, createdAt: 1, lastSeenAt: 1, expiresAt: 2,
      });
      assert.equal(await store.findTrustedDevice(`${token}-abc`), null, 'token hash differs only in case');
      await store.createTrustedDevice({
        id: randomUUID(), userId, tokenHash: `${token}-abc`, label: null, createdAt: 1, lastSeenAt: 1, expiresAt: 2,
      });
      assert.equal((await store.listTrustedDevices(userId)).length, 2, 'both hashes fit the unique index');

      const id = `ch-${randomUUID()}-Xy`;
      await store.createChallenge(challenge({ id }), 300);
      assert.equal(await store.getChallenge(id.toLowerCase()), null);
      assert.equal(await store.takeChallenge(id.toUpperCase()), false);

      const key = `login:${randomUUID()}`;
      await store.putFactorState(key, oob({ secret: 'HashAbc' }), 300);
      assert.equal(await store.consumeFactorState(key, 'hashabc'), false);
      assert.equal(await store.getFactorState(key.toUpperCase()), null);

      await store.replaceBackupCodes(userId, { salt: 's', hashes: ['$2b$04$AAAA'], createdAt: 1 });
      assert.equal(await store.consumeBackupCode(userId, '$2b$04$aaaa', 2), false);
      assert.equal(await store.consumeBackupCode(userId.toUpperCase(), '$2b$04$AAAA', 2), false);
      assert.equal(await store.consumeBackupCode(userId, '$2b$04$AAAA', 2), true);
    });

    it('reads challenges and codes as absent once their wall-clock TTL has passed, and purges them', async () => {
      clock = start;
      const c = challenge();
      const key = `enroll:${randomUUID()}`;
      const counterKey = `cnt:${randomUUID()}`;
      await clocked.createChallenge(c, 60);
      await clocked.putFactorState(key, oob({ secret: 'h' }), 30);
      assert.equal(await clocked.incrementCounter(counterKey, 10), 1);
      assert.equal(await clocked.incrementCounter(counterKey, 10), 2);

      clock += 10_000; // the counter's TTL is over; the others live
      assert.equal(await clocked.incrementCounter(counterKey, 10), 1, 'restarts at 1 with a new TTL');
      clock += 9_999;
      assert.equal(await clocked.incrementCounter(counterKey, 10), 2, 'the new TTL counts from the restart');
      assert.equal(await clocked.incrementFactorStateAttempts(key), 1);

      clock += 10_001; // 30 s after creation: the code is gone, the challenge lives
      assert.equal(await clocked.getFactorState(key), null);
      assert.equal(await clocked.incrementFactorStateAttempts(key), null);
      assert.equal(await clocked.consumeFactorState(key, 'h'), false);
      assert.deepEqual(await clocked.getChallenge(c.id), c);

      clock += 30_000; // 60 s: the challenge is gone too
      assert.equal(await clocked.getChallenge(c.id), null);
      assert.equal(await clocked.incrementChallengeAttempts(c.id), null);
      assert.equal(await clocked.takeChallenge(c.id), false);

      const live = challenge();
      await clocked.createChallenge(live, 60);
      assert.ok((await clocked.purgeExpired()) >= 3, 'challenge, code and counter rows deleted');
      assert.deepEqual(await clocked.getChallenge(live.id), live, 'live rows stay');
      assert.equal(await clocked.purgeExpired(), 0);
      clock += 60_000;
      assert.equal(await clocked.purgeExpired(), 1);
    });

    it('keeps one whole set when regenerations race each other and consumers', async () => {
      const userId = `user-${randomUUID()}`;
      await store.replaceBackupCodes(userId, { salt: 'old', hashes: ['old-1', 'old-2'], createdAt: 1 });
      const sets = Array.from({ length: 10 }, (_, i) => ({
        salt: `salt-${i}`, hashes: Array.from({ length: 5 }, (__, j) => `set-${i}-code-${j}`), createdAt: 100 + i,
      }));
      await Promise.all([
        ...sets.map((set) => store.replaceBackupCodes(userId, set)),
        store.consumeBackupCode(userId, 'old-1', 2),
        store.getBackupCodes(userId).then((read) => {
          // Any read sees one consistent set: its salt with exactly its own hashes.
          if (read && read.salt !== 'old') assert.deepEqual(read.hashes, sets.find((s) => s.salt === read.salt)?.hashes);
        }),
      ]);
      const final = await store.getBackupCodes(userId);
      const winner = sets.find((s) => s.salt === final?.salt);
      assert.ok(winner, 'the final set is one of the regenerated ones');
      assert.deepEqual(final, winner, 'with all of its codes and none of another set');
    });

    it('keeps the order of a set and round-trips an empty one', async () => {
      const userId = `user-${randomUUID()}`;
      await store.replaceBackupCodes(userId, { salt: 's', hashes: ['z', 'a', 'm', 'a'], createdAt: 5 });
      assert.deepEqual(await store.getBackupCodes(userId), { salt: 's', hashes: ['z', 'a', 'm'], createdAt: 5 }, 'duplicates are one code');
      assert.equal(await store.consumeBackupCode(userId, 'a', 6), true);
      assert.equal(await store.consumeBackupCode(userId, 'z', 6), true);
      assert.equal(await store.consumeBackupCode(userId, 'm', 6), true);
      assert.deepEqual(await store.getBackupCodes(userId), { salt: 's', hashes: [], createdAt: 5 }, 'an used-up set still exists');
      await store.replaceBackupCodes(userId, { salt: 't', hashes: [], createdAt: 7 });
      assert.deepEqual(await store.getBackupCodes(userId), { salt: 't', hashes: [], createdAt: 7 });
    });

    it('accepts counter keys up to 512 characters (they embed host user ids)', async () => {
      const key = `send:user:${'u'.repeat(480)}:${randomUUID()}`.slice(0, 512);
      assert.equal(await store.incrementCounter(key, 60), 1);
      assert.equal(await store.incrementCounter(key, 60), 2);
    });

    it('keeps stores with different table prefixes apart', async () => {
      const other = `${database.tablePrefix}b_`;
      await migrate(database.db, { tablePrefix: other });
      try {
        const second = knexStore(database.db, { tablePrefix: other });
        const c = challenge();
        await store.createChallenge(c, 60);
        assert.equal(await second.getChallenge(c.id), null);
        assert.equal(await second.compareAndSetAttemptState(c.userId, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] }), true);
        assert.equal(await store.getAttemptState(c.userId), null);
      } finally {
        await rollback(database.db, { tablePrefix: other });
      }
    });
  });
}

describe('knexStore options', () => {
  const fakeKnex = (dialect: string): Knex => Object.assign(() => undefined, { client: { dialect }, transaction: () => undefined }) as unknown as Knex;

  it('rejects table prefixes that are not plain identifiers', () => {
    for (const tablePrefix of ['mfa-', 'mfa; DROP TABLE users; --', '1mfa_', 'a'.repeat(37), 'schema.mfa_']) {
      assert.throws(() => knexStore(fakeKnex('postgresql'), { tablePrefix }), MfaConfigError, tablePrefix);
    }
    assert.doesNotThrow(() => knexStore(fakeKnex('postgresql'), { tablePrefix: '' }));
    assert.doesNotThrow(() => knexStore(fakeKnex('sqlite3'), { tablePrefix: 'Mfa_2_' }));
  });

  it('names the supported databases when given another one', () => {
    assert.throws(() => knexStore(fakeKnex('mssql')), (error: unknown) =>
      error instanceof MfaConfigError && error.option === 'knex' && /PostgreSQL.*SQLite.*MariaDB/.test(error.message));
    assert.throws(() => knexStore({} as Knex), MfaConfigError);
  });
});
