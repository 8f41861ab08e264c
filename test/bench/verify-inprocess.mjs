// test/bench/verify-inprocess.mjs — `pnpm bench:inprocess` (docs/benchmarks.md, issue #13)
// Core + store CPU per valid login verification, without HTTP: `mfa.login.verify` of N users, C of
// them at a time, on knex + better-sqlite3 (a fresh file in the OS temp dir, WAL,
// `synchronous=NORMAL`), CPU (user and system) from `process.cpuUsage` over the verifications only.
// Enrolment and the login starts run before the measured window. For an A/B, give another built
// checkout as the argument and run the two alternately: the machine's noise is larger than most steps.
//
// Usage: node test/bench/verify-inprocess.mjs [checkout]   (default: this one, built with tsc -b)
// Environment: N (users, default 3000), C (at a time, default 50).
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = resolve(process.argv[2] ?? join(fileURLToPath(import.meta.url), '..', '..', '..'));
const N = Number(process.env.N ?? 3000);
const C = Number(process.env.C ?? 50);
const require = createRequire(join(checkout, 'packages', 'knex', 'package.json'));
const core = require('@secondfactor/core');
const { knexStore, migrate } = require('@secondfactor/knex');
const knex = require('knex');

const dir = mkdtempSync(join(tmpdir(), 'sf-verify-inprocess-'));
const db = knex({
  client: 'better-sqlite3', useNullAsDefault: true, connection: { filename: join(dir, 'bench.db') },
  pool: { afterCreate(connection, done) { connection.pragma('journal_mode = WAL'); connection.pragma('synchronous = NORMAL'); done(null, connection); } },
});
try {
  await migrate(db);
  let now = Date.UTC(2026, 0, 1, 0, 0, 10);
  const mfa = core.createMfa({
    issuer: 'bench', store: knexStore(db), clock: () => now,
    encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } },
    signingKey: 'verify-inprocess-signing-key-0123456789abcdef',
    factors: [core.totp(), core.backupCodes({ bcryptCost: 4 })],
    limits: { perIpPerWindow: 1_000_000 },
  });
  const params = { algorithm: 'SHA1', digits: 6, periodSeconds: 30 };
  const context = { ip: '127.0.0.1', userAgent: 'verify-inprocess' };
  const secrets = [];
  for (let i = 0; i < N; i++) {
    const enrolment = await mfa.enroll(`user-${i}`, 'totp');
    await mfa.confirm(`user-${i}`, enrolment.factorId, { code: await core.generateTotp(enrolment.secret, now, params) });
    secrets.push(enrolment.secret);
  }
  now += 30_000;
  const logins = [];
  for (let i = 0; i < N; i++) {
    const started = await mfa.login.start(`user-${i}`, { context });
    logins.push({ token: started.challengeToken, code: await core.generateTotp(secrets[i], now, params) });
  }
  let next = 0;
  let ok = 0;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < logins.length) {
      const { token, code } = logins[next++];
      if ((await mfa.login.verify(token, { method: 'totp', code }, context)).ok) ok++;
    }
  }));
  const used = process.cpuUsage(cpu);
  if (ok !== N) throw new Error(`${N - ok} of ${N} verifications failed`);
  console.log(JSON.stringify({
    checkout, users: N, atATime: C,
    cpuMicrosPerVerification: Math.round((used.user + used.system) / N),
    systemMicrosPerVerification: Math.round(used.system / N),
    wallMicrosPerVerification: Math.round(((performance.now() - wall) * 1000) / N),
  }));
} finally {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
}
