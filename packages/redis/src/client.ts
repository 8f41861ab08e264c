// packages/redis/src/client.ts
// The narrow slice of a Redis client the store calls: an ioredis `Redis` or `Cluster` fits as is.

/** A command argument: keys and values are strings, TTLs and numkeys may be numbers. */
export type RedisArgument = string | number;

/**
 * What `redisStore` needs from a client. Every call touches one key (Lua scripts receive it as
 * `KEYS[1]`), so a Cluster client routes each call to the node that owns the key's slot.
 * ioredis's `Redis` and `Cluster` (v5 and v6) match this type structurally; for another client,
 * write a small object with these four methods.
 */
export interface RedisClient {
  /** `EVALSHA sha1 numkeys key... arg...`; rejects with a `NOSCRIPT ...` error when the script is not cached. */
  evalsha(sha1: string, numkeys: number, ...args: RedisArgument[]): Promise<unknown>;
  /** `EVAL script numkeys key... arg...`; also caches the script for later `EVALSHA` calls. */
  eval(script: string, numkeys: number, ...args: RedisArgument[]): Promise<unknown>;
  /** `HGETALL key`: field → value, or an empty object when the key does not exist. */
  hgetall(key: string): Promise<Record<string, string>>;
  /** `DEL key`: how many keys were removed (0 or 1 here). */
  del(key: string): Promise<number>;
}
