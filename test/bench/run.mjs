// test/bench/run.mjs — `pnpm bench` (docs/benchmarks.md)
// Side-by-side cost of secondfactor's hot paths against a bare Express route measured in the same
// run, on SQLite (one app instance) and on PostgreSQL + Redis (two app instances, requests
// round-robin). The app instances (test/bench/server.mjs) run pinned to CPU 0, this process —
// the load generator: keep-alive HTTP over loopback, a fixed number of connections, closed loop —
// pinned to CPU 1. Per scenario: req/s, p50/p99, the servers' CPU time per response (utime+stime
// from /proc/<pid>/stat), their peak RSS (VmRSS sampled from /proc/<pid>/status), their GC pauses
// (observed in the app, perf_hooks `gc` entries) and every response's status; a scenario with an
// unexpected status fails the run (exit code 1).
//
// Options: --quick (or BENCH_QUICK=1): a smoke, short runs and few users; --only=a,b: scenarios
// (the bare baseline always runs); --stores=sqlite,pg-redis; --no-pin. Environment: BENCH_MS
// (measured time per scenario), BENCH_CONCURRENCY (connections, default 50), BENCH_USERS (seeded
// users), BENCH_SERVER_FLAGS (node flags for the app instances only, e.g. --cpu-prof), DATABASE_URL,
// REDIS_URL.
import http from 'node:http';
import os from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { base32Decode, stepAt, totpForStep } from './totp.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const value = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

for (const a of args) {
  if (a !== '--' && !['--quick', '--no-pin'].includes(a) && !/^--(only|stores)=./.test(a)) {
    console.error(`unknown option ${a} (known: --quick --no-pin --only=a,b --stores=sqlite,pg-redis; see docs/benchmarks.md)`);
    process.exit(2);
  }
}
const QUICK = flag('quick') || process.env.BENCH_QUICK === '1';
const DURATION_MS = Number(process.env.BENCH_MS || (QUICK ? 700 : 10_000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 50);
const USERS = Number(process.env.BENCH_USERS || (QUICK ? 100 : 1000));
const ROUNDS_PER_BLOCK = QUICK ? 2 : 8; // valid-code rounds per batch of challenges (≤ 8: see totp-valid below)
const WRONG_PER_CHALLENGE = 4; // below the default challenge.maxAttempts (5)
const MAX_WRONG_PER_USER = 96; // below limits.backoffAfterFailures / lockAfterFailures (100) of server.mjs
const STORES = (value('stores') ?? 'sqlite,pg-redis').split(',');
const ONLY = value('only')?.split(',');
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

// ---- scenarios: [name, expected status, what it measures] ----
// Names follow the peer harness (../shared/peers/better-auth) where the request is the same kind.
const SCENARIOS = [
  ['bare', 200, 'bare Express GET, small JSON (baseline, first)'],
  ['session-valid', 200, '`requireMfa` route, valid Bearer assertion'],
  ['session-none', 401, '`requireMfa` route, no assertion (RFC 9470 401)'],
  ['gate-no-mfa', 200, '`mfaGate`, user without MFA → next()'],
  ['totp-valid', 200, '`POST /mfa/verify`, valid TOTP (fresh challenge, unused step)'],
  ['totp-invalid', 401, '`POST /mfa/verify`, wrong code (evaluated, no backoff)'],
  ['gate-challenge', 200, '`mfaGate`, user with MFA → challenge'],
  ['bare-again', 200, 'bare Express GET (baseline, last)'],
];

async function main() {
  const selected = SCENARIOS.filter(([name]) => !ONLY || name.startsWith('bare') || ONLY.includes(name));
  for (const n of ONLY ?? []) {
    if (!SCENARIOS.some(([name]) => name === n)) {
      log(`--only: unknown scenario ${n} (known: ${SCENARIOS.map((x) => x[0]).join(', ')})`);
      process.exit(2);
    }
  }
  const started = Date.now();
  const load0 = os.loadavg();
  log(`secondfactor bench: ${QUICK ? 'QUICK smoke, ' : ''}${DURATION_MS} ms per scenario, ${CONCURRENCY} connections, ${USERS} seeded users, ` +
    `${canPin ? 'servers on CPU 0, load generator on CPU 1 (taskset)' : 'NOT pinned'}; node ${process.version}, ${os.cpus().length} CPUs, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const reports = [];
  let failed = false;
  for (const store of STORES) {
    if (store !== 'sqlite' && store !== 'pg-redis') {
      log(`--stores: unknown store ${store} (known: sqlite, pg-redis)`);
      process.exit(2);
    }
    if (store === 'pg-redis' && !(await reachable(DATABASE_URL) && await reachable(REDIS_URL))) {
      const msg = `PostgreSQL (${DATABASE_URL}) or Redis (${REDIS_URL}) is not reachable`;
      if (process.env.CI) { log(`FAIL: ${msg} (CI=true)`); failed = true; continue; }
      log(`\n!!! SKIPPED store pg-redis: ${msg}\n`);
      continue;
    }
    const r = await runStore(store, selected);
    reports.push(r);
    if (r.rows.some((row) => row.unexpected > 0) || r.error) failed = true;
  }
  const load1 = os.loadavg();
  const out = [`secondfactor bench ${new Date().toISOString()}: ${QUICK ? 'quick smoke, ' : ''}${DURATION_MS} ms per scenario, ${CONCURRENCY} connections, ${USERS} seeded users; ` +
    `${canPin ? 'servers pinned to CPU 0, load generator to CPU 1' : 'not pinned'}; node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}; ` +
    `load average ${load0[0].toFixed(2)} before, ${load1[0].toFixed(2)} after; ${((Date.now() - started) / 1000).toFixed(0)} s in all`, ''];
  for (const r of reports) out.push(table(r), '');
  process.stdout.write(`\n${out.join('\n')}`);
  if (failed) {
    log('bench FAILED: a store did not run or a scenario answered with an unexpected status (see above)');
    process.exitCode = 1;
  }
}

// ---- one store: start instances, seed, run the scenarios, clean up ----
async function runStore(store, selected) {
  const id = randomBytes(4).toString('hex');
  const instances = [];
  const rows = [];
  let cleanup = async () => {};
  const report = { store, rows, instances: store === 'pg-redis' ? 2 : 1 };
  // Interrupted (Ctrl-C): stop the instances and remove the schema, keys or file all the same.
  const onSignal = async () => {
    for (const s of instances) await s.stop().catch(() => {});
    await cleanup().catch(() => {});
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const envs = {};
    if (store === 'sqlite') {
      const dir = mkdtempSync(join(os.tmpdir(), 'sf-bench-'));
      const file = join(dir, 'bench.db');
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
      const db = require('knex')({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
      await db.raw('PRAGMA journal_mode = WAL');
      await require('@secondfactor/knex').migrate(db);
      await db.destroy();
      Object.assign(envs, { BENCH_STORE: 'sqlite', BENCH_SQLITE_FILE: file });
    } else {
      const schema = `sf_bench_${id}`;
      const prefix = `sf:bench:${id}:`;
      const admin = require('knex')({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 } });
      cleanup = async () => {
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch((e) => log(`cleanup: ${e.message}`));
        await admin.destroy();
        const Redis = require('ioredis');
        const redis = new Redis(REDIS_URL);
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
        await redis.quit();
      };
      await admin.raw('CREATE SCHEMA ??', [schema]);
      const db = require('knex')({ client: 'pg', connection: DATABASE_URL, searchPath: [schema], pool: { min: 0, max: 1 } });
      await require('@secondfactor/knex').migrate(db);
      await db.destroy();
      Object.assign(envs, { BENCH_STORE: 'pg-redis', DATABASE_URL, BENCH_PG_SCHEMA: schema, REDIS_URL, BENCH_REDIS_PREFIX: prefix });
    }
    for (let i = 0; i < report.instances; i++) instances.push(await startInstance(envs));
    const ctx = { instances, offsetMs: 0, lastStep: 0, users: [] };

    const t0 = Date.now();
    // Users with TOTP: the assertion's user, the challenges' users (not needed by the others).
    const needUsers = selected.some(([name]) => !['bare', 'bare-again', 'session-none', 'gate-no-mfa'].includes(name));
    ctx.users = needUsers ? await seedUsers(ctx, USERS) : [{ userId: 'bench-user' }];
    log(`[${store}] ${report.instances} instance(s); seeded ${needUsers ? USERS : 0} users with TOTP in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const [name, expect, label] of selected) {
      const row = await SCENARIO_RUNS[name.replace(/-again$/, '')](ctx, expect);
      Object.assign(row, { name, label, expect });
      rows.push(row);
      log(`[${store}] ${name.padEnd(15)} ${fmt(row.rps).padStart(7)} req/s  p50 ${fmt(row.p50, 1)} ms  p99 ${fmt(row.p99, 1)} ms  ` +
        `CPU ${fmt(row.cpuUs)} µs/req  GC ${fmt(row.gcUs, 1)} µs/req, longest ${fmt(row.gcMaxMs, 1)} ms  RSS ${fmt(row.peakRssMiB)} MiB  ${row.responses} responses ${JSON.stringify(row.statuses)}${row.unexpected ? `  UNEXPECTED ${row.unexpected}` : ''}`);
    }
    report.hwmMiB = instances.map((s) => s.vm('VmHWM') / 1024);
  } catch (err) {
    log(`[${store}] FAILED: ${err.stack ?? err}`);
    report.error = String(err.message ?? err);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const s of instances) await s.stop();
    await cleanup();
  }
  return report;
}

// ---- scenario implementations: each returns the measured figures ----
const SCENARIO_RUNS = {
  async bare(ctx, expect) {
    return timed(ctx, expect, () => ({ method: 'GET', path: '/bare' }));
  },
  async 'session-valid'(ctx, expect) {
    const user = ctx.users[0].userId;
    const { assertion } = await call(ctx.instances[0], 'POST', '/__bench/assertion', { userId: user });
    const headers = { authorization: `Bearer ${assertion}`, 'x-user-id': user };
    return timed(ctx, expect, () => ({ method: 'GET', path: '/admin', headers }));
  },
  async 'session-none'(ctx, expect) {
    const headers = { 'x-user-id': ctx.users[0].userId };
    return timed(ctx, expect, () => ({ method: 'GET', path: '/admin', headers }));
  },
  async 'gate-no-mfa'(ctx, expect) {
    let i = 0;
    return timed(ctx, expect, () => ({ method: 'POST', path: '/login', body: { userId: `no-mfa-${i++ % 1000}` } }));
  },
  async 'gate-challenge'(ctx, expect) {
    let i = 0;
    return timed(ctx, expect, () => ({ method: 'POST', path: '/login', body: { userId: ctx.users[i++ % ctx.users.length].userId } }));
  },
  // Every request: a challenge of its own (minted beforehand through the gate, outside the
  // measured window) and a time step its user has not used. The servers' clock is moved one
  // TOTP step (to the middle of the next step) at the start of each round over the users, so
  // each user verifies once per step; a request still in flight across a move is inside the
  // default ±1-step window. 8 rounds per batch of challenges keeps every challenge within its
  // default 300 s lifetime.
  async 'totp-valid'(ctx, expect) {
    const users = ctx.users;
    const keys = users.map((u) => base32Decode(u.secret));
    return blocks(ctx, expect, users.length * ROUNDS_PER_BLOCK, async (n) => {
      const rounds = Math.ceil(n / users.length);
      const challenges = await mint(ctx, Array.from({ length: rounds * users.length }, (_, i) => users[i % users.length].userId));
      let round = -1;
      let step = 0;
      // A user's request of the next round (the next step) must not overtake its request of this
      // round: processed out of order, the older step would be a replay (401). Under load, with
      // round-robin over two instances, that happened. So a round starts when the last one is answered.
      let inFlight = 0;
      let switching = null;
      const switchTo = async (r) => {
        const until = performance.now() + 30_000; // a failed request ends the load anyway
        while (inFlight > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 1));
        step = Math.max(ctx.lastStep + 1, stepAt(Date.now() + ctx.offsetMs) + 1);
        await setClock(ctx, step);
        round = r;
      };
      return async (i) => {
        if (i >= challenges.length) return null;
        const r = Math.floor(i / users.length);
        if (r !== round) {
          if (switching?.round !== r) switching = { round: r, done: switchTo(r) };
          await switching.done;
        }
        const u = i % users.length;
        inFlight++;
        return {
          method: 'POST', path: '/mfa/verify', body: { challengeToken: challenges[i], method: 'totp', code: totpForStep(keys[u], step) },
          onBody: () => { inFlight--; },
        };
      };
    });
  },
  // Every request: a wrong code that matches no step within ±2 of the servers' clock, on a
  // challenge that has seen fewer than 5 (its limit) and a user who has seen fewer than 100
  // (server.mjs's raised backoff/lock limits) failures: each is a genuine evaluated wrong code.
  async 'totp-invalid'(ctx, expect) {
    const users = ctx.users;
    const keys = users.map((u) => base32Decode(u.secret));
    const perBlock = users.length * WRONG_PER_CHALLENGE;
    let blocksLeft = Math.floor(MAX_WRONG_PER_USER / WRONG_PER_CHALLENGE);
    return blocks(ctx, expect, perBlock, async (n) => {
      if (blocksLeft-- <= 0) throw new Error('totp-invalid: the users\' failure budget is spent; raise BENCH_USERS');
      const challenges = await mint(ctx, users.map((u) => u.userId));
      return (i) => {
        if (i >= Math.min(n, perBlock)) return null;
        const u = i % users.length;
        const s = stepAt(Date.now() + ctx.offsetMs);
        const near = new Set([-2, -1, 0, 1, 2].map((d) => totpForStep(keys[u], s + d)));
        let code = '000000';
        for (let k = 1; near.has(code); k++) code = String(k * 111111 % 1_000_000).padStart(6, '0');
        return { method: 'POST', path: '/mfa/verify', body: { challengeToken: challenges[u], method: 'totp', code } };
      };
    });
  },
};

/**
 * A time-based scenario: a discarded warm-up of a fixed number of requests per instance (a count,
 * not a time, so that a loaded machine still gets the routes compiled), then DURATION_MS of
 * measured load.
 */
async function timed(ctx, expect, next) {
  await load(ctx.instances, { count: (QUICK ? 100 : 2000) * ctx.instances.length, next });
  return summarize([await measured(ctx.instances, () => load(ctx.instances, { durationMs: DURATION_MS, next }))], expect);
}

/**
 * A scenario whose requests consume fixtures: batches of at most `perBlock` requests, each
 * prepared (`prepare(n)` → an async `next(i)`) outside the measured window, until the measured
 * time reaches DURATION_MS. A first small batch warms up and is discarded.
 */
async function blocks(ctx, expect, perBlock, prepare) {
  const warm = await prepare(Math.min(perBlock, 4 * CONCURRENCY));
  const w = await load(ctx.instances, { next: warm, count: Math.min(perBlock, 4 * CONCURRENCY) });
  const parts = [];
  let measuredMs = 0;
  while (measuredMs < DURATION_MS) {
    const next = await prepare(perBlock);
    const part = await measured(ctx.instances, () => load(ctx.instances, { next }));
    parts.push(part);
    measuredMs += part.wallMs;
  }
  const row = summarize(parts, expect);
  row.warmupUnexpected = Object.entries(w.statuses).filter(([s]) => Number(s) !== expect).reduce((a, [, c]) => a + c, 0);
  row.unexpected += row.warmupUnexpected;
  return row;
}

/** Mints one login challenge per entry (the gate, POST /login), unmeasured. */
async function mint(ctx, userIds) {
  const tokens = new Array(userIds.length);
  const r = await load(ctx.instances, {
    next: (i) => (i < userIds.length ? { method: 'POST', path: '/login', body: { userId: userIds[i] }, onBody: (b) => { tokens[i] = JSON.parse(b).challengeToken; } } : null),
  });
  if (tokens.some((t) => typeof t !== 'string')) throw new Error(`minting challenges failed: ${JSON.stringify(r.statuses)}`);
  return tokens;
}

/** Moves every instance's clock to the middle of TOTP step `step` (never backwards). */
async function setClock(ctx, step) {
  ctx.lastStep = step;
  ctx.offsetMs = step * 30_000 + 15_000 - Date.now();
  await Promise.all(ctx.instances.map((s) => call(s, 'POST', '/__bench/clock', { offsetMs: ctx.offsetMs })));
}

async function seedUsers(ctx, count) {
  const prefix = `bench-${randomBytes(3).toString('hex')}-`;
  const users = [];
  // Spread over the instances (one shared store); at most 50 per request.
  const parts = [];
  for (let i = 0; i < count; i += 50) parts.push({ prefix: `${prefix}${i}-`, count: Math.min(50, count - i) });
  let k = 0;
  await Promise.all(ctx.instances.map(async (s) => {
    while (k < parts.length) users.push(...(await call(s, 'POST', '/__bench/seed', parts[k++])));
  }));
  return users;
}

// ---- the load generator: keep-alive HTTP, closed loop, round-robin over the instances ----
/**
 * `next(i)` gives the i-th request ({method, path, headers, body}) or null when there are no more
 * (may be async); stops at `durationMs`, at `count` requests, or when `next` runs dry.
 */
async function load(instances, { next, durationMs, count = Infinity }) {
  const end = durationMs ? performance.now() + durationMs : Infinity;
  const statuses = {};
  const latencies = [];
  let issued = 0;
  let rr = 0;
  const t0 = performance.now();
  let tLast = t0;
  let error = null;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end && issued < count && !error) {
      const i = issued++;
      const req = await next(i);
      if (req === null) return;
      const s = instances[rr++ % instances.length];
      const t = performance.now();
      try {
        const res = await send(s, req);
        tLast = performance.now();
        latencies.push(tLast - t);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (req.onBody) req.onBody(res.body);
      } catch (e) {
        error = e;
      }
    }
  }));
  if (error) throw error;
  return { statuses, latencies, wallMs: tLast - t0 };
}

/** Runs `fn` and records the servers' CPU time, RSS and garbage-collection pauses over it. */
async function measured(instances, fn) {
  await Promise.all(instances.map((s) => call(s, 'GET', '/__bench/gc'))); // zeroes each instance's count
  const cpu0 = instances.map((s) => s.cpuSeconds());
  const peak = instances.map(() => 0);
  const sample = () => instances.forEach((s, k) => { peak[k] = Math.max(peak[k], s.vm('VmRSS')); });
  const timer = setInterval(sample, 100);
  sample();
  let r;
  try {
    r = await fn();
  } finally {
    clearInterval(timer);
  }
  sample();
  r.cpuSeconds = instances.reduce((a, s, k) => a + s.cpuSeconds() - cpu0[k], 0);
  r.peakRssKiB = Math.max(...peak);
  r.gc = await Promise.all(instances.map((s) => call(s, 'GET', '/__bench/gc')));
  return r;
}

function summarize(parts, expect) {
  const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const statuses = {};
  for (const p of parts) for (const [s, c] of Object.entries(p.statuses)) statuses[s] = (statuses[s] ?? 0) + c;
  const responses = latencies.length;
  const wallMs = parts.reduce((a, p) => a + p.wallMs, 0);
  const cpu = parts.reduce((a, p) => a + p.cpuSeconds, 0);
  const gc = parts.flatMap((p) => p.gc);
  return {
    responses,
    wallMs,
    rps: responses / (wallMs / 1000),
    p50: latencies[Math.floor(responses * 0.5)],
    p99: latencies[Math.min(responses - 1, Math.floor(responses * 0.99))],
    cpuUs: (cpu * 1e6) / responses,
    peakRssMiB: Math.max(...parts.map((p) => p.peakRssKiB)) / 1024,
    // Summed over the instances, like the CPU: pause time per response, and the longest pause.
    gcUs: (gc.reduce((a, g) => a + g.ms, 0) * 1000) / responses,
    gcMaxMs: Math.max(...gc.map((g) => g.maxMs)),
    gcCount: gc.reduce((a, g) => a + g.count, 0),
    gcMajor: gc.reduce((a, g) => a + g.major, 0),
    statuses,
    unexpected: responses - (statuses[expect] ?? 0),
  };
}

// ---- app instances ----
async function startInstance(env) {
  const script = join(here, 'server.mjs');
  const cmd = canPin ? 'taskset' : process.execPath;
  // BENCH_SERVER_FLAGS: node flags for the app instances only (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean);
  const argv = canPin ? ['-c', '0', process.execPath, ...flags, script] : [...flags, script];
  const child = spawn(cmd, argv, { env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); process.stderr.write(d); });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${stderr}`)), 30_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`instance exited (${code}): ${stderr}`)); });
  });
  child.stdout.resume();
  return {
    port,
    agent: new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }),
    /** user+system CPU seconds of the instance so far (/proc/<pid>/stat fields 14 and 15). */
    cpuSeconds() {
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
    },
    /** A memory line of /proc/<pid>/status in KiB (VmRSS now, VmHWM the high-water mark). */
    vm(field) {
      try {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    },
    async stop() {
      this.agent.destroy();
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

function send(s, { method, path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: s.port, method, path, agent: s.agent,
      headers: { ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    if (data) req.write(data);
    req.end();
  });
}

async function call(s, method, path, body) {
  const r = await send(s, { method, path, body });
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

async function reachable(url) {
  const u = new URL(url);
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) || (u.protocol === 'redis:' ? 6379 : 5432) });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// ---- output ----
function table(r) {
  const head = `### ${r.store === 'sqlite' ? 'SQLite file (knex + better-sqlite3, WAL), 1 app instance' : 'PostgreSQL + Redis, 2 app instances (round-robin)'}`;
  if (r.error && !r.rows.length) return `${head}\n\nFAILED: ${r.error}`;
  const bares = r.rows.filter((x) => x.name.startsWith('bare'));
  const baseRps = bares.reduce((a, x) => a + x.rps, 0) / bares.length;
  const baseCpu = bares.reduce((a, x) => a + x.cpuUs, 0) / bares.length;
  const lines = [head, '',
    '| scenario | what | expected | req/s | × bare | p50 ms | p99 ms | server CPU µs/req | CPU × bare | GC pause µs/req | longest GC pause ms (GCs, full) | peak RSS MiB | unexpected |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const x of r.rows) {
    lines.push(`| ${x.name} | ${x.label} | ${x.expect} | ${fmt(x.rps)} | ${fmt(x.rps / baseRps, 2)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.cpuUs)} | ${fmt(x.cpuUs / baseCpu, 1)} | ` +
      `${fmt(x.gcUs, 1)} | ${fmt(x.gcMaxMs, 1)} (${x.gcCount}, ${x.gcMajor}) | ${fmt(x.peakRssMiB)} | ${x.unexpected}${x.unexpected ? ` ${JSON.stringify(x.statuses)}` : ''} |`);
  }
  lines.push('', `Ratios against the mean of the two bare rows. Responses per row: ${r.rows.map((x) => `${x.name} ${x.responses}`).join(', ')}. ` +
    `Peak RSS: the largest VmRSS sample (every 100 ms) of ${r.instances === 2 ? 'either instance' : 'the instance'} during the row; VmHWM at the end: ${(r.hwmMiB ?? []).map((m) => fmt(m)).join(' / ')} MiB.` +
    (r.error ? ` FAILED after these rows: ${r.error}` : ''));
  return lines.join('\n');
}

function fmt(n, d = 0) {
  return n === undefined || n === null || Number.isNaN(n) ? '-' : n.toFixed(d);
}

function log(...a) {
  console.error(...a);
}

// ---- pinning: re-run this script on CPU 1; the servers are started on CPU 0 ----
const canPin = !flag('no-pin') && os.cpus().length >= 2 && spawnSync('taskset', ['-c', '1', 'true']).status === 0;
if (canPin && process.env.BENCH_PINNED !== '1') {
  const child = spawn('taskset', ['-c', '1', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, BENCH_PINNED: '1' } });
  // The pinned copy cleans up on SIGINT/SIGTERM; this one waits for it.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
} else {
  await main();
}
