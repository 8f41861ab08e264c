// packages/redis/test/redis-store.test.ts
// What the conformance kit cannot see: TTLs, the key layout and hash tags, a flushed script cache,
// several connections racing, exact round-trips and option checks.
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { MfaConfigError, type ChallengeRecord, type EphemeralStore, type FactorStateRecord } from '@secondfactor/core';
import { redisStore, type RedisClient } from '@secondfactor/redis';
import { describeWithService, REDIS_URL } from '../../../test/support/services';
import { cleanup, connect, keysWithPrefix, randomPrefix } from './support';

// Type-level (checked by tsc): ioredis clients fit the narrow client type without casts, in both reply mappings.
type Fits<T> = T extends RedisClient ? true : false;
const clientsFit: [Fits<Redis>, Fits<Cluster>, Fits<Redis<'resp3'>>, Fits<Cluster<'resp3'>>] = [true, true, true, true];
void clientsFit;

const challenge = (overrides: Partial<ChallengeRecord> = {}): ChallengeRecord => ({
  id: `ch-${randomUUID()}`, userId: `user-${randomUUID()}`, methods: ['totp', 'sms', 'backup_code'],
  createdAt: 20_000_000_000_000, expiresAt: 20_000_000_300_000, attempts: 0, ...overrides,
});

const oob = (overrides: Partial<FactorStateRecord> = {}): FactorStateRecord => ({
  type: 'email', secret: 'q9Vh3Yg0Jw6nS2k0XbA1c8dE5fG7hI9jK1lM3nO5pQ7', purpose: 'enroll', factorId: randomUUID(),
  userId: `user-${randomUUID()}`, createdAt: 20_000_000_000_000, expiresAt: 20_000_000_300_000, attempts: 0, ...overrides,
});

/** The Cluster hash tag of a key, per the Redis Cluster spec: between the first `{` and the next `}`, if non-empty. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

describeWithService('Redis', REDIS_URL)('redisStore', () => {
  let redis: Redis;
  let keyPrefix: string;
  let store: EphemeralStore;

  beforeAll(() => {
    redis = connect();
    keyPrefix = randomPrefix();
    store = redisStore(redis, { keyPrefix });
  });
  afterAll(async () => {
    await cleanup(redis, keyPrefix);
  });

  describe('TTLs', () => {
    it('sets the TTL on challenges, out-of-band codes and counters, and none on attempt state', async () => {
      const c = challenge();
      const userId = `user-${randomUUID()}`;
      await store.createChallenge(c, 360);
      await store.putFactorState('login:a', oob(), 120);
      await store.incrementCounter('send:a', 30);
      await store.compareAndSetAttemptState(userId, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] });

      const challengeTtl = await redis.pttl(`${keyPrefix}challenge:{${c.id}}`);
      const oobTtl = await redis.pttl(`${keyPrefix}state:{login:a}`);
      const counterTtl = await redis.pttl(`${keyPrefix}counter:{send:a}`);
      expect(challengeTtl).toBeGreaterThan(355_000);
      expect(challengeTtl).toBeLessThanOrEqual(360_000);
      expect(oobTtl).toBeGreaterThan(115_000);
      expect(oobTtl).toBeLessThanOrEqual(120_000);
      expect(counterTtl).toBeGreaterThan(25_000);
      expect(counterTtl).toBeLessThanOrEqual(30_000);
      expect(await redis.pttl(`${keyPrefix}attempts:{${userId}}`)).toBe(-1);

      await store.compareAndSetAttemptState(userId, 1, { failures: 2, blockedUntil: 20_000_000_000_000, locked: false, clients: [] });
      expect(await redis.pttl(`${keyPrefix}attempts:{${userId}}`)).toBe(-1);
    });

    it('keeps the TTL of a record through attempt counting', async () => {
      const c = challenge();
      await store.createChallenge(c, 300);
      await store.putFactorState('keep', oob(), 300);
      await store.incrementChallengeAttempts(c.id);
      await store.incrementFactorStateAttempts('keep');
      expect(await redis.pttl(`${keyPrefix}challenge:{${c.id}}`)).toBeGreaterThan(290_000);
      expect(await redis.pttl(`${keyPrefix}state:{keep}`)).toBeGreaterThan(290_000);
    });

    it('applies a counter TTL on creation only: later increments never extend the window', async () => {
      const key = `window:${randomUUID()}`;
      await store.incrementCounter(key, 2);
      const first = await redis.pttl(`${keyPrefix}counter:{${key}}`);
      await new Promise((r) => setTimeout(r, 300));
      expect(await store.incrementCounter(key, 3600)).toBe(2);
      const second = await redis.pttl(`${keyPrefix}counter:{${key}}`);
      expect(second).toBeLessThan(first);
      expect(second).toBeLessThanOrEqual(2000);
    });

    it('gives a counter that somehow has no TTL one on its next increment', async () => {
      const key = `legacy:${randomUUID()}`;
      await redis.set(`${keyPrefix}counter:{${key}}`, '7');
      expect(await store.incrementCounter(key, 60)).toBe(8);
      expect(await redis.pttl(`${keyPrefix}counter:{${key}}`)).toBeGreaterThan(55_000);
    });

    it('replacing an out-of-band code resets its TTL and attempts', async () => {
      await store.putFactorState('resend', oob({ secret: 'old' }), 10);
      await store.incrementFactorStateAttempts('resend');
      const fresh = oob({ secret: 'new' });
      await store.putFactorState('resend', fresh, 600);
      expect(await store.getFactorState('resend')).toEqual(fresh);
      expect(await redis.pttl(`${keyPrefix}state:{resend}`)).toBeGreaterThan(590_000);
    });

    it('a replaced record or attempt state keeps no field of the old one (HSET, then HDEL of the rest)', async () => {
      await store.putFactorState('extra', oob({ secret: 'old' }), 60);
      await redis.hset(`${keyPrefix}state:{extra}`, 'stray', '"x"');
      const fresh = oob({ secret: 'new' });
      await store.putFactorState('extra', fresh, 60);
      expect(await store.getFactorState('extra')).toEqual(fresh);

      const userId = `user-${randomUUID()}`;
      await store.compareAndSetAttemptState(userId, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] });
      await redis.hset(`${keyPrefix}attempts:{${userId}}`, 'stray', '1');
      expect(await store.compareAndSetAttemptState(userId, 1, { failures: 2, blockedUntil: 5, locked: true, clients: [] })).toBe(true);
      expect(await store.getAttemptState(userId)).toEqual({ failures: 2, blockedUntil: 5, locked: true, clients: [], version: 2 });
    });

    it('reads an attempt state an earlier version wrote (no clients field) as one with no client counts, and writes over it', async () => {
      const userId = `user-${randomUUID()}`;
      await redis.hset(`${keyPrefix}attempts:{${userId}}`, 'failures', '4', 'blockedUntil', '1700000000000', 'locked', 'false', 'version', '6');
      expect(await store.getAttemptState(userId)).toEqual({ failures: 4, blockedUntil: 1_700_000_000_000, locked: false, clients: [], version: 6 });
      const clients = [{ key: 'AbC-_0123456789xyzXYZ0', failures: 5, blockedUntil: 20_000_000_000_000 }, { key: 'second', failures: 1, blockedUntil: 0 }];
      expect(await store.compareAndSetAttemptState(userId, 6, { failures: 5, blockedUntil: 1_700_000_000_000, locked: false, clients })).toBe(true);
      expect(await store.getAttemptState(userId)).toEqual({ failures: 5, blockedUntil: 1_700_000_000_000, locked: false, clients, version: 7 });
    });

    it('rejects a TTL that is not a positive number', async () => {
      await expect(store.incrementCounter('bad', 0)).rejects.toThrow(TypeError);
      await expect(store.createChallenge(challenge(), Number.NaN)).rejects.toThrow(TypeError);
    });
  });

  describe('key layout', () => {
    it('puts every key under the prefix, with the id as its Cluster hash tag', async () => {
      const prefix = randomPrefix();
      const own = redisStore(redis, { keyPrefix: prefix });
      const c = challenge();
      const userId = `user-${randomUUID()}`;
      try {
        await own.createChallenge(c, 60);
        await own.putFactorState(`login:${c.id}:f1`, oob(), 60);
        await own.incrementCounter('send:cooldown:+14155550123:0', 60);
        await own.compareAndSetAttemptState(userId, null, { failures: 0, blockedUntil: 0, locked: false, clients: [] });

        const keys = (await keysWithPrefix(redis, prefix)).sort();
        expect(keys).toEqual([
          `${prefix}attempts:{${userId}}`,
          `${prefix}challenge:{${c.id}}`,
          `${prefix}counter:{send:cooldown:+14155550123:0}`,
          `${prefix}state:{login:${c.id}:f1}`,
        ]);
        expect(keys.map(hashTag)).toEqual([userId, c.id, 'send:cooldown:+14155550123:0', `login:${c.id}:f1`]);
        expect(await redis.type(`${prefix}challenge:{${c.id}}`)).toBe('hash');
        expect(await redis.type(`${prefix}state:{login:${c.id}:f1}`)).toBe('hash');
        expect(await redis.type(`${prefix}counter:{send:cooldown:+14155550123:0}`)).toBe('string');
        expect(await redis.type(`${prefix}attempts:{${userId}}`)).toBe('hash');
      } finally {
        const keys = await keysWithPrefix(redis, prefix);
        if (keys.length > 0) await redis.del(...keys);
      }
    });

    it("defaults the prefix to 'sf:'", async () => {
      const id = `ch-${randomUUID()}`;
      const own = redisStore(redis);
      try {
        await own.createChallenge(challenge({ id }), 60);
        expect(await redis.exists(`sf:challenge:{${id}}`)).toBe(1);
      } finally {
        await redis.del(`sf:challenge:{${id}}`);
      }
    });

    it("works under the ioredis client's own keyPrefix (the two prefixes add up)", async () => {
      const clientPrefix = randomPrefix();
      const prefixed = connect({ keyPrefix: clientPrefix });
      try {
        const own = redisStore(prefixed, { keyPrefix: 'sf:' });
        const c = challenge();
        await own.createChallenge(c, 60);
        expect(await own.incrementChallengeAttempts(c.id)).toBe(1);
        expect(await own.incrementCounter('k', 60)).toBe(1);
        expect((await keysWithPrefix(redis, clientPrefix)).sort()).toEqual([`${clientPrefix}sf:challenge:{${c.id}}`, `${clientPrefix}sf:counter:{k}`]);
        expect(await own.takeChallenge(c.id)).toBe(true);
      } finally {
        const keys = await keysWithPrefix(redis, clientPrefix);
        if (keys.length > 0) await redis.del(...keys);
        await prefixed.quit();
      }
    });

    it('keeps kinds and prefixes apart', async () => {
      const other = redisStore(redis, { keyPrefix: randomPrefix() });
      const c = challenge();
      await store.createChallenge(c, 60);
      expect(await other.getChallenge(c.id)).toBeNull();
      expect(await store.getFactorState(c.id)).toBeNull();
      expect(await store.takeChallenge(c.id)).toBe(true);
    });
  });

  describe('round-trips', () => {
    it('returns records exactly: large numbers stay numbers, arrays stay arrays', async () => {
      const c = challenge({ methods: [], attempts: 3, createdAt: Number.MAX_SAFE_INTEGER });
      await store.createChallenge(c, 60);
      expect(await store.getChallenge(c.id)).toStrictEqual(c);
      expect(await store.incrementChallengeAttempts(c.id)).toBe(4);

      const code = oob({ secret: 'with "quotes", \\backslashes\\ and ünïcödé' });
      await store.putFactorState('exact', code, 60);
      expect(await store.getFactorState('exact')).toStrictEqual(code);
      expect(await store.consumeFactorState('exact', 'with "quotes", \\backslashes\\ and ünïcödé')).toBe(true);
    });

    it('handles ids with braces, colons and spaces', async () => {
      const c = challenge({ id: 'a}b{c: d' });
      await store.createChallenge(c, 60);
      expect(await store.getChallenge('a}b{c: d')).toStrictEqual(c);
      expect(await store.getChallenge('a}b{c:')).toBeNull();
      expect(await store.takeChallenge('a}b{c: d')).toBe(true);
    });

    it('does not resurrect a taken challenge or consumed code by counting attempts', async () => {
      const c = challenge();
      await store.createChallenge(c, 60);
      await store.takeChallenge(c.id);
      expect(await store.incrementChallengeAttempts(c.id)).toBeNull();
      expect(await redis.exists(`${keyPrefix}challenge:{${c.id}}`)).toBe(0);
      expect(await store.incrementFactorStateAttempts('never-stored')).toBeNull();
      expect(await redis.exists(`${keyPrefix}state:{never-stored}`)).toBe(0);
    });
  });

  describe('script cache', () => {
    /** A client that counts what the store sends (also shows that a plain object fits `RedisClient`). */
    function countingClient() {
      const calls = { evalsha: 0, eval: 0 };
      const client: RedisClient = {
        evalsha: (...args) => { calls.evalsha++; return redis.evalsha(...args); },
        eval: (...args) => { calls.eval++; return redis.eval(...args); },
        hgetall: (key) => redis.hgetall(key),
        del: (key) => redis.del(key),
      };
      return { calls, store: redisStore(client, { keyPrefix }) };
    }

    it('runs a script by SHA-1 and falls back to EVAL once when the cache is empty', async () => {
      const { calls, store: counted } = countingClient();
      await redis.script('FLUSH');
      const key = `sha:${randomUUID()}`;
      expect(await counted.incrementCounter(key, 60)).toBe(1);
      expect(calls).toEqual({ evalsha: 1, eval: 1 });
      expect(await counted.incrementCounter(key, 60)).toBe(2);
      expect(calls).toEqual({ evalsha: 2, eval: 1 });
    });

    it('keeps working when the script cache is flushed mid-run', async () => {
      const { calls, store: counted } = countingClient();
      const c = challenge();
      await counted.createChallenge(c, 60);
      await counted.incrementCounter(`warm:${randomUUID()}`, 60);
      const evalsBefore = calls.eval;

      const counter = `flush:${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i === 20 ? redis.script('FLUSH').then(() => 0) : counted.incrementCounter(counter, 60))),
      );
      expect(results.filter((n) => n > 0).sort((a, b) => a - b)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
      expect(calls.eval).toBeGreaterThan(evalsBefore);

      for (const step of [
        async () => expect(await counted.incrementChallengeAttempts(c.id)).toBe(1),
        async () => expect(await counted.compareAndSetAttemptState(`user-${randomUUID()}`, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] })).toBe(true),
        async () => counted.putFactorState('flushed', oob({ secret: 'h' }), 60),
        async () => expect(await counted.incrementFactorStateAttempts('flushed')).toBe(1),
        async () => expect(await counted.consumeFactorState('flushed', 'h')).toBe(true),
      ]) {
        await redis.script('FLUSH');
        await step();
      }
    });
  });

  describe('several connections', () => {
    it('gives exactly one winner across separate clients', async () => {
      const clients = Array.from({ length: 5 }, () => connect());
      try {
        const stores = clients.map((client) => redisStore(client, { keyPrefix }));
        const c = challenge();
        await store.createChallenge(c, 60);
        await store.putFactorState('race', oob({ secret: 'r' }), 60);
        const u = `user-${randomUUID()}`;
        const [takes, consumes, creates] = await Promise.all([
          Promise.all(stores.flatMap((s) => [s.takeChallenge(c.id), s.takeChallenge(c.id)])),
          Promise.all(stores.flatMap((s) => [s.consumeFactorState('race', 'r'), s.consumeFactorState('race', 'r')])),
          Promise.all(stores.flatMap((s) => [
            s.compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] }),
            s.compareAndSetAttemptState(u, null, { failures: 1, blockedUntil: 0, locked: false, clients: [] }),
          ])),
        ]);
        expect(takes.filter(Boolean)).toHaveLength(1);
        expect(consumes.filter(Boolean)).toHaveLength(1);
        expect(creates.filter(Boolean)).toHaveLength(1);
      } finally {
        await Promise.all(clients.map((client) => client.quit()));
      }
    });
  });

  describe('options', () => {
    it('rejects something that is not a Redis client', () => {
      expect(() => redisStore(null as unknown as RedisClient)).toThrow(MfaConfigError);
      expect(() => redisStore({ get: async () => null } as unknown as RedisClient)).toThrow(/missing evalsha, eval, hgetall, del/);
      expect(() => redisStore(redis, { keyPrefix: 5 as unknown as string })).toThrow(MfaConfigError);
    });
  });
});
