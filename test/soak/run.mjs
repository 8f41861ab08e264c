// test/soak/run.mjs
// Soak run (issue #14), not part of `pnpm test`: one app process (test/multi-instance/app-server.cjs,
// built packages, PostgreSQL + Redis) under mixed traffic over every route of mfaRouter and mfaGate for
// SOAK_MINUTES (default 30). Every SOAK_SAMPLE_SECONDS (default 10) it samples, inside the app: RSS,
// heap (and heap after a forced full GC: the app runs with --expose-gc), event-loop delay
// (perf_hooks monitorEventLoopDelay), active handles and requests, the knex
// pool's counts; and from outside: the app's PostgreSQL backends (pg_stat_activity, by
// application_name). At the end it prints the samples, compares the second quarter of the run with
// the last quarter and exits 1 when a figure grew, or when any answer was not the expected one.
//
//   pnpm soak                        # 30 minutes
//   SOAK_MINUTES=5 pnpm soak         # shorter
//   SOAK_CONCURRENCY=6 SOAK_OUT=/tmp/soak.json pnpm soak
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const Knex = require('knex');
const { Redis } = require('ioredis');
const { migrate, rollback } = require('@secondfactor/knex');
const { generateTotp, timeStepAt } = require('@secondfactor/core');

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 4);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
if (!(minutes > 0) || !(sampleSeconds > 0) || !(concurrency >= 1)) throw new Error('SOAK_MINUTES, SOAK_SAMPLE_SECONDS and SOAK_CONCURRENCY must be positive');

const P = { algorithm: 'SHA1', digits: 6, periodSeconds: 30 };
const id = randomBytes(4).toString('hex');
const tablePrefix = `sf_soak_${id}_`;
const keyPrefix = `sf:soak:${id}:`;
const appName = `sf-soak-${id}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the app -----------------------------------------------------------------------------------
function startApp() {
  const dbUrl = new URL(DATABASE_URL);
  dbUrl.searchParams.set('application_name', appName);
  const proc = spawn(process.execPath, ['--expose-gc', join(ROOT, 'test/multi-instance/app-server.cjs')], {
    cwd: ROOT,
    env: {
      ...process.env, PORT: '0', NODE_ENV: 'test', SF_MONITOR: '1', SF_DATABASE_URL: dbUrl.toString(), SF_REDIS_URL: REDIS_URL,
      SF_TABLE_PREFIX: tablePrefix, SF_KEY_PREFIX: keyPrefix, SF_PER_IP_PER_WINDOW: '1000000', SF_BACKOFF_AFTER: '100', SF_LOCK_AFTER: '100',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('app did not start')), 30_000);
    proc.stdout.on('data', (d) => {
      const m = /LISTENING (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: `http://127.0.0.1:${m[1]}` });
      }
    });
    proc.once('exit', (code) => reject(new Error(`app exited (${code})`)));
  });
}

// ---- traffic -----------------------------------------------------------------------------------
const stats = { journeys: 0, requests: 0, unexpected: 0, boundaryRetries: 0, byRoute: new Map(), examples: [] };

/** An unexpected answer: counted once, and it ends the journey (the steps after it would fail too). */
class Unexpected extends Error {}

async function call(base, method, path, { body, user, cookie, expect: expected, route, unexpectedOk } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (user) headers['x-user-id'] = user;
  if (cookie) headers.cookie = cookie;
  const started = performance.now();
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const key = `${method} ${route ?? path}`;
  const r = stats.byRoute.get(key) ?? { n: 0, ms: 0 };
  r.n++;
  r.ms += performance.now() - started;
  stats.byRoute.set(key, r);
  stats.requests++;
  let parsed;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
  const result = { status: res.status, body: parsed, headers: res.headers };
  if (expected !== undefined && !(Array.isArray(expected) ? expected : [expected]).includes(res.status)) {
    if (unexpectedOk?.(result)) return result;
    stats.unexpected++;
    if (stats.examples.length < 20) stats.examples.push(`${key} → ${res.status} (expected ${expected}): ${text.slice(0, 200)}`);
    throw new Unexpected(key);
  }
  return result;
}

/**
 * A request carrying a TOTP code computed just before it is sent (`offsetSteps` from the current
 * step). If the 30-second step changed while it was on its way, a refusal is the client's timing,
 * not the server's fault: counted as a boundary retry and sent once more with a fresh code.
 */
async function withTotp(base, method, path, { secret, offsetSteps, body, ...rest }) {
  const step = timeStepAt(Date.now(), P.periodSeconds);
  const first = await call(base, method, path, {
    ...rest, body: { ...body, code: await generateTotp(secret, Date.now() + offsetSteps * 30_000, P) },
    unexpectedOk: (r) => r.status === 401 && timeStepAt(Date.now(), P.periodSeconds) !== step,
  });
  if (first.status !== 401 || rest.expect === 401) return first;
  stats.boundaryRetries++;
  return call(base, method, path, { ...rest, body: { ...body, code: await generateTotp(secret, Date.now() + offsetSteps * 30_000, P) } });
}

const phones = Array.from({ length: 100 }, (_, i) => `+1415555${String(100 + i).padStart(4, '0')}`);
let phoneIndex = 0;

async function outbox(base, to) {
  const r = await fetch(`${base}/__outbox/${encodeURIComponent(to)}`);
  return r.ok ? (await r.json()).code : undefined;
}

/** One user's whole life: every route once or more, ending with MFA turned off (so data does not pile up). */
async function journey(base, n) {
  const user = `soak-${id}-${n}`;
  const phone = phones[phoneIndex++ % phones.length];
  const email = `soak-${id}-${n}@example.com`;
  await call(base, 'GET', '/mfa/status', { user, expect: 200 });
  const setup = await call(base, 'POST', '/mfa/totp/setup', { user, body: { label: 'Phone' }, expect: 200 });
  const secret = setup.body.secret;
  // TOTP steps strictly increase over the journey: previous step, then current, then next.
  const confirm = await withTotp(base, 'POST', '/mfa/totp/confirm', { user, secret, offsetSteps: -1, body: { factorId: setup.body.factorId }, expect: 200 });
  const codes = confirm.body.backupCodes;

  // Login with TOTP, trusting the device.
  let login = await call(base, 'POST', '/login', { body: { userId: user }, expect: 200 });
  const v = await withTotp(base, 'POST', '/mfa/verify', { secret, offsetSteps: 0, body: { challengeToken: login.body.challengeToken, method: 'totp', trustDevice: true }, expect: 200 });
  const assertion = v.body.accessToken;
  const cookie = (v.headers.get('set-cookie') ?? '').split(';')[0];
  await call(base, 'POST', '/login', { body: { userId: user }, cookie, expect: 200, route: '/login (trusted device)' });

  // SMS and email factors, proven with the assertion; a login with each.
  const sms = await call(base, 'POST', '/mfa/sms/setup', { user, body: { phone, assertion }, expect: 200 });
  await call(base, 'POST', '/mfa/sms/confirm', { user, body: { factorId: sms.body.factorId, code: await outbox(base, phone) }, expect: 200 });
  const mail = await call(base, 'POST', '/mfa/email/setup', { user, body: { email, assertion }, expect: 200 });
  await call(base, 'POST', '/mfa/email/confirm', { user, body: { factorId: mail.body.factorId, code: await outbox(base, email) }, expect: 200 });
  for (const [method, to] of [['sms', phone], ['email', email]]) {
    login = await call(base, 'POST', '/login', { body: { userId: user }, expect: 200 });
    await call(base, 'POST', `/mfa/challenge/${method}`, { body: { challengeToken: login.body.challengeToken }, expect: 202 });
    await call(base, 'POST', '/mfa/verify', { body: { challengeToken: login.body.challengeToken, method, code: await outbox(base, to) }, expect: 200 });
  }

  // A backup code: once yes, twice no; a wrong TOTP code; step-up.
  login = await call(base, 'POST', '/login', { body: { userId: user }, expect: 200 });
  await call(base, 'POST', '/mfa/verify', { body: { challengeToken: login.body.challengeToken, method: 'backup_code', code: codes[0] }, expect: 200 });
  login = await call(base, 'POST', '/login', { body: { userId: user }, expect: 200 });
  await call(base, 'POST', '/mfa/verify', { body: { challengeToken: login.body.challengeToken, method: 'backup_code', code: codes[0] }, expect: 401, route: '/mfa/verify (spent code)' });
  await call(base, 'POST', '/mfa/verify', { body: { challengeToken: login.body.challengeToken, method: 'totp', code: '000000' }, expect: 401, route: '/mfa/verify (wrong code)' });
  await withTotp(base, 'POST', '/mfa/step-up', { user, secret, offsetSteps: 1, body: {}, expect: 200 });
  await call(base, 'POST', '/mfa/verify', { body: { challengeToken: 'x'.repeat(43), method: 'totp', code: '123456' }, expect: 401, route: '/mfa/verify (unknown challenge)' });

  // Management.
  await call(base, 'GET', '/mfa/status', { user, expect: 200 });
  await call(base, 'POST', '/mfa/backup-codes/regenerate', { user, body: { assertion }, expect: 200 });
  const devices = await call(base, 'GET', '/mfa/trusted-devices', { user, expect: 200 });
  for (const d of devices.body.devices) await call(base, 'DELETE', `/mfa/trusted-devices/${d.id}`, { user, expect: 204, route: '/mfa/trusted-devices/:id' });
  await call(base, 'DELETE', `/mfa/factors/${sms.body.factorId}`, { user, body: { assertion }, expect: 204, route: '/mfa/factors/:id' });
  await call(base, 'POST', '/mfa/disable', { user, body: { assertion }, expect: 204 });
  await call(base, 'GET', '/mfa/status', { user, expect: 200 });
  await call(base, 'POST', '/login', { body: { userId: user }, expect: 200, route: '/login (MFA off)' });
  stats.journeys++;
}

// ---- samples -----------------------------------------------------------------------------------
async function sample(base, admin, t0) {
  const s = await (await fetch(`${base}/__stats?gc=1`)).json();
  const { rows } = await admin.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ?', [appName]);
  return { t: Math.round((Date.now() - t0) / 1000), ...s, pgBackends: rows[0].n, requests: stats.requests, unexpected: stats.unexpected };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const mb = (b) => Math.round((b / 1048576) * 10) / 10;

function verdict(samples) {
  const q = Math.max(1, Math.floor(samples.length / 4));
  const early = samples.slice(q, 2 * q); // second quarter: after warm-up
  const late = samples.slice(-q);
  const fig = (f) => ({ early: median(early.map(f)), late: median(late.map(f)), max: Math.max(...samples.map(f)) });
  const figures = {
    rssMB: fig((s) => mb(s.rss)),
    heapUsedMB: fig((s) => mb(s.heapUsed)),
    heapAfterGcMB: fig((s) => mb(s.heapAfterGc)),
    loopDelayP99ms: fig((s) => s.loopDelayMs.p99),
    loopDelayMaxMs: fig((s) => s.loopDelayMs.max),
    handles: fig((s) => s.handles),
    pgPoolUsedPlusFree: fig((s) => s.pgPool.used + s.pgPool.free),
    pgBackends: fig((s) => s.pgBackends),
  };
  const checks = {
    // Generous bounds: flat means no trend beyond noise, not identical numbers.
    rss: figures.rssMB.late <= figures.rssMB.early * 1.15 + 10,
    heap: figures.heapAfterGcMB.late <= figures.heapAfterGcMB.early * 1.1 + 2,
    loopDelay: figures.loopDelayP99ms.late <= figures.loopDelayP99ms.early * 2 + 20,
    handles: figures.handles.late <= figures.handles.early + 5,
    pgPool: figures.pgPoolUsedPlusFree.max <= 10,
    pgBackends: figures.pgBackends.max <= 10,
  };
  // Least-squares trend of RSS and heap after warm-up (MB per minute): informational.
  const trend = (f) => {
    const xs = samples.slice(q).map((s) => s.t / 60);
    const ys = samples.slice(q).map(f);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
    const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return den > 0 ? Math.round((num / den) * 100) / 100 : 0;
  };
  const trendMBPerMinute = { rss: trend((s) => mb(s.rss)), heapAfterGc: trend((s) => mb(s.heapAfterGc)) };
  return { figures, trendMBPerMinute, checks, flat: Object.values(checks).every(Boolean) };
}

// ---- main --------------------------------------------------------------------------------------
const admin = Knex({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 } });
const redis = new Redis(REDIS_URL);
await migrate(admin, { tablePrefix });
const app = await startApp();
const t0 = Date.now();
const end = t0 + minutes * 60_000;
const samples = [];
let failure;
console.log(`soak: ${minutes} min, ${concurrency} concurrent journeys, a sample every ${sampleSeconds} s; app ${app.url}, tables ${tablePrefix}*`);
try {
  let n = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (Date.now() < end && !failure) {
      try {
        await journey(app.url, n++);
      } catch (error) {
        if (error instanceof Unexpected) continue;
        stats.unexpected++;
        if (stats.examples.length < 20) stats.examples.push(`journey threw: ${error?.stack ?? error}`);
      }
    }
  });
  const sampler = (async () => {
    while (Date.now() < end) {
      await sleep(Math.min(sampleSeconds * 1000, Math.max(0, end - Date.now())));
      const s = await sample(app.url, admin, t0);
      samples.push(s);
      console.log(`t=${s.t}s rss=${mb(s.rss)}MB heap=${mb(s.heapUsed)}MB after-gc=${mb(s.heapAfterGc)}MB loop p50/p99/max=${s.loopDelayMs.p50}/${s.loopDelayMs.p99}/${s.loopDelayMs.max}ms handles=${s.handles} pool used/free=${s.pgPool.used}/${s.pgPool.free} pg backends=${s.pgBackends} requests=${s.requests} unexpected=${s.unexpected}`);
    }
  })();
  await Promise.all([...workers, sampler]);
  // Idle for a moment: the pool and handles settle back when nothing runs.
  await sleep(3000);
  samples.push({ ...(await sample(app.url, admin, t0)), idle: true });
} catch (error) {
  failure = error;
} finally {
  app.proc.kill('SIGTERM');
  await new Promise((r) => (app.proc.exitCode !== null ? r() : app.proc.once('exit', r)));
  await rollback(admin, { tablePrefix });
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  await admin.destroy();
}
if (failure) {
  console.error('soak: failed:', failure);
  process.exit(1);
}

const busy = samples.filter((s) => !s.idle);
const result = verdict(busy);
const idle = samples.at(-1);
const elapsed = (Date.now() - t0) / 1000;
const summary = {
  minutes, concurrency, journeys: stats.journeys, requests: stats.requests, requestsPerSecond: Math.round((stats.requests / elapsed) * 10) / 10,
  unexpected: stats.unexpected, boundaryRetries: stats.boundaryRetries, examples: stats.examples, samples: busy.length, ...result,
  idle: { handles: idle.handles, pgPool: idle.pgPool, pgBackends: idle.pgBackends, rssMB: mb(idle.rss) },
  routes: Object.fromEntries([...stats.byRoute].map(([k, r]) => [k, { n: r.n, avgMs: Math.round((r.ms / r.n) * 10) / 10 }])),
};
if (process.env.SOAK_OUT) writeFileSync(process.env.SOAK_OUT, JSON.stringify({ summary, samples }, null, 2));
console.log(JSON.stringify(summary, null, 2));
console.log(`soak: ${result.flat ? 'FLAT' : 'NOT FLAT'}; ${stats.unexpected} unexpected answers`);
process.exit(result.flat && stats.unexpected === 0 ? 0 : 1);
