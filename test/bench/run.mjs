// test/bench/run.mjs — `pnpm bench`
// Throughput of secondfactor's hot paths as ratios against a bare Express route measured in the
// same run, on the same machine, with the same load generator (keep-alive HTTP over loopback,
// fixed concurrency, fixed duration). Uses the built packages (dist) and the memory store.
import http from 'node:http';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const express = require('express');
const { createMfa, memoryStore, generateTotp } = require('@secondfactor/core');
const { mfaRouter, mfaGate, requireMfa, mfaErrorHandler } = require('@secondfactor/express');

const DURATION_MS = Number(process.env.BENCH_MS || 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const IS_SERVER = process.argv[2] === '--server';

if (IS_SERVER) {
  await startServer();
} else {
  await runClient();
}

/** The app under test, in its own process (its own core), so the load generator does not share its CPU. */
async function startServer() {
  const mfa = createMfa({
    issuer: 'Bench',
    store: memoryStore(),
    encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 3).toString('base64') } },
    signingKey: 'bench-signing-key-0123456789abcdef0123456789',
    backupCodes: { bcryptCost: 10 },
  });

  const app = express();
  app.use(express.json());
  app.get('/bare', (req, res) => res.json({ ok: true }));
  app.post('/bare', (req, res) => res.json({ ok: true }));
  app.use('/mfa', mfaRouter(mfa, { getUserId: (req) => req.get('x-user-id'), cookie: { secure: false } }));
  app.post('/login', (req, res, next) => { res.locals.userId = req.body.userId; next(); }, mfaGate(mfa), (req, res) => res.json({ session: 'x' }));
  app.get('/admin', requireMfa(mfa, { maxAge: 3600, getUserId: (req) => req.get('x-user-id') }), (req, res) => res.json({ ok: true }));
  app.use(mfaErrorHandler());

  const server = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
  // Fixtures: a user with MFA, a user without, and an assertion.
  const enrolled = await mfa.totp.enroll('bench-mfa');
  await mfa.totp.confirm('bench-mfa', enrolled.factorId, await generateTotp(enrolled.secret, Date.now(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }));
  const { assertion } = await mfa.assertions.issue('bench-mfa', ['otp']);
  process.send({ port: server.address().port, assertion });
  process.on('disconnect', () => process.exit(0));
}

/** The load generator: keep-alive HTTP over loopback at a fixed concurrency. */
async function runClient() {
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port, assertion } = await new Promise((resolve) => child.once('message', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  function request(method, path, body, headers = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...headers } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async function measure(name, makeRequest, expectStatus, durationMs = DURATION_MS) {
    if (durationMs === DURATION_MS) await measure(name, makeRequest, expectStatus, 300); // per-case warm-up, discarded
    const end = Date.now() + durationMs;
    let done = 0;
    let wrong = 0;
    const latencies = [];
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      let i = 0;
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        const r = await makeRequest(worker, i++);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (r.status !== expectStatus) wrong++;
        done++;
      }
    }));
    latencies.sort((a, b) => a - b);
    const rps = done / (durationMs / 1000);
    return { name, rps, p50: latencies[Math.floor(latencies.length / 2)], p99: latencies[Math.floor(latencies.length * 0.99)], wrong };
  }

  // Warm-up of every route, discarded.
  for (let i = 0; i < 300; i++) {
    await Promise.all([request('GET', '/bare'), request('POST', '/login', { userId: 'bench-mfa' }), request('GET', '/admin', undefined, { authorization: `Bearer ${assertion}` })]);
  }

  const results = [];
  results.push(await measure('bare Express GET (baseline)', () => request('GET', '/bare'), 200));
  results.push(await measure('bare Express POST json', () => request('POST', '/bare', { userId: 'x' }), 200));
  results.push(await measure('mfaGate, user without MFA → next()', () => request('POST', '/login', { userId: 'no-mfa' }), 200));
  results.push(await measure('mfaGate, user with MFA → challenge', () => request('POST', '/login', { userId: 'bench-mfa' }), 200));
  results.push(await measure('requireMfa with a valid assertion', () => request('GET', '/admin', undefined, { authorization: `Bearer ${assertion}` }), 200));
  results.push(await measure('GET /mfa/status', () => request('GET', '/mfa/status', undefined, { 'x-user-id': 'bench-mfa' }), 200));
  results.push(await measure('/mfa/verify, unknown challenge (fast reject)', () => request('POST', '/mfa/verify', { challengeToken: 'A'.repeat(43), method: 'totp', code: '123456' }), 401));

  results.push(await measure('bare Express GET (baseline, again)', () => request('GET', '/bare'), 200));
  // The baseline is measured first and last; the ratio uses their mean to cancel drift.
  const base = (results[0].rps + results.at(-1).rps) / 2;
  console.log(`\nsecondfactor benchmark — ${DURATION_MS} ms per case, concurrency ${CONCURRENCY}, node ${process.version}\n`);
  console.log('case'.padEnd(48), 'req/s'.padStart(9), 'ratio'.padStart(7), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), ' unexpected');
  for (const r of results) {
    console.log(r.name.padEnd(48), r.rps.toFixed(0).padStart(9), (r.rps / base).toFixed(2).padStart(7), r.p50.toFixed(2).padStart(8), r.p99.toFixed(2).padStart(8), ` ${r.wrong}`);
  }
  const bad = results.filter((r) => r.wrong > 0);
  child.disconnect();
  agent.destroy();
  if (bad.length) {
    console.error(`\n${bad.length} case(s) answered with an unexpected status`);
    process.exit(1);
  }
}
