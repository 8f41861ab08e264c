// packages/redis/test/conformance.test.ts
// The storage conformance kit (ephemeral half) against a real Redis, over RESP3 (ioredis 6's default),
// RESP2 and `stringNumbers`, each run under its own random key prefix.
import type { RedisOptions } from 'ioredis';
import { composeStores, memoryStore } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { redisStore } from '@secondfactor/redis';
import { describeWithService, REDIS_URL } from '../../../test/support/services';
import { cleanup, connect, randomPrefix } from './support';

const variants: [string, RedisOptions][] = [
  ['redis (ioredis, RESP3)', {}],
  ['redis (ioredis, RESP2)', { protocol: 2 }],
  ['redis (ioredis, stringNumbers)', { stringNumbers: true }],
];

describeWithService('Redis', REDIS_URL)('@secondfactor/redis conformance', () => {
  for (const [name, clientOptions] of variants) {
    runStoreConformance(name, () => {
      const redis = connect(clientOptions);
      const keyPrefix = randomPrefix();
      return {
        store: composeStores({ durable: memoryStore(), ephemeral: redisStore(redis, { keyPrefix }) }),
        cleanup: () => cleanup(redis, keyPrefix),
      };
    }, { only: 'ephemeral' });
  }
});
