// packages/redis/test/support.ts
// Test helpers: a client on REDIS_URL, a random key prefix per run, and clean-up of every key under it.
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { REDIS_URL } from '../../../test/support/services';

export function connect(options: RedisOptions = {}): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1, ...options });
}

/** A prefix no other run uses; no glob characters, so it can go into SCAN MATCH as is. */
export const randomPrefix = (): string => `sf-test-${randomUUID()}:`;

/** Every key under `prefix` (SCAN, never KEYS). */
export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return [...new Set(found)];
}

/** Deletes every key under `prefix`, then quits the client. */
export async function cleanup(redis: Redis, prefix: string): Promise<void> {
  try {
    const keys = await keysWithPrefix(redis, prefix);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    await redis.quit();
  }
}
