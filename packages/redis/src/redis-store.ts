// packages/redis/src/redis-store.ts
// `redisStore`: the EphemeralStore half (challenges, factor state, counters, attempt state) on Redis.
import { MfaConfigError, type AttemptState, type ChallengeRecord, type EphemeralStore, type FactorStateRecord } from '@secondfactor/core';
import type { RedisClient } from './client';
import { decodeHash, encodeField, encodeHash } from './hash-codec';
import { keyLayout } from './keys';
import { integerReply, luaScript, runScript } from './run-script';
import {
  COMPARE_AND_SET_HASH, CONSUME_IF_SECRET, GET_COUNTER, INCREMENT_ATTEMPTS_IF_EXISTS, INCREMENT_COUNTER, PUT_HASH_WITH_TTL,
} from './scripts';

export interface RedisStoreOptions {
  /**
   * Prepended to every key (default `'sf:'`). Use one prefix per application and environment sharing a
   * server. Braces in it (`'{mfa}:'`) become the Cluster hash tag of every key, pinning all to one slot.
   */
  keyPrefix?: string;
}

const putHashWithTtl = luaScript(PUT_HASH_WITH_TTL);
const incrementAttemptsIfExists = luaScript(INCREMENT_ATTEMPTS_IF_EXISTS);
const consumeIfSecret = luaScript(CONSUME_IF_SECRET);
const incrementCounter = luaScript(INCREMENT_COUNTER);
const getCounter = luaScript(GET_COUNTER);
const compareAndSetHash = luaScript(COMPARE_AND_SET_HASH);

const CLIENT_METHODS = ['evalsha', 'eval', 'hgetall', 'del'] as const;

/** `ttlSeconds` as whole milliseconds for PEXPIRE (fractions round up); must be positive. */
function ttlMilliseconds(ttlSeconds: number): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError(`@secondfactor/redis: ttlSeconds must be a positive number, got ${String(ttlSeconds)}`);
  }
  return Math.ceil(ttlSeconds * 1000);
}

/**
 * An `EphemeralStore` on Redis. Every atomic method is one Redis command or one Lua script on one key,
 * so it holds under any number of processes; combine it with a durable store through `composeStores`.
 *
 * @param redis An ioredis `Redis` or `Cluster` client (or anything with the `RedisClient` methods).
 *   The store never connects or quits it.
 * @param options `keyPrefix` (default `'sf:'`).
 * @returns The ephemeral half of an `MfaStore`.
 *
 * @example
 * const store = composeStores({ durable: knexStore(db), ephemeral: redisStore(new Redis(process.env.REDIS_URL)) });
 */
export function redisStore(redis: RedisClient, options: RedisStoreOptions = {}): EphemeralStore {
  if (redis === null || typeof redis !== 'object') {
    throw new MfaConfigError('redis', 'must be a Redis client (an ioredis Redis or Cluster)');
  }
  const missing = CLIENT_METHODS.filter((m) => typeof (redis as unknown as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new MfaConfigError('redis', `must be a Redis client (an ioredis Redis or Cluster): missing ${missing.join(', ')}`);
  }
  const keyPrefix = options.keyPrefix ?? 'sf:';
  if (typeof keyPrefix !== 'string') throw new MfaConfigError('keyPrefix', 'must be a string');
  const keys = keyLayout(keyPrefix);

  const putHash = async (key: string, record: object, ttlSeconds: number): Promise<void> => {
    await runScript(redis, putHashWithTtl, key, [ttlMilliseconds(ttlSeconds), ...encodeHash(record)]);
  };
  const getHash = async <T>(key: string): Promise<T | null> => decodeHash<T>(await redis.hgetall(key));
  const incrementAttempts = async (key: string): Promise<number | null> => {
    const count = integerReply(await runScript(redis, incrementAttemptsIfExists, key, []));
    return count < 0 ? null : count;
  };

  return {
    async createChallenge(challenge: ChallengeRecord, ttlSeconds: number) {
      await putHash(keys.challenge(challenge.id), challenge, ttlSeconds);
    },
    async getChallenge(id: string) {
      return getHash<ChallengeRecord>(keys.challenge(id));
    },
    async incrementChallengeAttempts(id: string) {
      return incrementAttempts(keys.challenge(id));
    },
    async takeChallenge(id: string) {
      // DEL is atomic: of concurrent callers, exactly one sees 1.
      return integerReply(await redis.del(keys.challenge(id))) === 1;
    },

    async putFactorState(key: string, state: FactorStateRecord, ttlSeconds: number) {
      await putHash(keys.factorState(key), state, ttlSeconds);
    },
    async getFactorState(key: string) {
      return getHash<FactorStateRecord>(keys.factorState(key));
    },
    async incrementFactorStateAttempts(key: string) {
      return incrementAttempts(keys.factorState(key));
    },
    async consumeFactorState(key: string, secret: string) {
      return integerReply(await runScript(redis, consumeIfSecret, keys.factorState(key), [encodeField(secret)])) === 1;
    },
    async deleteFactorState(key: string) {
      await redis.del(keys.factorState(key));
    },

    async incrementCounter(key: string, ttlSeconds: number) {
      return integerReply(await runScript(redis, incrementCounter, keys.counter(key), [ttlMilliseconds(ttlSeconds)]));
    },
    async getCounter(key: string) {
      return integerReply(await runScript(redis, getCounter, keys.counter(key), []));
    },

    async getAttemptState(userId: string) {
      const state = await getHash<AttemptState>(keys.attemptState(userId));
      // A state written by an earlier version has no `clients` field: no client counts.
      return state && { ...state, clients: state.clients ?? [] };
    },
    async compareAndSetAttemptState(userId: string, expectedVersion: number | null, next: Omit<AttemptState, 'version'>) {
      const state: AttemptState = { ...next, version: (expectedVersion ?? 0) + 1 };
      const expected = expectedVersion === null ? '' : encodeField(expectedVersion);
      const reply = await runScript(redis, compareAndSetHash, keys.attemptState(userId), [expected, ...encodeHash(state)]);
      return integerReply(reply) === 1;
    },
  };
}
