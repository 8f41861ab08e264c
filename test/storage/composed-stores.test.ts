// The conformance kit over composed stores: memory+memory, and the production pairing
// knex (PostgreSQL) for durable data + Redis for ephemeral data (issue #4).
import { randomBytes } from 'node:crypto';
import Knex from 'knex';
import Redis from 'ioredis';
import { composeStores, memoryStore } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { knexStore, migrate, rollback } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { deleteKeysWithPrefix } from '../support/redis';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../support/services';

runStoreConformance('composeStores(memory, memory)', () => ({
  store: composeStores({ durable: memoryStore(), ephemeral: memoryStore() }),
  cleanup: async () => {},
}));

describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]])('composed: knex on PostgreSQL + Redis', () => {
  runStoreConformance('composeStores(knex/postgres, redis)', async () => {
    const id = randomBytes(4).toString('hex');
    const tablePrefix = `sf_cmp_${id}_`;
    const keyPrefix = `sf:cmp:${id}:`;
    const db = Knex({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 10 } });
    await migrate(db, { tablePrefix });
    const redis = new Redis(REDIS_URL);
    return {
      store: composeStores({ durable: knexStore(db, { tablePrefix }), ephemeral: redisStore(redis, { keyPrefix }) }),
      async cleanup() {
        await rollback(db, { tablePrefix });
        await db.destroy();
        await deleteKeysWithPrefix(redis, keyPrefix);
        await redis.quit();
      },
    };
  });
});

test('composeStores refuses an incomplete half, naming it', () => {
  const durable = memoryStore();
  expect(() => composeStores({ durable, ephemeral: {} as never })).toThrow(/`ephemeral` is not a complete store: missing createChallenge/);
  expect(() => composeStores({ durable: null as never, ephemeral: durable })).toThrow(/`durable`/);
});
