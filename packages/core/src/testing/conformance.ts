// packages/core/src/testing/conformance.ts
// The storage conformance kit: one suite that every adapter — ours or a host's — runs against a
// real backend. Written on node:assert, so it works under Jest, Vitest, Mocha or node:test.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FactorRecord, MfaStore, TrustedDeviceRecord, ChallengeRecord, OobCodeRecord } from '../store';

export interface ConformanceHarness {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  beforeAll: (fn: () => Promise<void> | void, timeoutMs?: number) => void;
  afterAll: (fn: () => Promise<void> | void, timeoutMs?: number) => void;
}

export interface ConformanceStore {
  store: MfaStore;
  /** Drops whatever the run created (tables, keys). */
  cleanup: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Parallel callers in the concurrency cases (default 25). */
  concurrency?: number;
  /** Test functions; defaults to the globals `describe`, `it`, `beforeAll`, `afterAll`. */
  harness?: ConformanceHarness;
  /** Skip the suites of one half when an adapter implements only durable or ephemeral data. */
  only?: 'durable' | 'ephemeral';
}

function globalHarness(): ConformanceHarness {
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of ['describe', 'it', 'beforeAll', 'afterAll']) {
    if (typeof g[name] !== 'function') {
      throw new TypeError(`runStoreConformance: no global \`${name}\`; pass options.harness`);
    }
  }
  return g as unknown as ConformanceHarness;
}

const uid = () => `user-${randomUUID()}`;

function factor(userId: string, overrides: Partial<FactorRecord> = {}): FactorRecord {
  return {
    id: randomUUID(), userId, type: 'totp', label: 'Phone', status: 'pending',
    secret: 'v1.k1.aXY.Y2lwaGVy', data: { algorithm: 'SHA1', digits: 6, periodSeconds: 30 },
    lastStep: null, createdAt: 1_700_000_000_000, confirmedAt: null, lastUsedAt: null, ...overrides,
  };
}

function challenge(userId: string, overrides: Partial<ChallengeRecord> = {}): ChallengeRecord {
  return {
    id: `ch-${randomUUID()}`, userId, methods: ['totp', 'backup_code'], createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_300_000, attempts: 0, ...overrides,
  };
}

function oob(userId: string, overrides: Partial<OobCodeRecord> = {}): OobCodeRecord {
  return {
    codeHash: 'hash-a', purpose: 'login', factorId: randomUUID(), userId, createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_300_000, attempts: 0, ...overrides,
  };
}

function device(userId: string, overrides: Partial<TrustedDeviceRecord> = {}): TrustedDeviceRecord {
  return {
    id: randomUUID(), userId, tokenHash: `th-${randomUUID()}`, label: 'Chrome on Linux',
    createdAt: 1_700_000_000_000, lastSeenAt: 1_700_000_000_000, expiresAt: 1_702_592_000_000, ...overrides,
  };
}

async function parallel<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
}

const winners = (results: boolean[]) => results.filter(Boolean).length;

/**
 * Registers the conformance suites for one store.
 *
 * @example
 * runStoreConformance('knex/postgres', async () => {
 *   const store = knexStore(db, { tablePrefix: 'sf_test_' }); await migrate(db, ...);
 *   return { store, cleanup: () => dropTables(db) };
 * });
 */
export function runStoreConformance(
  name: string,
  makeStore: () => Promise<ConformanceStore> | ConformanceStore,
  options: ConformanceOptions = {},
): void {
  const { describe, it, beforeAll, afterAll } = options.harness ?? globalHarness();
  const n = options.concurrency ?? 25;
  let handle: ConformanceStore | undefined;
  const s = (): MfaStore => {
    if (!handle) throw new Error('store not ready');
    return handle.store;
  };

  describe(`store conformance: ${name}`, () => {
    beforeAll(async () => {
      handle = await makeStore();
    }, 60_000);
    afterAll(async () => {
      await handle?.cleanup();
    }, 60_000);

    if (options.only !== 'ephemeral') {
      describe('factors', () => {
        it('creates, reads and lists factors of one user only, oldest first', async () => {
          const u = uid();
          const other = uid();
          const a = factor(u, { createdAt: 1_000 });
          const b = factor(u, { createdAt: 2_000, type: 'sms', secret: null, data: { phone: '+15005550006' } });
          await s().createFactor(b);
          await s().createFactor(a);
          await s().createFactor(factor(other));
          assert.deepEqual(await s().getFactor(u, a.id), a);
          assert.deepEqual(await s().listFactors(u), [a, b]);
          assert.equal(await s().getFactor(other, a.id), null, 'a factor is only found under its own user');
          assert.equal(await s().getFactor(u, randomUUID()), null);
          assert.deepEqual(await s().listFactors(uid()), []);
        });

        it('round-trips large step numbers and timestamps exactly', async () => {
          const u = uid();
          const f = factor(u, { status: 'active', lastStep: 666_666_666, createdAt: 20_000_000_000_000, confirmedAt: 20_000_000_000_001, lastUsedAt: 20_000_000_000_002 });
          await s().createFactor(f);
          assert.deepEqual(await s().getFactor(u, f.id), f);
        });

        it('activates a pending factor once, recording the confirming step', async () => {
          const u = uid();
          const f = factor(u);
          await s().createFactor(f);
          assert.equal(await s().activateFactor(u, f.id, 5_000, 42), true);
          const got = await s().getFactor(u, f.id);
          assert.equal(got?.status, 'active');
          assert.equal(got?.confirmedAt, 5_000);
          assert.equal(got?.lastStep, 42);
          assert.equal(await s().activateFactor(u, f.id, 6_000, 43), false, 'already active');
          assert.equal(await s().activateFactor(uid(), f.id, 6_000, 43), false, 'other user');
        });

        it('updates the secret and last use', async () => {
          const u = uid();
          const f = factor(u, { status: 'active' });
          await s().createFactor(f);
          await s().updateFactorSecret(u, f.id, 'v1.k2.bmV3.c2VjcmV0');
          await s().touchFactor(u, f.id, 9_000);
          const got = await s().getFactor(u, f.id);
          assert.equal(got?.secret, 'v1.k2.bmV3.c2VjcmV0');
          assert.equal(got?.lastUsedAt, 9_000);
        });

        it('deletes one factor, then all of a user', async () => {
          const u = uid();
          const other = uid();
          const a = factor(u);
          const b = factor(u);
          const c = factor(other);
          for (const f of [a, b, c]) await s().createFactor(f);
          assert.equal(await s().deleteFactor(other, a.id), false, 'not under another user');
          assert.equal(await s().deleteFactor(u, a.id), true);
          assert.equal(await s().deleteFactor(u, a.id), false);
          assert.equal(await s().deleteFactors(u), 1);
          assert.deepEqual(await s().listFactors(u), []);
          assert.equal((await s().listFactors(other)).length, 1);
        });
      });

      describe('totp replay guard', () => {
        it('accepts a step only when it is newer than the last one', async () => {
          const u = uid();
          const f = factor(u, { status: 'active' });
          await s().createFactor(f);
          assert.equal(await s().recordTotpStep(u, f.id, 100, 1), true);
          assert.equal(await s().recordTotpStep(u, f.id, 100, 2), false, 'same step');
          assert.equal(await s().recordTotpStep(u, f.id, 99, 3), false, 'older step');
          assert.equal(await s().recordTotpStep(u, f.id, 101, 4), true);
          const got = await s().getFactor(u, f.id);
          assert.equal(got?.lastStep, 101);
          assert.equal(got?.lastUsedAt, 4);
          assert.equal(await s().recordTotpStep(u, randomUUID(), 500, 5), false, 'unknown factor');
          assert.equal(await s().recordTotpStep(uid(), f.id, 500, 5), false, 'other user');
        });

        it(`gives exactly one winner to ${n} parallel callers with one step`, async () => {
          const u = uid();
          const f = factor(u, { status: 'active', lastStep: 10 });
          await s().createFactor(f);
          const results = await parallel(n, () => s().recordTotpStep(u, f.id, 11, 1));
          assert.equal(winners(results), 1);
        });
      });

      describe('backup codes', () => {
        it('stores a set, consumes each code once and reports the rest', async () => {
          const u = uid();
          await s().replaceBackupCodes(u, { salt: '$2b$04$abcdefghijklmnopqrstuv', hashes: ['h1', 'h2', 'h3'], createdAt: 7 });
          assert.deepEqual(await s().getBackupCodes(u), { salt: '$2b$04$abcdefghijklmnopqrstuv', hashes: ['h1', 'h2', 'h3'], createdAt: 7 });
          assert.equal(await s().consumeBackupCode(u, 'h2', 8), true);
          assert.equal(await s().consumeBackupCode(u, 'h2', 9), false, 'second use');
          assert.equal(await s().consumeBackupCode(u, 'nope', 9), false);
          assert.equal(await s().consumeBackupCode(uid(), 'h1', 9), false, 'other user');
          assert.deepEqual((await s().getBackupCodes(u))?.hashes.sort(), ['h1', 'h3']);
          assert.equal(await s().getBackupCodes(uid()), null);
        });

        it('replaces the whole set: no code of the old set works afterwards', async () => {
          const u = uid();
          await s().replaceBackupCodes(u, { salt: 's1', hashes: ['a1', 'a2'], createdAt: 1 });
          await s().replaceBackupCodes(u, { salt: 's2', hashes: ['b1', 'b2', 'b3'], createdAt: 2 });
          assert.equal(await s().consumeBackupCode(u, 'a1', 3), false);
          const set = await s().getBackupCodes(u);
          assert.equal(set?.salt, 's2');
          assert.deepEqual(set?.hashes.sort(), ['b1', 'b2', 'b3']);
          await s().deleteBackupCodes(u);
          assert.equal(await s().getBackupCodes(u), null);
          assert.equal(await s().consumeBackupCode(u, 'b1', 4), false);
        });

        it(`gives exactly one winner to ${n} parallel consumers of one code`, async () => {
          const u = uid();
          await s().replaceBackupCodes(u, { salt: 's', hashes: ['x1', 'x2'], createdAt: 1 });
          const results = await parallel(n, () => s().consumeBackupCode(u, 'x1', 2));
          assert.equal(winners(results), 1);
          assert.deepEqual((await s().getBackupCodes(u))?.hashes, ['x2']);
        });

        it('keeps the set whole when a regeneration races consumers', async () => {
          const u = uid();
          await s().replaceBackupCodes(u, { salt: 's', hashes: ['o1', 'o2', 'o3'], createdAt: 1 });
          await Promise.all([
            ...['o1', 'o2', 'o3'].map((h) => s().consumeBackupCode(u, h, 2)),
            s().replaceBackupCodes(u, { salt: 't', hashes: ['n1', 'n2', 'n3'], createdAt: 3 }),
          ]);
          const set = await s().getBackupCodes(u);
          assert.equal(set?.salt, 't');
          assert.deepEqual(set?.hashes.sort(), ['n1', 'n2', 'n3'], 'no old code survives and no new one is lost');
        });
        it('serialises racing regenerations: one whole set wins, never a mix', async () => {
          const u = uid();
          const sets = Array.from({ length: 6 }, (_, i) => ({ salt: `salt-${i}`, hashes: [`r${i}-a`, `r${i}-b`, `r${i}-c`], createdAt: i }));
          await Promise.all(sets.map((set) => s().replaceBackupCodes(u, set)));
          const got = await s().getBackupCodes(u);
          const winner = sets.find((set) => set.salt === got?.salt);
          assert.ok(winner, 'the salt is one of the sets');
          assert.deepEqual([...got!.hashes].sort(), [...winner.hashes].sort(), 'the codes belong to the same set as the salt');
        });

        it('treats hashes that differ only in letter case as different', async () => {
          const u = uid();
          await s().replaceBackupCodes(u, { salt: 's', hashes: ['AbC'], createdAt: 1 });
          assert.equal(await s().consumeBackupCode(u, 'abc', 2), false);
          assert.equal(await s().consumeBackupCode(u, 'ABC', 2), false);
          assert.equal(await s().consumeBackupCode(u, 'AbC', 2), true);
        });
      });

      describe('trusted devices', () => {
        it('finds a device by token hash, lists, touches and revokes per user', async () => {
          const u = uid();
          const other = uid();
          const d1 = device(u, { createdAt: 1 });
          const d2 = device(u, { createdAt: 2 });
          const d3 = device(other);
          for (const d of [d1, d2, d3]) await s().createTrustedDevice(d);
          assert.deepEqual(await s().findTrustedDevice(d1.tokenHash), d1);
          assert.equal(await s().findTrustedDevice('th-unknown'), null);
          assert.equal(await s().findTrustedDevice(d1.tokenHash.toUpperCase()), null, 'token hashes are case-sensitive');
          assert.deepEqual((await s().listTrustedDevices(u)).map((d) => d.id), [d1.id, d2.id]);
          await s().touchTrustedDevice(u, d1.id, 99);
          assert.equal((await s().findTrustedDevice(d1.tokenHash))?.lastSeenAt, 99);
          assert.equal((await s().findTrustedDevice(d1.tokenHash))?.expiresAt, d1.expiresAt, 'touch never extends expiry');
          assert.equal(await s().deleteTrustedDevice(other, d1.id), false, 'not under another user');
          assert.equal(await s().deleteTrustedDevice(u, d1.id), true);
          assert.equal(await s().findTrustedDevice(d1.tokenHash), null);
          assert.equal(await s().deleteTrustedDevices(u), 1);
          assert.deepEqual(await s().listTrustedDevices(u), []);
          assert.equal((await s().listTrustedDevices(other)).length, 1);
        });
      });
    }

    if (options.only !== 'durable') {
      describe('challenges', () => {
        it('creates, reads, counts attempts and is taken once', async () => {
          const c = challenge(uid());
          await s().createChallenge(c, 300);
          assert.deepEqual(await s().getChallenge(c.id), c);
          assert.equal(await s().incrementChallengeAttempts(c.id), 1);
          assert.equal(await s().incrementChallengeAttempts(c.id), 2);
          assert.equal((await s().getChallenge(c.id))?.attempts, 2);
          assert.equal(await s().takeChallenge(c.id), true);
          assert.equal(await s().takeChallenge(c.id), false);
          assert.equal(await s().getChallenge(c.id), null);
          assert.equal(await s().incrementChallengeAttempts(c.id), null, 'gone');
        });

        it(`gives exactly one winner to ${n} parallel takers`, async () => {
          const c = challenge(uid());
          await s().createChallenge(c, 300);
          assert.equal(winners(await parallel(n, () => s().takeChallenge(c.id))), 1);
        });

        it(`counts ${n} parallel attempts without losing one`, async () => {
          const c = challenge(uid());
          await s().createChallenge(c, 300);
          const counts = await parallel(n, () => s().incrementChallengeAttempts(c.id));
          assert.deepEqual([...counts].sort((a, b) => (a ?? 0) - (b ?? 0)), Array.from({ length: n }, (_, i) => i + 1));
        });
      });

      describe('out-of-band codes', () => {
        it('replaces, counts attempts and consumes only with the right hash', async () => {
          const u = uid();
          const key = `login:${randomUUID()}`;
          const first = oob(u, { codeHash: 'first' });
          await s().putOobCode(key, first, 300);
          assert.deepEqual(await s().getOobCode(key), first);
          const second = oob(u, { codeHash: 'second' });
          await s().putOobCode(key, second, 300);
          assert.equal(await s().consumeOobCode(key, 'first'), false, 'a resend invalidates the old code');
          assert.equal(await s().incrementOobAttempts(key), 1);
          assert.equal((await s().getOobCode(key))?.attempts, 1);
          assert.equal(await s().consumeOobCode(key, 'second'), true);
          assert.equal(await s().consumeOobCode(key, 'second'), false);
          assert.equal(await s().getOobCode(key), null);
          assert.equal(await s().incrementOobAttempts(key), null);
          await s().putOobCode(key, oob(u), 300);
          await s().deleteOobCode(key);
          assert.equal(await s().getOobCode(key), null);
        });

        it(`gives exactly one winner to ${n} parallel consumers`, async () => {
          const key = `enroll:${randomUUID()}`;
          await s().putOobCode(key, oob(uid(), { codeHash: 'c' }), 300);
          assert.equal(winners(await parallel(n, () => s().consumeOobCode(key, 'c'))), 1);
        });
      });

      describe('counters', () => {
        it('increments atomically under concurrency', async () => {
          const key = `cnt:${randomUUID()}`;
          const values = await parallel(n, () => s().incrementCounter(key, 60));
          assert.deepEqual([...values].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
          assert.equal(await s().incrementCounter(key, 60), n + 1);
          assert.equal(await s().incrementCounter(`cnt:${randomUUID()}`, 60), 1, 'keys are independent');
        });

        it('reads a counter without changing it (0 when absent)', async () => {
          const key = `cnt:${randomUUID()}`;
          assert.equal(await s().getCounter(key), 0);
          await s().incrementCounter(key, 60);
          await s().incrementCounter(key, 60);
          assert.equal(await s().getCounter(key), 2);
          assert.equal(await s().getCounter(key), 2, 'reading does not increment');
          assert.equal(await s().incrementCounter(key, 60), 3);
        });

        it('forgets a counter after its TTL', async () => {
          const key = `cnt:${randomUUID()}`;
          assert.equal(await s().incrementCounter(key, 1), 1);
          await new Promise((r) => setTimeout(r, 2100));
          assert.equal(await s().getCounter(key), 0, 'an expired counter reads as 0');
          assert.equal(await s().incrementCounter(key, 1), 1);
        }, 10_000);
      });

      describe('attempt state', () => {
        it('compare-and-set creates, updates and refuses stale versions', async () => {
          const u = uid();
          assert.equal(await s().getAttemptState(u), null);
          assert.equal(await s().compareAndSetAttemptState(u, 3, { failures: 1, blockedUntil: 0, locked: false }), false);
          assert.equal(await s().compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 1, blockedUntil: 0, locked: false, version: 1 });
          assert.equal(await s().compareAndSetAttemptState(u, null, { failures: 9, blockedUntil: 0, locked: false }), false, 'exists already');
          assert.equal(await s().compareAndSetAttemptState(u, 1, { failures: 5, blockedUntil: 20_000_000_000_000, locked: true }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 5, blockedUntil: 20_000_000_000_000, locked: true, version: 2 });
          assert.equal(await s().compareAndSetAttemptState(u, 1, { failures: 0, blockedUntil: 0, locked: false }), false, 'stale');
        });

        it(`gives exactly one winner to ${n} parallel writers of one version`, async () => {
          const u = uid();
          await s().compareAndSetAttemptState(u, null, { failures: 0, blockedUntil: 0, locked: false });
          const results = await parallel(n, (i) => s().compareAndSetAttemptState(u, 1, { failures: i + 1, blockedUntil: 0, locked: false }));
          assert.equal(winners(results), 1);
          assert.equal((await s().getAttemptState(u))?.version, 2);
        });

        it(`gives exactly one creator among ${n} parallel first writers`, async () => {
          const u = uid();
          const results = await parallel(n, () => s().compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false }));
          assert.equal(winners(results), 1);
        });
      });
    }
  });
}
