// packages/redis/src/run-script.ts
// Runs a Lua script by its SHA-1 (EVALSHA), falling back to EVAL when the server has not cached it.
import { createHash } from 'node:crypto';
import type { RedisArgument, RedisClient } from './client';

/** A Lua source with its SHA-1, computed once. */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs `script` on one key. A fresh server, a `SCRIPT FLUSH`, a restart or a Cluster failover leaves the
 * script cache empty: EVALSHA then fails with NOSCRIPT without running anything, so retrying with EVAL
 * (which also caches the script again) is safe.
 */
export async function runScript(redis: RedisClient, script: LuaScript, key: string, args: RedisArgument[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha1, 1, key, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(script.source, 1, key, ...args);
  }
}

/** An integer reply as a number: ioredis returns a string with `stringNumbers: true`. */
export function integerReply(reply: unknown): number {
  const value = typeof reply === 'string' ? Number(reply) : reply;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`@secondfactor/redis: expected an integer reply from Redis, got ${typeof reply}`);
  }
  return value;
}
