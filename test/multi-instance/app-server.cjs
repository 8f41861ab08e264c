// test/multi-instance/app-server.cjs
// One app instance for the multi-instance and outage suites: a minimal host (identity from a
// header, a stub password step) with secondfactor on PostgreSQL (knex) + Redis, run as its own
// process from the built packages (dist). Configured entirely by environment variables.
// Optional: SF_EVENT_LOG=<file> appends every MFA event as one JSON line, fsync'ed before the
// next one (the crash suite's audit trail); SF_MONITOR=1 adds GET /__stats (RSS, heap,
// event-loop delay, handles, pool counts) and in-process SMS/email senders whose last code per
// destination GET /__outbox/:to returns (for the soak run's traffic over every route).
// SF_POLICY=required gives the gate an enforcement policy: users whose id starts with `must-`
// must use an authenticator app (`{required: true, methods: ['totp']}`), everyone else is only
// nudged (`{required: false}`); the host's session answer then carries the gate's `enrollment`
// notice. SF_ADMIN=1 mounts mfaAdminRouter() at /admin/mfa, the admin named by the `x-admin`
// header when it starts with `admin-` (anyone else: 403).
'use strict';
const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const express = require('express');
const Knex = require('knex');
const Redis = require('ioredis');
const { backupCodes, composeStores, createMfa, email, sms, totp } = require('@secondfactor/core');
const { knexStore } = require('@secondfactor/knex');
const { redisStore } = require('@secondfactor/redis');
const { mfaAdminRouter, mfaRouter, mfaGate, mfaErrorHandler } = require('@secondfactor/express');

const env = process.env;
const db = Knex({
  client: 'pg',
  connection: env.SF_DATABASE_URL,
  pool: { min: 0, max: 10 },
  acquireConnectionTimeout: 3000,
});
/**
 * SF_REDIS_CLUSTER=host:port,host:port,…: an ioredis Cluster on these seed nodes instead of
 * SF_REDIS_URL (the Redis Cluster suite). Its offline queue stays on: during a failover or a slot
 * move, commands wait for the new slot map (bounded by commandTimeout) rather than fail.
 */
function redisCluster(seeds) {
  const nodes = seeds.split(',').map((seed) => {
    const [host, port] = seed.trim().split(':');
    return { host, port: Number(port) };
  });
  return new Redis.Cluster(nodes, { redisOptions: { commandTimeout: 5000 }, retryDelayOnFailover: 100, retryDelayOnTryAgain: 50 });
}
// Fail fast while Redis is away instead of queueing requests until it returns.
const redis = env.SF_REDIS_CLUSTER ? redisCluster(env.SF_REDIS_CLUSTER) : new Redis(env.SF_REDIS_URL, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 2000,
  retryStrategy: () => 200,
});
redis.on('error', () => {});

let eventLog = null;
if (env.SF_EVENT_LOG) eventLog = fs.openSync(env.SF_EVENT_LOG, 'a');
/** One line per event, on disk before the request goes on: a SIGKILL loses no event that was emitted. */
function onEvent(event) {
  if (eventLog === null) return;
  fs.writeSync(eventLog, `${JSON.stringify({ ...event, pid: process.pid })}\n`);
  fs.fsyncSync(eventLog);
}

const monitor = env.SF_MONITOR === '1';
/** The last code sent to each destination (bounded), for the soak client; only with SF_MONITOR=1. */
const outbox = new Map();
const outboxSender = { async send(message) {
  outbox.delete(message.to);
  outbox.set(message.to, message.code);
  if (outbox.size > 5000) outbox.delete(outbox.keys().next().value);
} };

const OOB = { resendCooldownSeconds: 0, sendLimits: { perIpPerHour: 100000, globalPerHour: 10_000_000, perDestinationPerHour: 1000 } };
const mfa = createMfa({
  issuer: 'Multi Instance',
  store: composeStores({
    durable: knexStore(db, { tablePrefix: env.SF_TABLE_PREFIX }),
    ephemeral: redisStore(redis, { keyPrefix: env.SF_KEY_PREFIX }),
  }),
  encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
  signingKey: 'multi-instance-signing-key-0123456789abcdef',
  factors: [
    totp(),
    ...(monitor ? [sms({ sender: outboxSender, ...OOB }), email({ sender: outboxSender, ...OOB })] : []),
    backupCodes({ bcryptCost: 4 }),
  ],
  limits: {
    backoffAfterFailures: Number(env.SF_BACKOFF_AFTER || 5),
    lockAfterFailures: Number(env.SF_LOCK_AFTER || 100),
    ...(env.SF_PER_IP_PER_WINDOW ? { perIpPerWindow: Number(env.SF_PER_IP_PER_WINDOW) } : {}),
  },
  onEvent,
});

const app = express();
app.use(express.json());
const identity = (req) => req.get('x-user-id') || undefined;
app.use('/mfa', mfaRouter(mfa, { getUserId: identity, cookie: { secure: false } }));
if (env.SF_POLICY !== undefined && env.SF_POLICY !== 'required') throw new Error(`SF_POLICY: only 'required' is known, not ${env.SF_POLICY}`);
const policy = env.SF_POLICY === 'required'
  ? (userId) => (String(userId).startsWith('must-') ? { required: true, methods: ['totp'] } : { required: false })
  : undefined;
// The host's password step is a stub here: the body names the user.
app.post('/login', (req, res, next) => {
  res.locals.userId = req.body?.userId;
  next();
}, mfaGate(mfa, { cookie: { secure: false }, ...(policy ? { policy } : {}) }), (_req, res) => {
  const enrollment = res.locals.mfaGate?.enrollment;
  res.json({ session: `host-session-for-${res.locals.userId}`, ...(enrollment ? { enrollment } : {}) });
});
if (env.SF_ADMIN === '1') {
  const authorize = (req) => {
    const admin = req.get('x-admin');
    return admin?.startsWith('admin-') ? admin : false;
  };
  app.use('/admin/mfa', mfaAdminRouter(mfa, { authorize }));
}
app.use(mfaErrorHandler());

if (monitor) {
  app.get('/__outbox/:to', (req, res) => {
    const code = outbox.get(req.params.to);
    if (code === undefined) return res.status(404).end();
    res.json({ code });
  });
  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  // Event-loop lag since the previous sample (reset on each read). The histogram records whole timer
  // intervals, so the resolution itself is subtracted: an idle loop reads about 0.
  // With `node --expose-gc`, `?gc=1` also reports the heap left after a full collection (what is
  // really retained); the collection's pause is not counted as lag (the histogram resets after it).
  app.get('/__stats', (req, res) => {
    const pool = db.client.pool;
    const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
    const loopDelayMs = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) };
    const mem = process.memoryUsage();
    let heapAfterGc = null;
    if (req.query.gc === '1' && typeof global.gc === 'function') {
      global.gc();
      heapAfterGc = process.memoryUsage().heapUsed;
    }
    res.json({
      rss: mem.rss, heapUsed: mem.heapUsed, heapAfterGc, external: mem.external,
      loopDelayMs,
      handles: process._getActiveHandles().length,
      requests: process._getActiveRequests().length,
      pgPool: pool ? { used: pool.numUsed(), free: pool.numFree(), pendingAcquires: pool.numPendingAcquires(), pendingCreates: pool.numPendingCreates() } : null,
      redis: redis.status,
    });
    delay.reset();
  });
}

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
