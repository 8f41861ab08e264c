// test/bench/server.mjs — the app under test for `pnpm bench` (started by run.mjs, one process
// per app instance). A minimal host (identity from a header, a stub password step) with
// secondfactor from the built packages (dist), on one of two stores:
//   BENCH_STORE=sqlite    knex + better-sqlite3, file BENCH_SQLITE_FILE, WAL, synchronous=NORMAL
//   BENCH_STORE=pg-redis  knex + pg (schema BENCH_PG_SCHEMA of DATABASE_URL) for the durable
//                         data, ioredis (keys under BENCH_REDIS_PREFIX of REDIS_URL) for the
//                         ephemeral data: the multi-instance layout
// The driver migrates the store before it starts any instance. Prints `READY <port>` when it
// takes requests; exits on SIGTERM.
//
// Bench-only settings (everything else is the library default):
// - limits.perIpPerWindow 1 000 000: every request comes from 127.0.0.1, and the per-IP
//   verification budget (default 300 / 15 min) cannot be switched off; its counter is still kept.
// - limits.backoffAfterFailures and lockAfterFailures 100 (the maximum of both): the wrong-code
//   scenario sends up to 96 wrong codes per user, so every request is a genuine evaluated wrong
//   code, never a cheaper backoff or lock refusal.
// - backupCodes: bcrypt cost 4 and 5 codes (the minimums): only seeding pays for them (a first
//   enrolment issues backup codes), no scenario.
// - a movable clock: `Date.now() + offset`, the offset set by the driver (POST /__bench/clock),
//   so that every valid-code request can use a TOTP time step its user has not used yet.
// - its own garbage-collection pauses, observed (perf_hooks `gc` entries) and handed to the driver
//   per measured window (GET /__bench/gc).
import { createRequire } from 'node:module';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const express = require('express');
const Knex = require('knex');
const { backupCodes, createMfa, composeStores, generateTotp, totp } = require('@secondfactor/core');
const { knexStore } = require('@secondfactor/knex');
const { mfaRouter, mfaGate, requireMfa, mfaErrorHandler } = require('@secondfactor/express');

const env = process.env;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

let db;
let redis;
let store;
if (env.BENCH_STORE === 'sqlite') {
  db = Knex({
    client: 'better-sqlite3',
    connection: { filename: env.BENCH_SQLITE_FILE },
    useNullAsDefault: true,
    pool: {
      afterCreate(conn, done) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        done(null, conn);
      },
    },
  });
  store = knexStore(db);
} else if (env.BENCH_STORE === 'pg-redis') {
  const Redis = require('ioredis');
  const { redisStore } = require('@secondfactor/redis');
  db = Knex({ client: 'pg', connection: env.DATABASE_URL, searchPath: [env.BENCH_PG_SCHEMA], pool: { min: 0, max: 10 } });
  redis = new Redis(env.REDIS_URL, { lazyConnect: true });
  await redis.connect();
  store = composeStores({ durable: knexStore(db), ephemeral: redisStore(redis, { keyPrefix: env.BENCH_REDIS_PREFIX }) });
} else {
  throw new Error(`BENCH_STORE must be sqlite or pg-redis (got ${env.BENCH_STORE})`);
}

const mfa = createMfa({
  issuer: 'Bench',
  store,
  encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 3).toString('base64') } },
  signingKey: 'bench-signing-key-0123456789abcdef0123456789',
  factors: [totp(), backupCodes({ bcryptCost: 4, count: 5 })],
  limits: { perIpPerWindow: 1_000_000, backoffAfterFailures: 100, lockAfterFailures: 100 },
  clock,
});

const identity = (req) => req.get('x-user-id') || undefined;
const app = express();
app.disable('x-powered-by');

// The baseline: a bare Express route with a small JSON answer.
app.get('/bare', (_req, res) => res.json({ ok: true }));
// The host's password step is a stub: the body names the user. Then the gate.
app.post('/login', express.json(), (req, res, next) => {
  res.locals.userId = req.body?.userId;
  next();
}, mfaGate(mfa, { cookie: { secure: false } }), (_req, res) => res.json({ session: 'host-session' }));
app.use('/mfa', mfaRouter(mfa, { getUserId: identity, cookie: { secure: false } }));
// A step-up protected route (as the peer's `session-valid`): a Bearer assertion of the user.
app.get('/admin', requireMfa(mfa, { maxAge: 300, getUserId: identity }), (_req, res) => res.json({ ok: true }));

// ---- bench-only routes (never measured) ----
// The GC pauses (V8 stops this process's JavaScript) since the last call: count, total and longest
// in ms, and how many were full (mark-compact) collections. The driver calls it before and after
// each measured window. An entry is delivered a moment after its pause, so a pause in the last
// milliseconds of a window may count in the next one.
const zeroGc = () => ({ count: 0, ms: 0, maxMs: 0, major: 0 });
let gcPauses = zeroGc();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcPauses.count++;
    gcPauses.ms += e.duration;
    gcPauses.maxMs = Math.max(gcPauses.maxMs, e.duration);
    if (e.detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) gcPauses.major++;
  }
}).observe({ entryTypes: ['gc'] });
app.get('/__bench/gc', (_req, res) => {
  res.json(gcPauses);
  gcPauses = zeroGc();
});
app.post('/__bench/clock', express.json(), (req, res) => {
  offsetMs = req.body.offsetMs;
  res.json({ now: clock() });
});
// Enrols `count` users (TOTP, confirmed with the current step's code) and returns their secrets.
app.post('/__bench/seed', express.json(), async (req, res, next) => {
  try {
    const { prefix, count } = req.body;
    const out = [];
    for (let i = 0; i < count; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, count - i) }, async (_, j) => {
        const userId = `${prefix}${i + j}`;
        const e = await mfa.enroll(userId, 'totp');
        const r = await mfa.confirm(userId, e.factorId, { code: await generateTotp(e.secret, clock(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }) });
        if (!r.ok) throw new Error(`seed confirm failed for ${userId}: ${JSON.stringify(r)}`);
        return { userId, secret: e.secret };
      }));
      out.push(...batch);
    }
    res.json(out);
  } catch (err) {
    next(err);
  }
});
app.post('/__bench/assertion', express.json(), async (req, res, next) => {
  try {
    res.json(await mfa.assertions.issue(req.body.userId, ['otp']));
  } catch (err) {
    next(err);
  }
});

app.use(mfaErrorHandler());
app.use((err, _req, res, _next) => {
  console.error(err);
  if (!res.headersSent) res.status(500).json({ error: 'internal_error' });
});

const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  Promise.allSettled([db.destroy(), redis?.quit()]).then(() => process.exit(0));
});
