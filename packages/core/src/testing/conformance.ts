// packages/core/src/testing/conformance.ts
// The storage conformance kit: one suite that every adapter — ours or a host's — runs against a
// real backend. Written on node:assert, so it works under Jest, Vitest, Mocha or node:test.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  AuditDayCount, AuditEventRecord, ChallengeRecord, FactorRecord, FactorStateRecord, MfaStore, TrustedDeviceRecord,
} from '../store';

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
    counter: null, lookupKey: null, createdAt: 1_700_000_000_000, confirmedAt: null, lastUsedAt: null, ...overrides,
  };
}

function challenge(userId: string, overrides: Partial<ChallengeRecord> = {}): ChallengeRecord {
  return {
    id: `ch-${randomUUID()}`, userId, methods: ['totp', 'backup_code'], createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_300_000, attempts: 0, ...overrides,
  };
}

function factorState(userId: string, overrides: Partial<FactorStateRecord> = {}): FactorStateRecord {
  return {
    type: 'sms', purpose: 'login', userId, factorId: randomUUID(), secret: 'hash-a', createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_300_000, attempts: 0, ...overrides,
  };
}

/** A lookup key as a public-key credential id would give one: base64url, random. */
const credentialId = () => randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');

function device(userId: string, overrides: Partial<TrustedDeviceRecord> = {}): TrustedDeviceRecord {
  return {
    id: randomUUID(), userId, tokenHash: `th-${randomUUID()}`, label: 'Chrome on Linux',
    createdAt: 1_700_000_000_000, lastSeenAt: 1_700_000_000_000, expiresAt: 1_702_592_000_000, ...overrides,
  };
}

const DAY_MS = 86_400_000;

/**
 * An event id: 22 characters like core's, but lowercase hex only, so that every database's
 * collation orders ties the way this file's code-unit comparison expects.
 */
const eventId = () => randomBytes(11).toString('hex');

function event(userId: string, at: number, overrides: Partial<AuditEventRecord> = {}): AuditEventRecord {
  return {
    id: eventId(), at, day: Math.floor(at / DAY_MS), type: 'mfa.verified', userId, outcome: 'success', factorId: null,
    factorType: null, reason: null, purpose: null, ip: null, userAgent: null, actor: null, detail: null, ...overrides,
  };
}

/** Newest first: `at` descending, ties by `id` descending. */
const newestFirst = (a: AuditEventRecord, b: AuditEventRecord) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * The first millisecond of a random UTC day far from every other test's events (the audit-log
 * queries without a user id, and `countEventsByDay`, read the whole store).
 */
const freshDayStart = () => (40_000 + (randomBytes(4).readUInt32BE(0) % 100_000)) * DAY_MS;

/** Day counts in one order, whatever order the store returned them in. */
const sortedCounts = (counts: AuditDayCount[]) => [...counts].map((c) => ({ ...c })).sort((a, b) =>
  a.day - b.day || `${a.type}|${a.factorType}|${a.outcome}`.localeCompare(`${b.type}|${b.factorType}|${b.outcome}`));

/** Walks every page of `limit` events after each page's last event; returns the ids in order. */
async function walkPages(
  store: MfaStore, query: { userId?: string; since?: number; until?: number }, limit: number,
): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let before: { at: number; id: string } | undefined;
  for (let guard = 0; guard < 100; guard++) {
    const page = await store.listEvents({ ...query, limit, ...(before ? { before } : {}) });
    pages.push(page.length);
    ids.push(...page.map((e) => e.id));
    const last = page.at(-1);
    if (!last) break;
    before = { at: last.at, id: last.id };
  }
  return { ids, pages };
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

        it('round-trips large counters, lookup keys and timestamps exactly', async () => {
          const u = uid();
          const f = factor(u, {
            status: 'active', counter: 4_294_967_295, lookupKey: credentialId(), createdAt: 20_000_000_000_000,
            confirmedAt: 20_000_000_000_001, lastUsedAt: 20_000_000_000_002,
          });
          await s().createFactor(f);
          assert.deepEqual(await s().getFactor(u, f.id), f);
          const totp = factor(u, { status: 'active', counter: 666_666_666 });
          await s().createFactor(totp);
          assert.deepEqual(await s().getFactor(u, totp.id), totp);
        });

        it('round-trips a lookup key of 512 characters, case-sensitively', async () => {
          const u = uid();
          const key = 'Ab-_'.repeat(128);
          const f = factor(u, { type: 'security_key', secret: null, data: {} });
          await s().createFactor(f);
          assert.equal(await s().activateFactor(u, f.id, { confirmedAt: 1, counter: 0, lookupKey: key }), true);
          assert.equal((await s().getFactor(u, f.id))?.lookupKey, key);
          const g = factor(uid(), { type: 'security_key', secret: null, data: {} });
          await s().createFactor(g);
          assert.equal(await s().activateFactor(g.userId, g.id, { confirmedAt: 1, counter: 0, lookupKey: key.toLowerCase() }), true, 'keys differing in case are different keys');
        });

        it('activates a pending factor once, recording the confirming counter', async () => {
          const u = uid();
          const f = factor(u);
          await s().createFactor(f);
          assert.equal(await s().activateFactor(u, f.id, { confirmedAt: 5_000, counter: 42 }), true);
          const got = await s().getFactor(u, f.id);
          assert.deepEqual(got, { ...f, status: 'active', confirmedAt: 5_000, lastUsedAt: got?.lastUsedAt, counter: 42 }, 'data and lookup key untouched when not given');
          assert.equal(await s().activateFactor(u, f.id, { confirmedAt: 6_000, counter: 43 }), false, 'already active');
          assert.equal(await s().activateFactor(uid(), f.id, { confirmedAt: 6_000, counter: 43 }), false, 'other user');
          assert.equal(await s().activateFactor(u, randomUUID(), { confirmedAt: 6_000, counter: 43 }), false, 'unknown factor');
          assert.equal((await s().getFactor(u, f.id))?.counter, 42, 'a refused activation changes nothing');
        });

        it('activates with a null counter, replacing data and setting the lookup key when given', async () => {
          const u = uid();
          const f = factor(u, { type: 'security_key', secret: null, data: { challengePending: true } });
          await s().createFactor(f);
          const data = { publicKey: 'pQECAyYgASFYIA', transports: ['usb', 'nfc'], backedUp: false, aaguid: null };
          const lookupKey = credentialId();
          assert.equal(await s().activateFactor(u, f.id, { confirmedAt: 7_000, counter: null, data, lookupKey }), true);
          const got = await s().getFactor(u, f.id);
          assert.deepEqual(got, { ...f, status: 'active', confirmedAt: 7_000, lastUsedAt: got?.lastUsedAt, counter: null, data, lookupKey });
        });

        it('refuses a lookup key another factor of the same type holds, leaving the factor pending', async () => {
          const key = credentialId();
          const first = factor(uid(), { type: 'security_key', secret: null, data: {} });
          const second = factor(uid(), { type: 'security_key', secret: null, data: { mine: true } });
          const sameUser = factor(first.userId, { type: 'security_key', secret: null, data: {} });
          for (const f of [first, second, sameUser]) await s().createFactor(f);
          assert.equal(await s().activateFactor(first.userId, first.id, { confirmedAt: 1, counter: 5, lookupKey: key }), true);
          assert.equal(await s().activateFactor(second.userId, second.id, { confirmedAt: 2, counter: 9, data: { theirs: true }, lookupKey: key }), false, 'another user');
          assert.deepEqual(await s().getFactor(second.userId, second.id), second, 'still pending, unchanged');
          assert.equal(await s().activateFactor(sameUser.userId, sameUser.id, { confirmedAt: 2, counter: 9, lookupKey: key }), false, 'the same user');
          assert.deepEqual(await s().getFactor(sameUser.userId, sameUser.id), sameUser);
          assert.equal(await s().activateFactor(second.userId, second.id, { confirmedAt: 3, counter: 9, lookupKey: credentialId() }), true, 'another key is fine');
        });

        it('refuses a lookup key held by a still pending factor created with it', async () => {
          const key = credentialId();
          const holder = factor(uid(), { type: 'security_key', secret: null, data: {}, lookupKey: key });
          await s().createFactor(holder);
          const f = factor(uid(), { type: 'security_key', secret: null, data: {} });
          await s().createFactor(f);
          assert.equal(await s().activateFactor(f.userId, f.id, { confirmedAt: 1, counter: 0, lookupKey: key }), false);
          assert.equal((await s().getFactor(f.userId, f.id))?.status, 'pending');
        });

        it('allows one lookup key in different types, and any number of factors without one', async () => {
          const key = credentialId();
          const u = uid();
          const a = factor(u, { type: 'security_key', secret: null, data: {} });
          const b = factor(uid(), { type: 'toy', secret: null, data: {} });
          const c = factor(u);
          const d = factor(uid());
          for (const f of [a, b, c, d]) await s().createFactor(f);
          assert.equal(await s().activateFactor(a.userId, a.id, { confirmedAt: 1, counter: 0, lookupKey: key }), true);
          assert.equal(await s().activateFactor(b.userId, b.id, { confirmedAt: 1, counter: null, lookupKey: key }), true, 'same key, other type');
          assert.equal(await s().activateFactor(c.userId, c.id, { confirmedAt: 1, counter: 10 }), true);
          assert.equal(await s().activateFactor(d.userId, d.id, { confirmedAt: 1, counter: 10 }), true, 'two activations without a key');
          assert.equal((await s().getFactor(d.userId, d.id))?.lookupKey, null);
        });

        it('frees a lookup key when its factor is deleted', async () => {
          const key = credentialId();
          const a = factor(uid(), { type: 'security_key', secret: null, data: {} });
          const b = factor(uid(), { type: 'security_key', secret: null, data: {} });
          for (const f of [a, b]) await s().createFactor(f);
          assert.equal(await s().activateFactor(a.userId, a.id, { confirmedAt: 1, counter: 0, lookupKey: key }), true);
          assert.equal(await s().deleteFactor(a.userId, a.id), true);
          assert.equal(await s().activateFactor(b.userId, b.id, { confirmedAt: 2, counter: 0, lookupKey: key }), true);
        });

        it('frees the lookup keys of all of a user\'s factors deleted at once, and of no one else', async () => {
          const [k1, k2, kept] = [credentialId(), credentialId(), credentialId()];
          const u = uid();
          const mine = [factor(u, { type: 'security_key', secret: null, data: {} }), factor(u, { type: 'security_key', secret: null, data: {} })];
          const theirs = factor(uid(), { type: 'security_key', secret: null, data: {} });
          const later = Array.from({ length: 3 }, () => factor(uid(), { type: 'security_key', secret: null, data: {} }));
          for (const f of [...mine, theirs, ...later]) await s().createFactor(f);
          assert.equal(await s().activateFactor(u, mine[0]!.id, { confirmedAt: 1, counter: 0, lookupKey: k1 }), true);
          assert.equal(await s().activateFactor(u, mine[1]!.id, { confirmedAt: 1, counter: 0, lookupKey: k2 }), true);
          assert.equal(await s().activateFactor(theirs.userId, theirs.id, { confirmedAt: 1, counter: 0, lookupKey: kept }), true);
          assert.equal(await s().deleteFactors(u), 2);
          assert.equal(await s().activateFactor(later[0]!.userId, later[0]!.id, { confirmedAt: 2, counter: 0, lookupKey: k1 }), true);
          assert.equal(await s().activateFactor(later[1]!.userId, later[1]!.id, { confirmedAt: 2, counter: 0, lookupKey: k2 }), true);
          assert.equal(await s().activateFactor(later[2]!.userId, later[2]!.id, { confirmedAt: 2, counter: 0, lookupKey: kept }), false, 'another user\'s key is still held');
        });

        it(`activates exactly one of ${n} pending factors racing for one lookup key`, async () => {
          const key = credentialId();
          const pending = Array.from({ length: n }, () => factor(uid(), { type: 'security_key', secret: null, data: {} }));
          for (const f of pending) await s().createFactor(f);
          const results = await parallel(n, (i) => s().activateFactor(pending[i]!.userId, pending[i]!.id, { confirmedAt: 1, counter: 0, lookupKey: key }));
          assert.equal(winners(results), 1);
          const states = await Promise.all(pending.map((f) => s().getFactor(f.userId, f.id)));
          assert.equal(states.filter((f) => f?.status === 'active' && f.lookupKey === key).length, 1);
          assert.equal(states.filter((f) => f?.status === 'pending' && f.lookupKey === null).length, n - 1, 'the losers stay pending, without the key');
        });

        it(`activates a factor once when ${n} callers race`, async () => {
          const u = uid();
          const f = factor(u);
          await s().createFactor(f);
          const results = await parallel(n, (i) => s().activateFactor(u, f.id, { confirmedAt: 1_000 + i, counter: i }));
          assert.equal(winners(results), 1);
        });

        it('updates the secret and last use', async () => {
          const u = uid();
          const f = factor(u, { status: 'active', counter: 7 });
          await s().createFactor(f);
          await s().updateFactorSecret(u, f.id, 'v1.k2.bmV3.c2VjcmV0');
          await s().touchFactor(u, f.id, 9_000);
          const got = await s().getFactor(u, f.id);
          assert.equal(got?.secret, 'v1.k2.bmV3.c2VjcmV0');
          assert.equal(got?.lastUsedAt, 9_000);
          assert.equal(got?.counter, 7, 'touching leaves the counter alone');
          await s().touchFactor(u, f.id, 9_500);
          assert.equal((await s().getFactor(u, f.id))?.lastUsedAt, 9_500);
          await s().touchFactor(uid(), f.id, 10_000);
          assert.equal((await s().getFactor(u, f.id))?.lastUsedAt, 9_500, 'not under another user');
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

      describe('factor counter (replay and clone guard)', () => {
        it('advances only to a higher counter, setting the last use', async () => {
          const u = uid();
          const f = factor(u, { status: 'active' });
          await s().createFactor(f);
          assert.equal(await s().advanceFactorCounter(u, f.id, 100, 1), true, 'from null');
          assert.equal(await s().advanceFactorCounter(u, f.id, 100, 2), false, 'equal');
          assert.equal(await s().advanceFactorCounter(u, f.id, 99, 3), false, 'lower');
          assert.equal((await s().getFactor(u, f.id))?.lastUsedAt, 1, 'a refused value does not count as a use');
          assert.equal(await s().advanceFactorCounter(u, f.id, 101, 4), true);
          const got = await s().getFactor(u, f.id);
          assert.equal(got?.counter, 101);
          assert.equal(got?.lastUsedAt, 4);
          assert.equal(await s().advanceFactorCounter(u, f.id, 4_294_967_295, 5), true, 'a 32-bit signature counter');
          assert.equal((await s().getFactor(u, f.id))?.counter, 4_294_967_295);
          assert.equal(await s().advanceFactorCounter(u, randomUUID(), 500, 5), false, 'unknown factor');
          assert.equal(await s().advanceFactorCounter(uid(), f.id, 5_000_000_000, 5), false, 'other user');
        });

        it('accepts 0 as the first counter, and only once', async () => {
          const u = uid();
          const f = factor(u, { status: 'active', type: 'security_key', secret: null, data: {} });
          await s().createFactor(f);
          assert.equal(await s().advanceFactorCounter(u, f.id, 0, 1), true);
          assert.equal((await s().getFactor(u, f.id))?.counter, 0);
          assert.equal(await s().advanceFactorCounter(u, f.id, 0, 2), false);
        });

        it(`gives exactly one winner to ${n} parallel callers with one value`, async () => {
          const u = uid();
          const f = factor(u, { status: 'active', counter: 10 });
          await s().createFactor(f);
          const results = await parallel(n, () => s().advanceFactorCounter(u, f.id, 11, 1));
          assert.equal(winners(results), 1);
          assert.equal((await s().getFactor(u, f.id))?.counter, 11);
        });

        it(`gives exactly one winner to ${n} parallel callers from a null counter`, async () => {
          const u = uid();
          const f = factor(u, { status: 'active' });
          await s().createFactor(f);
          const results = await parallel(n, () => s().advanceFactorCounter(u, f.id, 1, 1));
          assert.equal(winners(results), 1);
        });

        it(`never moves the counter back when ${n} callers race with different values`, async () => {
          const u = uid();
          const f = factor(u, { status: 'active' });
          await s().createFactor(f);
          const results = await parallel(n, (i) => s().advanceFactorCounter(u, f.id, (i * 7) % n, i));
          assert.ok(winners(results) >= 1);
          assert.equal((await s().getFactor(u, f.id))?.counter, n - 1, 'the highest value stays');
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

      describe('audit log', () => {
        it('appends and lists events with every field, nulls included, of one user only', async () => {
          const u = uid();
          const full = event(u, 20_000_000_000_000, {
            type: 'mfa.failed', outcome: 'failure', factorId: randomUUID(), factorType: 'totp', reason: 'invalid_code',
            purpose: 'login', ip: '2001:db8::ffff:192.0.2.1', userAgent: `Mozilla/5.0 ${'x'.repeat(500)}`, actor: 'admin-7',
            detail: 'Lost phone — ticket #42 ✓',
          });
          const bare = event(u, 20_000_000_000_000 - 1);
          await s().appendEvent(bare);
          await s().appendEvent(full);
          await s().appendEvent(event(uid(), 20_000_000_000_000));
          assert.equal(full.userAgent?.length, 512);
          assert.deepEqual(await s().listEvents({ userId: u, limit: 10 }), [full, bare]);
          assert.deepEqual(await s().listEvents({ userId: uid(), limit: 10 }), []);
          await assert.rejects(s().appendEvent({ ...bare, at: 5 }), 'an id is stored once');
          assert.deepEqual(await s().listEvents({ userId: u, limit: 10 }), [full, bare]);
        });

        it('appends in parallel: every event is stored, and only the one whose id is taken is refused', async () => {
          const u = uid();
          const t0 = freshDayStart();
          const taken = event(u, t0);
          await s().appendEvent(taken);
          const events = Array.from({ length: 9 }, (_, i) => event(u, t0 + 1 + i));
          const results = await Promise.allSettled([...events.slice(0, 4), { ...taken, at: t0 + 50 }, ...events.slice(4)].map((e) => s().appendEvent(e)));
          assert.deepEqual(results.map((r) => r.status), [...Array(4).fill('fulfilled'), 'rejected', ...Array(5).fill('fulfilled')]);
          assert.deepEqual((await s().listEvents({ userId: u, limit: 20 })).map((e) => e.id), [...events, taken].sort(newestFirst).map((e) => e.id));
        });

        it('lists newest first, ties on `at` broken by id (descending), up to the limit', async () => {
          const u = uid();
          const t0 = freshDayStart();
          const at = [t0, t0, t0, t0 + 1, t0 + 1, t0 + 2, t0 + 2, t0 + 2, t0 + 2, t0 + 3];
          const events = at.map((when) => event(u, when));
          for (const e of [...events].reverse()) await s().appendEvent(e);
          const expected = [...events].sort(newestFirst).map((e) => e.id);
          assert.deepEqual((await s().listEvents({ userId: u, limit: 100 })).map((e) => e.id), expected);
          assert.deepEqual((await s().listEvents({ userId: u, limit: 4 })).map((e) => e.id), expected.slice(0, 4));
          assert.deepEqual((await s().listEvents({ userId: u, limit: 1 })).map((e) => e.id), expected.slice(0, 1));
        });

        it('pages of 3 over 10 events walk every event exactly once, per user and within since/until', async () => {
          const u = uid();
          const other = uid();
          const t0 = freshDayStart();
          // Ties on `at` fall across page boundaries.
          const mine = [0, 0, 0, 5, 5, 5, 5, 9, 9, 12].map((d) => event(u, t0 + 1_000 + d));
          const theirs = [0, 5, 5, 7, 12, 13].map((d) => event(other, t0 + 1_000 + d));
          const outside = [event(u, t0 + 999), event(other, t0 + 2_000), event(u, t0 + 2_000)];
          for (const e of [...mine, ...theirs, ...outside]) await s().appendEvent(e);

          const byUser = await walkPages(s(), { userId: u, since: t0 + 1_000, until: t0 + 2_000 }, 3);
          assert.deepEqual(byUser.ids, [...mine].sort(newestFirst).map((e) => e.id));
          assert.deepEqual(byUser.pages, [3, 3, 3, 1, 0]);

          const all = await walkPages(s(), { since: t0 + 1_000, until: t0 + 2_000 }, 3);
          assert.deepEqual(all.ids, [...mine, ...theirs].sort(newestFirst).map((e) => e.id), 'both users, bounds respected');
          assert.deepEqual(all.pages, [3, 3, 3, 3, 3, 1, 0]);

          const wholeUser = await walkPages(s(), { userId: u }, 3);
          assert.deepEqual(wholeUser.ids, [...mine, outside[0]!, outside[2]!].sort(newestFirst).map((e) => e.id), 'since inclusive, until exclusive');

          const last = [...mine].sort(newestFirst)[4]!;
          assert.deepEqual(
            (await s().listEvents({ userId: u, before: { at: last.at, id: last.id }, limit: 100 })).map((e) => e.id),
            [...mine, outside[0]!].sort(newestFirst).slice(5).map((e) => e.id),
            'strictly older than the cursor, without the cursor event itself',
          );
        });

        it('purges events older than a time and says how many', async () => {
          const u = uid();
          const other = uid();
          const base = 1_000_000; // below every other test's events
          await s().purgeEvents(base);
          const events = Array.from({ length: 8 }, (_, i) => event(i % 2 === 0 ? u : other, base + i));
          for (const e of events) await s().appendEvent(e);
          assert.equal(await s().purgeEvents(base + 5), 5, 'at < before');
          assert.deepEqual((await s().listEvents({ userId: u, limit: 10 })).map((e) => e.at), [base + 6]);
          assert.deepEqual((await s().listEvents({ userId: other, limit: 10 })).map((e) => e.at), [base + 7, base + 5]);
          assert.equal(await s().purgeEvents(base + 5), 0);
          assert.equal(await s().purgeEvents(base + 8), 3);
          assert.deepEqual(await s().listEvents({ userId: other, limit: 10 }), []);
        });

        it('counts events per day, type, factor type and outcome within since/until', async () => {
          const t0 = freshDayStart();
          const day0 = t0 / DAY_MS;
          const [a, b, c] = [uid(), uid(), uid()];
          const ok = { outcome: 'success' as const };
          const ko = { outcome: 'failure' as const };
          const events = [
            event(a, t0, { ...ok, factorType: 'totp' }),
            event(b, t0 + 10, { ...ok, factorType: 'totp' }),
            event(a, t0 + DAY_MS - 1, { ...ok, factorType: 'totp' }),
            event(c, t0 + 20, { ...ok, factorType: 'security_key' }),
            event(a, t0 + 30, { ...ko, factorType: 'totp', reason: 'invalid_code' }),
            event(a, t0 + 40, { ...ko, type: 'mfa.failed', factorType: 'totp', reason: 'invalid_code' }),
            event(b, t0 + 50, { ...ko, type: 'mfa.failed', factorType: 'totp', reason: 'replayed' }),
            event(b, t0 + 60, { ...ko, type: 'mfa.locked' }),
            event(c, t0 + DAY_MS, { ...ok, factorType: 'totp' }),
            event(a, t0 + DAY_MS + 5, { ...ok, factorType: 'totp' }),
            event(a, t0 + DAY_MS + 6, { ...ko, type: 'mfa.failed' }),
            event(a, t0 + 2 * DAY_MS, { ...ok, factorType: 'totp' }), // at `until`: outside
            event(a, t0 - 1, { ...ok, factorType: 'totp' }), // before `since`: outside
          ];
          for (const e of events) await s().appendEvent(e);
          const row = (day: number, type: string, factorType: string | null, outcome: 'success' | 'failure', count: number) =>
            ({ day, type, factorType, outcome, count });
          const twoDays = [
            row(day0, 'mfa.verified', 'totp', 'success', 3),
            row(day0, 'mfa.verified', 'security_key', 'success', 1),
            row(day0, 'mfa.verified', 'totp', 'failure', 1),
            row(day0, 'mfa.failed', 'totp', 'failure', 2),
            row(day0, 'mfa.locked', null, 'failure', 1),
            row(day0 + 1, 'mfa.verified', 'totp', 'success', 2),
            row(day0 + 1, 'mfa.failed', null, 'failure', 1),
          ];
          assert.deepEqual(sortedCounts(await s().countEventsByDay({ since: t0, until: t0 + 2 * DAY_MS })), sortedCounts(twoDays));
          assert.deepEqual(
            sortedCounts(await s().countEventsByDay({ since: t0 + 1, until: t0 + DAY_MS })),
            sortedCounts([row(day0, 'mfa.verified', 'totp', 'success', 2), ...twoDays.slice(1, 5)]),
            'since is inclusive, until exclusive',
          );
          assert.deepEqual(await s().countEventsByDay({ since: t0 + 3 * DAY_MS, until: t0 + 4 * DAY_MS }), []);
        });

        it('counts users with an active factor once, in all and per factor type; pending factors do not count', async () => {
          const rare = `t${randomBytes(6).toString('hex')}`;
          const typeCount = (r: { byType: { type: string; users: number }[] }, type: string) => {
            const matches = r.byType.filter((x) => x.type === type);
            assert.ok(matches.length <= 1, `one entry per type (${type})`);
            return matches[0]?.users ?? 0;
          };
          const delta = async (start: Awaited<ReturnType<MfaStore['countMfaUsers']>>) => {
            const now = await s().countMfaUsers();
            return {
              users: now.users - start.users,
              totp: typeCount(now, 'totp') - typeCount(start, 'totp'),
              securityKey: typeCount(now, 'security_key') - typeCount(start, 'security_key'),
              sms: typeCount(now, 'sms') - typeCount(start, 'sms'),
              rare: typeCount(now, rare),
            };
          };
          const start = await s().countMfaUsers();
          assert.ok(Number.isSafeInteger(start.users) && start.byType.every((x) => Number.isSafeInteger(x.users) && x.users > 0));
          const [a, b, c] = [uid(), uid(), uid()];
          await s().createFactor(factor(a, { status: 'active', confirmedAt: 1 }));
          await s().createFactor(factor(a, { status: 'active', confirmedAt: 1 }));
          await s().createFactor(factor(a, { type: 'security_key', status: 'active', secret: null, data: {}, lookupKey: credentialId() }));
          await s().createFactor(factor(b, { status: 'active', confirmedAt: 1 }));
          await s().createFactor(factor(b, { type: 'sms', secret: null, data: { phone: '+15005550006' } }));
          const pending = factor(c, { type: rare });
          await s().createFactor(pending);
          assert.deepEqual(await delta(start), { users: 2, totp: 2, securityKey: 1, sms: 0, rare: 0 });

          assert.equal(await s().activateFactor(c, pending.id, { confirmedAt: 2, counter: null }), true);
          assert.deepEqual(await delta(start), { users: 3, totp: 2, securityKey: 1, sms: 0, rare: 1 });
          await s().deleteFactors(a);
          assert.deepEqual(await delta(start), { users: 2, totp: 1, securityKey: 0, sms: 0, rare: 1 });
          await s().deleteFactors(b);
          await s().deleteFactors(c);
          assert.deepEqual(await delta(start), { users: 0, totp: 0, securityKey: 0, sms: 0, rare: 0 });
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

      describe('factor state', () => {
        it('replaces, counts attempts and consumes only with the right secret', async () => {
          const u = uid();
          const key = `login:${randomUUID()}:sms`;
          const first = factorState(u, { secret: 'first' });
          await s().putFactorState(key, first, 300);
          assert.deepEqual(await s().getFactorState(key), first);
          const second = factorState(u, { secret: 'second' });
          await s().putFactorState(key, second, 300);
          assert.equal(await s().consumeFactorState(key, 'first'), false, 'a resend invalidates the old state');
          assert.equal(await s().incrementFactorStateAttempts(key), 1);
          assert.equal((await s().getFactorState(key))?.attempts, 1);
          assert.equal(await s().consumeFactorState(key, 'SECOND'), false, 'secrets are case-sensitive');
          assert.equal(await s().consumeFactorState(key, 'second'), true);
          assert.equal(await s().consumeFactorState(key, 'second'), false);
          assert.equal(await s().getFactorState(key), null);
          assert.equal(await s().incrementFactorStateAttempts(key), null);
          await s().putFactorState(key, factorState(u), 300);
          await s().deleteFactorState(key);
          assert.equal(await s().getFactorState(key), null);
          assert.equal(await s().getFactorState(`login:${randomUUID()}:sms`), null, 'never stored');
        });

        it('round-trips the type, any purpose and a null factor id', async () => {
          const u = uid();
          const key = `user:${u}:security_key`;
          const state = factorState(u, {
            type: 'security_key', purpose: 'step_up', factorId: null, secret: 'q9Vh3Yg0Jw6nS2k0XbA1c8dE5fG7hI9jK1lM3nO5pQ7',
            createdAt: 20_000_000_000_000, expiresAt: 20_000_000_300_000,
          });
          await s().putFactorState(key, state, 300);
          assert.deepEqual(await s().getFactorState(key), state);
          const enroll = factorState(u, { type: 'toy-factor', purpose: 'enroll' });
          await s().putFactorState(`enroll:${enroll.factorId}`, enroll, 300);
          assert.deepEqual(await s().getFactorState(`enroll:${enroll.factorId}`), enroll);
          assert.equal(await s().consumeFactorState(key, state.secret), true);
          assert.equal(await s().getFactorState(key), null);
        });

        it(`gives exactly one winner to ${n} parallel consumers`, async () => {
          const key = `enroll:${randomUUID()}`;
          await s().putFactorState(key, factorState(uid(), { secret: 'c', factorId: null }), 300);
          assert.equal(winners(await parallel(n, () => s().consumeFactorState(key, 'c'))), 1);
        });

        it(`counts ${n} parallel attempts without losing one`, async () => {
          const key = `login:${randomUUID()}:email`;
          await s().putFactorState(key, factorState(uid(), { type: 'email' }), 300);
          const counts = await parallel(n, () => s().incrementFactorStateAttempts(key));
          assert.deepEqual([...counts].sort((a, b) => (a ?? 0) - (b ?? 0)), Array.from({ length: n }, (_, i) => i + 1));
        });

        it(`lets no consumer win with a stale secret while ${n} callers race a replacement`, async () => {
          const key = `login:${randomUUID()}:sms`;
          await s().putFactorState(key, factorState(uid(), { secret: 'old' }), 300);
          const fresh = factorState(uid(), { secret: 'new' });
          const results = await Promise.all([
            s().putFactorState(key, fresh, 300).then(() => 'put' as const),
            ...Array.from({ length: n }, () => s().consumeFactorState(key, 'old')),
          ]);
          const consumed = results.filter((r) => r === true).length;
          assert.ok(consumed <= 1, 'the old state is consumed at most once');
          assert.deepEqual(await s().getFactorState(key), fresh, 'the replacement survives');
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
          assert.equal(await s().compareAndSetAttemptState(u, 3, { failures: 1, blockedUntil: 0, locked: false, clients: [] }), false);
          assert.equal(await s().compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 1, blockedUntil: 0, locked: false, clients: [], version: 1 });
          assert.equal(await s().compareAndSetAttemptState(u, null, { failures: 9, blockedUntil: 0, locked: false, clients: [] }), false, 'exists already');
          assert.equal(await s().compareAndSetAttemptState(u, 1, { failures: 5, blockedUntil: 20_000_000_000_000, locked: true, clients: [] }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 5, blockedUntil: 20_000_000_000_000, locked: true, clients: [], version: 2 });
          assert.equal(await s().compareAndSetAttemptState(u, 1, { failures: 0, blockedUntil: 0, locked: false, clients: [] }), false, 'stale');
        });

        it('keeps the clients\' counts as written, in order, and replaces them whole', async () => {
          const u = uid();
          // 16 clients (core's maximum), keys as core makes them (22 characters of base64url).
          const clients = Array.from({ length: 16 }, (_, i) => ({
            key: `${String.fromCharCode(97 + i)}Zx-_09${'q'.repeat(15)}`, failures: 16 - i, blockedUntil: i % 2 ? 20_000_000_000_000 + i : 0,
          }));
          assert.equal(await s().compareAndSetAttemptState(u, null, { failures: 40, blockedUntil: 1_700_000_000_000, locked: false, clients }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 40, blockedUntil: 1_700_000_000_000, locked: false, clients, version: 1 });
          const read = await s().getAttemptState(u);
          read!.clients.pop();
          assert.deepEqual((await s().getAttemptState(u))?.clients, clients, 'a read is a copy');
          const fewer = [clients[3]!, clients[0]!];
          assert.equal(await s().compareAndSetAttemptState(u, 1, { failures: 0, blockedUntil: 1_700_000_000_000, locked: false, clients: fewer }), true);
          assert.deepEqual(await s().getAttemptState(u), { failures: 0, blockedUntil: 1_700_000_000_000, locked: false, clients: fewer, version: 2 });
          assert.equal(await s().compareAndSetAttemptState(u, 2, { failures: 0, blockedUntil: 1_700_000_000_000, locked: false, clients: [] }), true);
          assert.deepEqual((await s().getAttemptState(u))?.clients, []);
        });

        it(`gives exactly one winner to ${n} parallel writers of one version`, async () => {
          const u = uid();
          await s().compareAndSetAttemptState(u, null, { failures: 0, blockedUntil: 0, locked: false, clients: [] });
          const results = await parallel(n, (i) => s().compareAndSetAttemptState(u, 1, { failures: i + 1, blockedUntil: 0, locked: false, clients: [] }));
          assert.equal(winners(results), 1);
          assert.equal((await s().getAttemptState(u))?.version, 2);
        });

        it(`gives exactly one creator among ${n} parallel first writers`, async () => {
          const u = uid();
          const results = await parallel(n, () => s().compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] }));
          assert.equal(winners(results), 1);
        });
      });
    }
  });
}
