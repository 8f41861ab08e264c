// test/multi-instance/app-server.cjs
// One app instance for the multi-instance and outage suites: a minimal host (identity from a
// header, a stub password step) with secondfactor on PostgreSQL (knex) + Redis, run as its own
// process from the built packages (dist). Configured entirely by environment variables.
'use strict';
const express = require('express');
const Knex = require('knex');
const Redis = require('ioredis');
const { createMfa, composeStores } = require('@secondfactor/core');
const { knexStore } = require('@secondfactor/knex');
const { redisStore } = require('@secondfactor/redis');
const { mfaRouter, mfaGate, mfaErrorHandler } = require('@secondfactor/express');

const env = process.env;
const db = Knex({
  client: 'pg',
  connection: env.SF_DATABASE_URL,
  pool: { min: 0, max: 10 },
  acquireConnectionTimeout: 3000,
});
// Fail fast while Redis is away instead of queueing requests until it returns.
const redis = new Redis(env.SF_REDIS_URL, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 2000,
  retryStrategy: () => 200,
});
redis.on('error', () => {});

const mfa = createMfa({
  issuer: 'Multi Instance',
  store: composeStores({
    durable: knexStore(db, { tablePrefix: env.SF_TABLE_PREFIX }),
    ephemeral: redisStore(redis, { keyPrefix: env.SF_KEY_PREFIX }),
  }),
  encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
  signingKey: 'multi-instance-signing-key-0123456789abcdef',
  backupCodes: { bcryptCost: 4 },
  limits: {
    backoffAfterFailures: Number(env.SF_BACKOFF_AFTER || 5),
    lockAfterFailures: Number(env.SF_LOCK_AFTER || 100),
  },
});

const app = express();
app.use(express.json());
const identity = (req) => req.get('x-user-id') || undefined;
app.use('/mfa', mfaRouter(mfa, { getUserId: identity, cookie: { secure: false } }));
// The host's password step is a stub here: the body names the user.
app.post('/login', (req, res, next) => {
  res.locals.userId = req.body && req.body.userId;
  next();
}, mfaGate(mfa, { cookie: { secure: false } }), (req, res) => {
  res.json({ session: `host-session-for-${res.locals.userId}` });
});
app.use(mfaErrorHandler());

let server;
// Without an offline queue, commands sent before the first connection fail: listen once ready.
redis.once('ready', () => {
  server = app.listen(Number(env.PORT || 0), '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });
});
process.on('SIGTERM', () => {
  if (server) server.close();
  Promise.allSettled([db.destroy(), redis.quit()]).then(() => process.exit(0));
});
