// test/reliability/redis-cluster.test.ts
// The Redis store on a real Redis Cluster (issue #14): 3 masters + 3 replicas of our own on free
// loopback ports, an ioredis `Cluster` client. The storage conformance kit runs on it; then the
// single-use races (one challenge, one out-of-band code, one backup code, one TOTP step, the
// attempt counter) run round after round while a master fails over to its replica, and while
// the slot holding the keys migrates to another master: exactly one winner per round, nothing lost.
import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import {
  backupCodes, composeStores, createMfa, generateTotp, memoryStore, totp, type ChallengeRecord, type EphemeralStore, type Mfa, type FactorStateRecord,
} from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { knexStore, migrate } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { openDatabase, type TestDatabase } from '../../packages/knex/test/support/databases';
import { deleteClusterKeys, describeWithRedisCluster, keySlot, startCluster, type LocalCluster } from '../support/redis-cluster';
import { describeWithService, POSTGRES_URL } from '../support/services';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** One line of figures for docs/reliability.md (stdout, no stack trace). */
const report = (line: string) => process.stdout.write(`redis-cluster: ${line}\n`);
const N = 16;
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };

describeWithRedisCluster('Redis Cluster: 3 masters + 3 replicas started by the test', () => {
  let cluster: LocalCluster;
  const clients: Cluster[] = [];
  const prefixes: string[] = [];
  const client = () => {
    const c = cluster.client();
    clients.push(c);
    return c;
  };
  const prefix = (tag = false) => {
    const p = tag ? `{sf-cl-${randomUUID()}}:` : `sf-cl-${randomUUID()}:`;
    prefixes.push(p);
    return p;
  };

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  }, 60_000);

  afterAll(async () => {
    if (!cluster) return;
    const c = cluster.client();
    try {
      for (const p of prefixes) await deleteClusterKeys(c, p);
    } finally {
      c.disconnect();
      for (const each of clients) each.disconnect();
      await cluster.stop();
    }
  }, 30_000);

  test('the cluster is real: 3 masters each serving slots, each with a replica; our slot function matches CLUSTER KEYSLOT', async () => {
    const topo = await cluster.topology();
    expect(topo.filter((n) => n.master && n.slots.length > 0)).toHaveLength(3);
    expect(topo.filter((n) => !n.master && n.masterId)).toHaveLength(3);
    const admin = cluster.node(cluster.nodes[0]!.port);
    for (const key of ['sf:challenge:{abc}', 'plain-key', '{user-1}:x', 'a{}b', 'x{y}z{w}']) {
      expect(keySlot(key)).toBe(Number(await admin.call('CLUSTER', 'KEYSLOT', key)));
    }
  });

  // The kit, through an ioredis Cluster client (the ephemeral half; the durable half is not on Redis).
  runStoreConformance('redis on a 3-master Redis Cluster (ioredis Cluster)', () => {
    const redis = client();
    const keyPrefix = prefix();
    return {
      store: composeStores({ durable: memoryStore(), ephemeral: redisStore(redis, { keyPrefix }) }),
      cleanup: async () => {
        await deleteClusterKeys(redis, keyPrefix);
      },
    };
  }, { only: 'ephemeral' });

  test('keys spread over all three masters with the default layout', async () => {
    const redis = client();
    const keyPrefix = prefix();
    const store = redisStore(redis, { keyPrefix });
    for (let i = 0; i < 60; i++) await store.createChallenge(challengeRecord(`u-${i}`), 60);
    const perMaster = await Promise.all(redis.nodes('master').map(async (m) => (await m.scan('0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1000))[1].length));
    expect(perMaster).toHaveLength(3);
    expect(perMaster.every((n) => n > 0)).toBe(true);
  });

  /** One round of every store-level race on `store`; returns what each race counted. */
  async function storeRound(store: EphemeralStore, ids: Ids, userId: string) {
    const c = challengeRecord(userId, ids.challenge());
    const oobKey = ids.oob();
    const counterKey = ids.counter();
    await store.createChallenge(c, 120);
    await store.putFactorState(oobKey, oobRecord(userId), 120);
    const [takes, consumes, counts] = await Promise.all([
      Promise.all(Array.from({ length: N }, () => store.takeChallenge(c.id))),
      Promise.all(Array.from({ length: N }, () => store.consumeFactorState(oobKey, 'hash-a'))),
      Promise.all(Array.from({ length: N }, () => store.incrementCounter(counterKey, 120))),
    ]);
    return {
      takeWinners: takes.filter(Boolean).length,
      consumeWinners: consumes.filter(Boolean).length,
      counts: [...counts].sort((a, b) => a - b),
      stillThere: (await store.getChallenge(c.id)) !== null || (await store.getFactorState(oobKey)) !== null,
    };
  }

  /** Adds one failure to the user's attempt state by compare-and-set (bounded retries); true when it landed. */
  async function casIncrement(store: EphemeralStore, userId: string): Promise<boolean> {
    for (let round = 0; round < 500; round++) {
      const current = await store.getAttemptState(userId);
      const next = { failures: (current?.failures ?? 0) + 1, blockedUntil: 0, locked: false, clients: [] };
      if (await store.compareAndSetAttemptState(userId, current?.version ?? null, next)) return true;
    }
    return false;
  }

  /**
   * Runs store rounds (and CAS increments on one user) until `disruption` has finished and two more
   * rounds have run; every round must have exactly one winner, no call may fail, no increment may be lost.
   */
  async function raceThrough(store: EphemeralStore, ids: Ids, userId: string, disruption: () => Promise<unknown>) {
    let casLanded = 0;
    const { result, rounds, roundsDuring, errors } = await duringDisruption(disruption, 2, async () => {
      const [r, cas] = await Promise.all([storeRound(store, ids, userId), Promise.all(Array.from({ length: 4 }, () => casIncrement(store, userId)))]);
      casLanded += cas.filter(Boolean).length;
      expect(r.takeWinners).toBe(1);
      expect(r.consumeWinners).toBe(1);
      expect(r.counts).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      expect(r.stillThere).toBe(false);
      return true;
    });
    expect(errors).toEqual([]);
    const state = await store.getAttemptState(userId);
    expect(casLanded).toBe(rounds * 4);
    expect(state?.failures).toBe(casLanded);
    return { result, rounds, roundsDuring };
  }

  test('store races while a master fails over to its replica (CLUSTER FAILOVER): one winner per round, nothing lost', async () => {
    const redis = client();
    const keyPrefix = prefix();
    const store = redisStore(redis, { keyPrefix });
    const userId = `u-${randomUUID()}`;
    const slot = keySlot(`${keyPrefix}attempts:{${userId}}`);
    const owner = await cluster.masterOf(slot);
    // Every key of the race on the master that fails over.
    // (Separate searches: CRC16 is linear, so keys that differ by a fixed infix have correlated slots.)
    const ownedIds: Ids = {
      challenge: await idsOnMaster(cluster, owner, (id) => `${keyPrefix}challenge:{${id}}`),
      oob: await idsOnMaster(cluster, owner, (id) => `${keyPrefix}state:{${id}}`),
      counter: await idsOnMaster(cluster, owner, (id) => `${keyPrefix}counter:{${id}}`),
    };
    // Written before the failover, read back after it: nothing lost.
    const before = Array.from({ length: 50 }, () => challengeRecord(userId, ownedIds.challenge()));
    for (const c of before) await store.createChallenge(c, 300);
    const { result, rounds, roundsDuring } = await raceThrough(store, ownedIds, userId, () => cluster.failover(slot));
    report(`store races, failover: ${rounds} rounds, ${roundsDuring} overlapping it`);
    expect((result as { from: number; to: number }).from).toBe(owner);
    expect(await cluster.masterOf(slot)).not.toBe(owner);
    expect(roundsDuring).toBeGreaterThanOrEqual(1);
    expect(rounds).toBeGreaterThan(roundsDuring);
    for (const c of before) expect(await store.getChallenge(c.id)).toEqual(c);
  }, 60_000);

  test('store races while the slot holding every key migrates to another master (MIGRATE): one winner per round, nothing lost', async () => {
    const redis = client();
    const keyPrefix = prefix(true); // `{tag}:` pins every key of this store to one slot
    const store = redisStore(redis, { keyPrefix });
    const userId = `u-${randomUUID()}`;
    const slot = keySlot(keyPrefix);
    const owner = await cluster.masterOf(slot);
    const before = Array.from({ length: 200 }, () => challengeRecord(userId));
    for (const c of before) await store.createChallenge(c, 300);
    const { result, rounds, roundsDuring } = await raceThrough(store, { challenge: randomUUID, oob: randomUUID, counter: randomUUID }, userId, () => cluster.migrateSlot(slot, { keysPerBatch: 4, pauseMs: 15 }));
    report(`store races, slot migration: ${rounds} rounds, ${roundsDuring} overlapping it`);
    const moved = result as { from: number; to: number; keys: number };
    expect(moved.from).toBe(owner);
    expect(moved.keys).toBeGreaterThanOrEqual(200);
    expect(await cluster.masterOf(slot)).toBe(moved.to);
    expect(roundsDuring).toBeGreaterThanOrEqual(1);
    for (const c of before) expect(await store.getChallenge(c.id)).toEqual(c);
    // The source no longer holds any key of the slot.
    expect(await cluster.node(owner).call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);
  }, 60_000);

  // ---- the whole engine: PostgreSQL for factors and backup codes, the cluster for the rest ----

  describeWithService('PostgreSQL', POSTGRES_URL)('createMfa over PostgreSQL + the cluster', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await openDatabase('postgres');
      await migrate(database.db, { tablePrefix: database.tablePrefix });
    }, 30_000);
    afterAll(async () => {
      await database?.drop();
    }, 30_000);

    function engine(keyPrefix: string, clock: () => number): Mfa {
      return createMfa({
        issuer: 'Cluster',
        store: composeStores({ durable: knexStore(database.db, { tablePrefix: database.tablePrefix }), ephemeral: redisStore(client(), { keyPrefix }) }),
        encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 3).toString('base64') } },
        signingKey: 'cluster-test-signing-key-0123456789abcdef',
        factors: [totp(), backupCodes({ bcryptCost: 4, count: 20 })],
        limits: { backoffAfterFailures: 100, lockAfterFailures: 100 },
        clock,
      });
    }

    /**
     * Rounds of: N logins racing one backup code, N logins racing one TOTP code (a fresh step each
     * round: the clock moves 30 s), and one challenge raced by N valid codes, until `disruption`
     * finished and one more round ran. Exactly one success per race.
     */
    async function engineRaces(keyPrefix: string, disruption: () => Promise<unknown>) {
      let now = Date.now();
      const mfa = engine(keyPrefix, () => now);
      const user = `u-${randomUUID()}`;
      const setup = await mfa.enroll(user, 'totp');
      const confirmed = await mfa.confirm(user, setup.factorId, { code: await generateTotp(setup.secret, now - 30_000, P) });
      if (!confirmed.ok) throw new Error('confirm failed');
      const codes = [...confirmed.backupCodes!];
      const start = async () => {
        const s = await mfa.login.start(user);
        if (!s.required) throw new Error('no challenge');
        return s.challengeToken;
      };
      const spent: string[] = [];
      const { rounds, roundsDuring, errors } = await duringDisruption(disruption, 1, async () => {
        if (codes.length < 3) return false;
        now += 30_000;
        const backup = codes.shift()!;
        const totp = await generateTotp(setup.secret, now, P);
        const tokensA = await Promise.all(Array.from({ length: N }, start));
        const tokensB = await Promise.all(Array.from({ length: N }, start));
        const shared = await start();
        const several = codes.splice(0, 2);
        const [a, b, c] = await Promise.all([
          Promise.all(tokensA.map((t) => mfa.login.verify(t, { method: 'backup_code', code: backup }))),
          Promise.all(tokensB.map((t) => mfa.login.verify(t, { method: 'totp', code: totp }))),
          Promise.all(several.map((code) => mfa.login.verify(shared, { method: 'backup_code', code }))),
        ]);
        spent.push(backup);
        expect(a.filter((r) => r.ok)).toHaveLength(1);
        expect(b.filter((r) => r.ok)).toHaveLength(1);
        expect(c.filter((r) => r.ok)).toHaveLength(1);
        return true;
      });
      expect(errors).toEqual([]);
      expect(roundsDuring).toBeGreaterThanOrEqual(1);
      expect(rounds).toBe(spent.length);
      report(`engine races: ${rounds} rounds, ${roundsDuring} overlapping the disruption`);
      // Each code that won a race is spent now; a code never raced still works.
      for (const code of spent) expect((await mfa.login.verify(await start(), { method: 'backup_code', code })).ok).toBe(false);
      expect((await mfa.login.verify(await start(), { method: 'backup_code', code: codes[0]! })).ok).toBe(true);
    }

    test('one backup code, one TOTP step, one challenge: exactly one success each, during a failover', async () => {
      const keyPrefix = prefix(true);
      await engineRaces(keyPrefix, () => cluster.failover(keySlot(keyPrefix)));
    }, 60_000);

    test('one backup code, one TOTP step, one challenge: exactly one success each, during a slot migration', async () => {
      const keyPrefix = prefix(true);
      const fill = redisStore(client(), { keyPrefix });
      for (let i = 0; i < 150; i++) await fill.createChallenge(challengeRecord(`filler-${i}`), 300);
      await engineRaces(keyPrefix, () => cluster.migrateSlot(keySlot(keyPrefix), { keysPerBatch: 3, pauseMs: 15 }));
    }, 60_000);
  });
});

/**
 * Starts `disruption` shortly after the first round and runs `round` again and again until the
 * disruption has finished and `roundsAfter` more rounds ran (or `round` returns false). Counts
 * the rounds whose run overlapped the disruption; collects errors (the cause of an MfaError).
 */
async function duringDisruption(disruption: () => Promise<unknown>, roundsAfter: number, round: () => Promise<boolean>) {
  let began = 0;
  let ended = 0;
  const spans: [number, number][] = [];
  const errors: unknown[] = [];
  const done = (async () => {
    await sleep(30);
    began = Date.now();
    try {
      return await disruption();
    } finally {
      ended = Date.now();
    }
  })();
  // Bounded by time and count, not by a count alone: on an idle machine 400 rounds all fitted inside
  // one failover, and a run that stopped there never saw the rounds after it.
  const deadline = Date.now() + 40_000;
  const loop = async () => {
    let after = 0;
    while (after < roundsAfter && spans.length < 20_000 && Date.now() < deadline && errors.length < 3) {
      const start = Date.now();
      try {
        if (!(await round())) break;
        spans.push([start, Date.now()]);
      } catch (error) {
        errors.push(error instanceof Error && error.cause ? error.cause : error);
      }
      if (ended > 0) after++;
    }
  };
  const [result] = await Promise.all([done, loop()]);
  const roundsDuring = spans.filter(([s, e]) => s < ended && e > began).length;
  return { result, rounds: spans.length, roundsDuring, errors };
}

function challengeRecord(userId: string, id = `ch-${randomUUID()}`): ChallengeRecord {
  const now = Date.now();
  return { id, userId, methods: ['totp', 'backup_code'], createdAt: now, expiresAt: now + 300_000, attempts: 0 };
}

function oobRecord(userId: string): FactorStateRecord {
  const now = Date.now();
  return { type: 'sms', secret: 'hash-a', purpose: 'login', factorId: randomUUID(), userId, createdAt: now, expiresAt: now + 300_000, attempts: 0 };
}

interface Ids {
  challenge: () => string;
  oob: () => string;
  counter: () => string;
}

/** An id generator whose key (as built by `keyOf`) lives on the master at `port`. */
async function idsOnMaster(cluster: LocalCluster, port: number, keyOf: (id: string) => string): Promise<() => string> {
  const slots = (await cluster.node(port).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const ranges = slots.filter(([, , m]) => Number(m[1]) === port).map(([a, b]) => [a, b] as const);
  const owned = (key: string) => ranges.some(([a, b]) => keySlot(key) >= a && keySlot(key) <= b);
  return () => {
    for (let i = 0; i < 10_000; i++) {
      const id = randomUUID();
      if (owned(keyOf(id))) return id;
    }
    throw new Error(`no id found on master ${port}`);
  };
}
