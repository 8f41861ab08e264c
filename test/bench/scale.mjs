// test/bench/scale.mjs — `pnpm bench:scale` (docs/benchmarks.md, "How cost grows")
// Does a login's second step cost the same with a thousand enrolled users as with a million?
// Seeds 10³, 10⁵ and 10⁶ enrolled users into PostgreSQL — every table of the knex store large:
// active TOTP factors, backup-code sets, trusted devices, audit events, attempt state, counters,
// pending challenges and factor state — and at each size measures, on the library itself
// (createMfa + knexStore on PostgreSQL, mfaGate + mfaRouter in an Express app on loopback):
// - `POST /mfa/verify` with a valid TOTP code: latency p50/p99 (one request at a time, each with a
//   fresh challenge minted through the gate outside the timed window) and SQL statements per request;
// - one more such verification under PostgreSQL's auto_explain: the plan, rows and buffers of every
//   statement it ran, as it ran (EXPLAIN ANALYZE of the real execution, so a DELETE shows the row it
//   deleted);
// - backup codes: a wrong and a right code against a set of 10 and a set of 100 unused codes, with
//   bcrypt calls counted (bcryptjs patched in this process) and timed.
// A few real users are enrolled through the library (their secrets encrypted by it); the filler
// users are bulk SQL (INSERT … SELECT generate_series) shaped like the library's rows. Everything
// lives in a fresh schema `sf_scale_<random>` of DATABASE_URL, dropped at the end (also on Ctrl-C).
//
// Options: --sizes=1000,100000,1000000 (cumulative: each size adds to the previous one);
// --requests=N timed verifications per size (default 400); --quick (sizes 1000,5000, 40 requests:
// a smoke); --keep (leave the schema). Environment: DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test), SCALE_CODES_PER_USER (filler backup codes per user,
// default 10), SCALE_EVENTS_PER_USER (default 5).
import http from 'node:http';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const express = require('express');
const Knex = require('knex');
const { backupCodes, createMfa, generateTotp, totp } = require('@secondfactor/core');
const { knexStore, migrate } = require('@secondfactor/knex');
const { mfaErrorHandler, mfaGate, mfaRouter } = require('@secondfactor/express');
// The bcryptjs instance core uses (resolved from core's own dependencies), to count its calls.
const bcrypt = createRequire(require.resolve('@secondfactor/core'))('bcryptjs');

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--' && !['--quick', '--keep'].includes(a) && !/^--(sizes|requests)=\d[\d,]*$/.test(a)) {
    console.error(`unknown option ${a} (known: --quick --keep --sizes=1000,100000 --requests=N; see docs/benchmarks.md)`);
    process.exit(2);
  }
}
const value = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = args.includes('--quick');
const SIZES = (value('sizes') ?? (QUICK ? '1000,5000' : '1000,100000,1000000')).split(',').map(Number);
const REQUESTS = Number(value('requests') ?? (QUICK ? 40 : 400));
const WARMUP = QUICK ? 10 : 200;
const REAL_USERS = 10;
const CODES_PER_USER = Number(process.env.SCALE_CODES_PER_USER || 10);
const EVENTS_PER_USER = Number(process.env.SCALE_EVENTS_PER_USER || 5);
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const CHUNK = 50_000; // filler users per INSERT statement
const log = (line) => process.stderr.write(`${line}\n`);
// A background job on a shared machine: this process niced, and (below) the seeding connection's backend.
try {
  os.setPriority(Math.max(os.getPriority(), 10));
} catch {
  // not permitted: run at the current priority
}

const schema = `sf_scale_${randomBytes(4).toString('hex')}`;
const admin = Knex({ client: 'pg', connection: DATABASE_URL, pool: { min: 0, max: 1 } });
let dbs = [];
let dropped = false;
async function cleanup() {
  if (dropped) return;
  dropped = true;
  if (!args.includes('--keep')) await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch((e) => log(`cleanup: ${e.message}`));
  else log(`kept schema ${schema}`);
  await Promise.allSettled([...dbs.map((d) => d.destroy()), admin.destroy()]);
}
process.once('SIGINT', () => cleanup().finally(() => process.exit(130)));

// ---- the library, on a movable clock (each verification needs a TOTP step its user has not used) ----
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const T = (name) => `secondfactor_${name}`;

/** createMfa + knexStore on `db`, behind mfaGate (POST /login, the body names the user) and mfaRouter. */
async function startApp(db) {
  const store = knexStore(db);
  const mfa = createMfa({
    issuer: 'Scale',
    store,
    encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
    signingKey: 'scale-signing-key-0123456789abcdef0123456789',
    factors: [totp(), backupCodes()], // backup codes at their defaults: 10 codes, bcrypt cost 10
    // Every request is from 127.0.0.1 and the clock runs fast: the per-IP budget would end the run.
    limits: { perIpPerWindow: 1_000_000, backoffAfterFailures: 100, lockAfterFailures: 100 },
    clock,
  });
  const app = express();
  app.post('/login', express.json(), (req, res, next) => {
    res.locals.userId = req.body.userId;
    next();
  }, mfaGate(mfa, { cookie: { secure: false } }), (_req, res) => res.json({ session: 'host' }));
  app.use('/mfa', mfaRouter(mfa, { getUserId: () => undefined, cookie: { secure: false } }));
  app.use(mfaErrorHandler());
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { mfa, store, server, port: server.address().port };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function post(port, path, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const TOTP = { algorithm: 'SHA1', digits: 6, periodSeconds: 30 };
const realId = (i) => `u0000500-real${i}`; // sorts among the filler users (u0000000 …), not at an index edge

async function enrolRealUsers(mfa) {
  const users = [];
  for (let i = 0; i < REAL_USERS; i++) {
    const userId = realId(i);
    const e = await mfa.enroll(userId, 'totp', { accountName: `${userId}@example.com` });
    const r = await mfa.confirm(userId, e.factorId, { code: await generateTotp(e.secret, clock(), TOTP) });
    if (!r.ok) throw new Error(`confirm failed for ${userId}: ${JSON.stringify(r)}`);
    users.push({ userId, secret: e.secret });
  }
  return users;
}

// ---- filler users in bulk SQL, shaped like the rows the library writes ----
async function seedFiller(db, from, to, template) {
  const now = Date.now();
  const day = '86400000::bigint';
  const uid = "'u' || lpad(g::text, 7, '0')";
  const statements = [
    // one active authenticator per user; the secret has the library's sealed shape (v1.<key>.<iv>.<ciphertext>)
    [T('factors'), `INSERT INTO ${T('factors')} (user_id, id, type, label, status, secret, data, counter, created_at, confirmed_at, last_used_at, lookup_key)
      SELECT ${uid}, substr(md5('f' || g), 1, 22), 'totp', 'Authenticator app', 'active',
        'v1.k1.' || substr(md5('iv' || g), 1, 16) || '.' || :ct::text, :data::text, :step::bigint - (g % 20000), :now::bigint - g * 1000, :now::bigint - g * 1000 + 60000, :now::bigint - (g % 86400) * 1000, NULL
      FROM generate_series(:from::int, :to::int) g`],
    [T('backup_code_sets'), `INSERT INTO ${T('backup_code_sets')} (user_id, salt, created_at)
      SELECT ${uid}, '$2b$10$' || substr(md5('s' || g), 1, 22), :now::bigint - g * 1000 FROM generate_series(:from::int, :to::int) g`],
    // CODES_PER_USER hashes per set (bcrypt-shaped: salt + 31 characters); a third of the users have used two
    [T('backup_codes'), `INSERT INTO ${T('backup_codes')} (user_id, code_hash, position, used_at)
      SELECT ${uid}, '$2b$10$' || substr(md5('s' || g), 1, 22) || substr(md5(g || ':' || k), 1, 31), k,
        CASE WHEN g % 3 = 0 AND k < 2 THEN :now::bigint - k * ${day} ELSE NULL END
      FROM generate_series(:from::int, :to::int) g CROSS JOIN generate_series(0, :codes::int - 1) k`],
    [T('trusted_devices'), `INSERT INTO ${T('trusted_devices')} (id, user_id, token_hash, label, created_at, last_seen_at, expires_at)
      SELECT substr(md5('d' || g), 1, 22), ${uid}, md5('t' || g) || substr(md5('h' || g), 1, 11), 'Firefox on Linux',
        :now::bigint - (g % 30) * ${day}, :now::bigint - (g % 7) * ${day}, :now::bigint + (30 - g % 30) * ${day}
      FROM generate_series(:from::int, :to::int) g`],
    // EVENTS_PER_USER audit events per user over the last 90 days
    [T('events'), `INSERT INTO ${T('events')} (id, at, day, type, user_id, outcome, factor_id, factor_type, reason, purpose, ip, user_agent, actor, detail)
      SELECT lpad(to_hex(g::bigint * 16 + k), 10, '0') || substr(md5(g || 'e' || k), 1, 12), e.at, e.at / ${day}, e.type, ${uid},
        CASE WHEN k = 4 AND g % 10 = 0 THEN 'failure' ELSE 'success' END,
        CASE WHEN k IN (1, 2, 5) THEN substr(md5('f' || g), 1, 22) END, CASE WHEN k IN (1, 2, 5) THEN 'totp' END,
        CASE WHEN k = 4 AND g % 10 = 0 THEN 'invalid_code' END, CASE WHEN k <= 3 THEN 'enroll' ELSE 'login' END,
        '10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256),
        :userAgent, NULL, NULL
      FROM generate_series(:from::int, :to::int) g CROSS JOIN generate_series(1, :events::int) k
      CROSS JOIN LATERAL (SELECT :now::bigint - ((g::bigint * 7919 + k * 104729) % (90::bigint * ${day})) AS at,
        (ARRAY['factor.enrolled', 'factor.confirmed', 'backup_codes.regenerated', 'challenge.started', 'mfa.verified'])[(k - 1) % 5 + 1] AS type) e`],
    // attempt state per user, with one client's count in its list (one row per user since migration 0004)
    [T('attempt_state'), `INSERT INTO ${T('attempt_state')} (user_id, failures, blocked_until, locked, clients, version)
      SELECT ${uid}, g % 3, 0, false,
        CASE WHEN g % 3 = 0 THEN '[]' ELSE '[{"key":"' || substr(md5('c' || g), 1, 22) || '","failures":' || (g % 3) || ',"blockedUntil":0}]' END,
        g % 50 + 1 FROM generate_series(:from::int, :to::int) g`],
    // per-IP verification counters, live
    [T('counters'), `INSERT INTO ${T('counters')} (counter_key, hits, purge_at)
      SELECT :counterPrefix || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256) || ':' || (:now::bigint / 900000), g % 7 + 1, :now::bigint + ${day}
      FROM generate_series(:from::int, :to::int) g`],
    // pending login challenges for one user in ten, live
    [T('challenges'), `INSERT INTO ${T('challenges')} (id, user_id, methods, created_at, expires_at, attempts, purge_at)
      SELECT substr(md5('c' || g) || md5('x' || g), 1, 43), ${uid}, '["totp","backup_code"]', :now::bigint, :now::bigint + 300000, g % 3, :now::bigint + ${day}
      FROM generate_series(:from::int, :to::int) g WHERE g % 10 = 0`],
    // codes in flight (SMS-shaped factor state) for one user in a hundred
    [T('factor_state'), `INSERT INTO ${T('factor_state')} (state_key, type, purpose, user_id, factor_id, secret, created_at, expires_at, attempts, purge_at)
      SELECT :statePrefix || md5('k' || g), 'sms', 'login', ${uid}, NULL, md5('s' || g), :now::bigint, :now::bigint + 300000, 0, :now::bigint + ${day}
      FROM generate_series(:from::int, :to::int) g WHERE g % 100 = 0`],
  ];
  const seconds = {};
  for (let a = from; a <= to; a += CHUNK) {
    const b = Math.min(to, a + CHUNK - 1);
    const values = {
      ...template, now, from: a, to: b, codes: CODES_PER_USER, events: EVENTS_PER_USER,
      // bound, not inline: knex reads ":word" inside SQL text as a named binding
      counterPrefix: 'verify:ip:10.', statePrefix: 'sms:login:', userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
    };
    for (const [table, sql] of statements) {
      const t0 = performance.now();
      await db.raw(sql, values);
      seconds[table] = (seconds[table] ?? 0) + (performance.now() - t0) / 1000;
    }
  }
  return seconds;
}

async function tableSizes(db) {
  const names = ['factors', 'backup_code_sets', 'backup_codes', 'trusted_devices', 'events', 'attempt_state', 'counters', 'challenges', 'factor_state'];
  const out = {};
  for (const n of names) out[n] = Number((await db(T(n)).count({ n: '*' }))[0].n);
  return out;
}

// ---- measurement ----
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Valid-code verifications, one at a time, round-robin over the real users; a new TOTP step per round. */
async function measureVerify(app, users, count, statements) {
  const ms = [];
  const perRequest = [];
  let cpuUs = 0;
  for (let i = 0; i < count; i++) {
    const user = users[i % users.length];
    if (i % users.length === 0) offsetMs += 30_000;
    const login = await post(app.port, '/login', { userId: user.userId });
    if (login.status !== 200 || !login.body?.challengeToken) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
    const code = await generateTotp(user.secret, clock(), TOTP);
    const before = statements.count;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await post(app.port, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code });
    ms.push(performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
    await new Promise((resolve) => setImmediate(resolve)); // a statement issued after the answer still counts
    perRequest.push(statements.count - before);
    if (r.status !== 200) throw new Error(`verify: ${r.status} ${JSON.stringify(r.body)}`);
  }
  ms.sort((a, b) => a - b);
  const spr = [...new Set(perRequest)].sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), mean: ms.reduce((s, x) => s + x, 0) / ms.length, cpuUs: cpuUs / count, statements: spr.join('/') };
}

/**
 * On an app whose connections run auto_explain, every statement's real plan: of a login through
 * the gate (the challenge start), of a valid-TOTP verification, and of a wrong backup code.
 */
async function explainPaths(explainApp, explainLog, user, codesUser) {
  const capture = async (fn) => {
    explainLog.length = 0;
    explainLog.on = true;
    const r = await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    explainLog.on = false;
    return [r, explainLog.splice(0)];
  };
  offsetMs += 30_000;
  const [login, loginPlans] = await capture(() => post(explainApp.port, '/login', { userId: user.userId }));
  const code = await generateTotp(user.secret, clock(), TOTP);
  const [r, verifyPlans] = await capture(() => post(explainApp.port, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code }));
  if (r.status !== 200) throw new Error(`explain verify: ${r.status} ${JSON.stringify(r.body)}`);
  const codesLogin = await post(explainApp.port, '/login', { userId: codesUser });
  const [b, backupPlans] = await capture(() => post(explainApp.port, '/mfa/verify', { challengeToken: codesLogin.body.challengeToken, method: 'backup_code', code: 'ZZZZZ-ZZZZZ' }));
  if (b.status !== 401) throw new Error(`explain backup code: ${b.status} ${JSON.stringify(b.body)}`);
  return { 'the gate (`POST /login`: challenge start)': loginPlans, '`POST /mfa/verify`, valid TOTP': verifyPlans, '`POST /mfa/verify`, wrong backup code': backupPlans };
}

/** Backup codes: bcrypt calls and time per attempt (one wrong, one right code) for sets of 10 and 100 codes. */
async function measureBackupCodes(app, sets) {
  const rows = [];
  for (const set of sets) {
    for (const [kind, code] of [['wrong', 'ZZZZZ-ZZZZZ'], ['wrong', '00000-00000'], ['right', set.codes.pop()]]) {
      const login = await post(app.port, '/login', { userId: set.userId });
      const before = { ...bcryptCalls };
      const t0 = performance.now();
      const r = await post(app.port, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'backup_code', code });
      const took = performance.now() - t0;
      if (r.status !== (kind === 'right' ? 200 : 401)) throw new Error(`backup code (${kind}, ${set.size} codes): ${r.status} ${JSON.stringify(r.body)}`);
      rows.push({ codes: set.size, kind, ms: took, hash: bcryptCalls.hash - before.hash, compare: bcryptCalls.compare - before.compare });
    }
  }
  return rows;
}

const bcryptCalls = { hash: 0, compare: 0 };
function countBcrypt() {
  for (const target of new Set([bcrypt, bcrypt.default].filter(Boolean))) {
    for (const [name, key] of [['hash', 'hash'], ['hashSync', 'hash'], ['compare', 'compare'], ['compareSync', 'compare']]) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      target[name] = function counted(...a) {
        bcryptCalls[key]++;
        return original.apply(this, a);
      };
    }
  }
}

/** A set of `size` unused codes (bcrypt cost 10, one salt, as the plugin stores them), written through the store. */
async function backupCodeSet(store, userId, size) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const codes = Array.from({ length: size }, () => Array.from(randomBytes(10), (b) => alphabet[b % 32]).join(''));
  const salt = bcrypt.genSaltSync(10);
  const hashes = [];
  for (const c of codes) hashes.push(await bcrypt.hash(c, salt));
  await store.replaceBackupCodes(userId, { salt, hashes, createdAt: clock() });
  return { userId, size, codes: codes.map((c) => `${c.slice(0, 5)}-${c.slice(5)}`) };
}

// ---- the run ----
const fmt = (n) => n.toLocaleString('en-US').replace(/,/g, ' ');
try {
  try {
    await admin.raw('SELECT 1');
  } catch (e) {
    console.error(`PostgreSQL unreachable at ${DATABASE_URL}: ${e.message}`);
    process.exit(1);
  }
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const connection = DATABASE_URL;
  const db = Knex({ client: 'pg', connection, searchPath: [schema], pool: { min: 0, max: 10 } });
  // Bulk seeding on its own connection: no commit wait, and its backend niced when it is local and we may.
  const seedDb = Knex({
    client: 'pg', connection, searchPath: [schema], pool: {
      min: 0, max: 1,
      afterCreate(conn, done) {
        conn.query('SET synchronous_commit = off; SELECT pg_backend_pid() AS pid', (err, results) => {
          const pid = results?.[1]?.rows?.[0]?.pid;
          if (pid) spawnSync('renice', ['-n', '10', '-p', String(pid)], { stdio: 'ignore' });
          done(err, conn);
        });
      },
    },
  });
  // The EXPLAIN pass: PostgreSQL's auto_explain on every connection, its plans sent back as notices.
  const explainLog = [];
  const explainDb = Knex({
    client: 'pg', connection, searchPath: [schema], pool: {
      min: 0, max: 4,
      afterCreate(conn, done) {
        conn.on('notice', (n) => { if (explainLog.on) explainLog.push(n.message); });
        conn.query("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; "
          + 'SET auto_explain.log_buffers = on; SET auto_explain.log_timing = on; SET auto_explain.log_level = notice', (err) => done(err, conn));
      },
    },
  });
  dbs = [db, seedDb, explainDb];
  await migrate(db);

  const statements = { count: 0 };
  db.on('query', () => {
    statements.count++;
  });
  const app = await startApp(db);
  const explainApp = await startApp(explainDb);
  countBcrypt();

  log(`schema ${schema}; enrolling ${REAL_USERS} users through the library …`);
  const users = await enrolRealUsers(app.mfa);
  const sealed = await db(T('factors')).where({ user_id: users[0].userId }).first('secret', 'data', 'counter');
  const template = { ct: sealed.secret.split('.').slice(3).join('.'), data: sealed.data, step: Math.floor(clock() / 30_000) };
  log('backup-code sets of 10 and 100 unused codes (bcrypt cost 10) …');
  const backupUsers = [];
  for (const size of [10, 100]) {
    const userId = `u0000700-codes${size}`;
    const e = await app.mfa.enroll(userId, 'totp');
    await app.mfa.confirm(userId, e.factorId, { code: await generateTotp(e.secret, clock(), TOTP) });
    backupUsers.push({ userId, size });
  }

  const results = [];
  const plans = {};
  const backup = {};
  let seeded = 0;
  for (const size of SIZES) {
    const t0 = performance.now();
    const perTable = size > seeded ? await seedFiller(seedDb, seeded, size - 1, template) : {};
    seeded = Math.max(seeded, size);
    const seedSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await seedDb.raw('ANALYZE');
    const analyzeSeconds = (performance.now() - t1) / 1000;
    const rows = await tableSizes(db);
    log(`${fmt(size)} filler users: seeded in ${seedSeconds.toFixed(1)} s (${Object.entries(perTable).map(([t, s]) => `${t.replace('secondfactor_', '')} ${s.toFixed(1)}`).join(', ')}), ANALYZE ${analyzeSeconds.toFixed(1)} s`);
    await measureVerify(app, users, WARMUP, statements);
    const m = await measureVerify(app, users, REQUESTS, statements);
    log(`  /verify valid TOTP: p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, Node CPU ${m.cpuUs.toFixed(0)} µs, statements per request ${m.statements}`);
    plans[size] = await explainPaths(explainApp, explainLog, users[0], backupUsers[1].userId);
    // Fresh sets at every size (a right code is spent): 10 and 100 unused codes.
    const sets = [];
    for (const b of backupUsers) sets.push(await backupCodeSet(app.store, b.userId, b.size));
    backup[size] = await measureBackupCodes(app, sets);
    results.push({ size, users: size + REAL_USERS + backupUsers.length, seedSeconds, analyzeSeconds, rows, ...m });
  }

  // ---- report (markdown, on stdout) ----
  const pg = (await admin.raw('SHOW server_version')).rows[0].server_version;
  console.log(`\n### How cost grows — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, PostgreSQL ${pg}, ${REQUESTS} timed verifications per size\n`);
  console.log('| enrolled users | seeding s | factors | backup codes | events | trusted devices | attempt state | counters | challenges | `/verify` p50 ms | p99 ms | mean ms | Node CPU µs/request | SQL statements per request |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const x = r.rows;
    console.log(`| ${fmt(r.users)} | ${r.seedSeconds.toFixed(0)} | ${fmt(x.factors)} | ${fmt(x.backup_codes)} | ${fmt(x.events)} | ${fmt(x.trusted_devices)} | ${fmt(x.attempt_state)} | ${fmt(x.counters)} | ${fmt(x.challenges)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.mean.toFixed(2)} | ${r.cpuUs.toFixed(0)} | ${r.statements} |`);
  }
  console.log('\n#### Backup codes: one bcrypt per attempt, whatever the number of codes\n');
  console.log('| enrolled users | unused codes in the set | attempt | bcrypt hashes | bcrypt compares | ms |');
  console.log('|---:|---:|---|---:|---:|---:|');
  for (const r of results) {
    for (const b of backup[r.size]) console.log(`| ${fmt(r.users)} | ${b.codes} | ${b.kind} code | ${b.hash} | ${b.compare} | ${b.ms.toFixed(1)} |`);
  }
  // Per statement of the verification (in the order it ran): its access path, the buffers it
  // touched (shared hit + read) and its execution time at each size.
  const summary = (plan) => {
    const lines = plan.split('\n');
    const text = (lines.find((l) => l.startsWith('Query Text: ')) ?? '').slice(12);
    const top = lines.find((l) => /\(actual time=/.test(l)) ?? '';
    const scans = [...new Set(lines.flatMap((l) => [...l.matchAll(/(Index Only Scan|Bitmap Index Scan|Index Scan|Seq Scan|Bitmap Heap Scan)(?: using (\S+))? on (\S+)/g)].map((m) => `${m[1]}${m[2] ? ` ${m[2]}` : ` on ${m[3]}`}`)))];
    const buffers = lines.find((l) => /Buffers: shared/.test(l)) ?? '';
    const hit = Number(/hit=(\d+)/.exec(buffers)?.[1] ?? 0) + Number(/read=(\d+)/.exec(buffers)?.[1] ?? 0);
    const ms = Number(/actual time=[\d.]+\.\.([\d.]+)/.exec(top)?.[1] ?? NaN);
    const rows = /rows=(\d+) loops/.exec(top)?.[1];
    return { text, scans: scans.join(', ') || top.trim().split('  (')[0], buffers: hit, ms, rows };
  };
  const largest = results.at(-1);
  for (const path of Object.keys(plans[largest.size])) {
    console.log(`\n#### Statements of ${path} (auto_explain: EXPLAIN ANALYZE of each as it ran)\n`);
    console.log(`| # | statement | plan | buffers at ${results.map((r) => fmt(r.users)).join(' / ')} users | ms |`);
    console.log('|---:|---|---|---:|---:|');
    plans[largest.size][path].forEach((_, i) => {
      const at = results.map((r) => (plans[r.size][path][i] ? summary(plans[r.size][path][i]) : null));
      const s = at.at(-1);
      const short = s.text.replace(/"secondfactor_/g, '"').replace(/\("actor".*\) values \(.*\)/, '(…) values (…)')
        .replace(/\("attempts".*\) values \(.*\) on conflict \("id"\) do update set .*/, '(…) values (…) on conflict ("id") do update set …')
        .replace(/ set "failures".*"version" \+ 1/, ' set … version = version + 1');
      console.log(`| ${i + 1} | \`${short}\` | ${s.scans} | ${at.map((x) => x?.buffers ?? '–').join(' / ')} | ${at.map((x) => (x ? x.ms.toFixed(3) : '–')).join(' / ')} |`);
    });
  }
  console.log(`\n#### Plans at ${fmt(largest.users)} users\n`);
  console.log('```');
  for (const [path, list] of Object.entries(plans[largest.size])) {
    console.log(`== ${path}\n`);
    for (const p of list) console.log(p.replace(/^duration: [\d.]+ ms\s+plan:\n/, '').replace(/^Query Text: /, '-- ').trimEnd(), '\n');
  }
  console.log('```');
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  agent.destroy();
  await cleanup();
  process.exit(process.exitCode ?? 0);
}
