// packages/redis/src/index.ts
// @secondfactor/redis: short-lived MFA state (challenges, factor state, counters, attempt state) on Redis.
export { redisStore } from './redis-store';
export type { RedisStoreOptions } from './redis-store';
export type { RedisArgument, RedisClient } from './client';
