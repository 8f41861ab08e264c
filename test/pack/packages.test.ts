// test/pack/packages.test.ts
// The packages as a user gets them from the registry (issue #12): a clean copy of the repository packs
// every package with `pnpm pack` (prepack builds it), each tarball passes `publint --strict` and
// `attw` (are the types wrong, every resolution mode including node10), and then **npm** installs the
// tarballs into fresh projects with Express 5 and Express 4, where an ES module host and a CommonJS
// host run a whole TOTP login, and a TypeScript host type-checks with `tsc --noEmit` (NodeNext, CJS and ESM).
import { execFileSync, spawn, spawnSync, type SpawnOptions, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyWorkingTree, describeWithRegistry, removeLater, ROOT, tempDir } from '../support/fresh-clone';

const PACKAGES = ['core', 'express', 'knex', 'redis', 'twilio', 'smtp', 'webauthn'] as const;
// What a consumer installs next to our tarballs, pinned so a run is repeatable.
const HOSTS = {
  express5: { express: '5.3.0', '@types/express': '5.0.6' },
  express4: { express: '4.22.3', '@types/express': '4.17.25' },
} as const;
const CONSUMER_DEPS = { '@types/node': '20.19.43', knex: '3.3.0', ioredis: '6.0.0' };
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

function run(command: string, args: string[], options: SpawnSyncOptions & { cwd: string }): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 180_000, ...options });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited with ${r.status ?? r.signal}:\n${output.slice(-4000)}`);
  return output;
}

/** The same as `run`, without blocking: the npm installs and the attw checks overlap. */
function runAsync(command: string, args: string[], options: SpawnOptions & { cwd: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited with ${code ?? signal}:\n${output.slice(-4000)}`));
    });
  });
}

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
// The repository's TypeScript 7 (native). (TypeScript 6.0.3 from tools/api-docs passes too, but checking every
// declaration file under node_modules costs 20-90 s on the CI machine: run it by hand when the d.ts output changes.)
const TYPESCRIPTS: [string, string][] = [['TypeScript 7', bin('tsc')]];
const timings: string[] = [];
function timed<T>(label: string, fn: () => T): T {
  const started = Date.now();
  const done = () => timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const result = fn();
  if (result instanceof Promise) result.then(done, done);
  else done();
  return result;
}

describeWithRegistry()('packed packages, installed with npm', () => {
  let work: string;
  let clone: string;
  const tarballs = new Map<string, string>();
  const attw = new Map<string, string>();
  const hostDirs = new Map<string, string>();

  const suiteStarted = Date.now();

  beforeAll(async () => {
    work = tempDir('pack');
    clone = join(work, 'clone');
    timed('copy + pnpm install', () => {
      copyWorkingTree(clone);
      run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent'], {
        cwd: clone,
        env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' },
      });
    });
    const out = join(work, 'tarballs');
    mkdirSync(out);
    timed(`pnpm pack x${PACKAGES.length} (prepack builds)`, () => {
      for (const p of PACKAGES) run('pnpm', ['pack', '--pack-destination', out], { cwd: join(clone, 'packages', p) });
    });
    for (const file of readdirSync(out)) {
      const name = PACKAGES.find((p) => file === `secondfactor-${p}-${readJson(join(clone, 'packages', p, 'package.json')).version}.tgz`);
      if (name) tarballs.set(name, join(out, file));
    }
    // Two npm projects install while attw checks the tarballs (two at a time).
    const queue = [...tarballs];
    const attwWorker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [p, file] = next;
        attw.set(p, await timed(`attw ${p}`, () => runAsync(bin('attw'), [file, '--format', 'json'], { cwd: work })));
      }
    };
    await Promise.all([attwWorker(), attwWorker(), installHosts()]);
  }, 300_000);

  // The Express 5 project is installed from nothing; the Express 4 one is a copy whose Express npm then
  // changes (what `npm install express@4` does in an existing project), which saves a second full install.
  async function installHosts(): Promise<void> {
    const [first, ...others] = Object.keys(HOSTS) as (keyof typeof HOSTS)[];
    const dir = join(work, first!);
    mkdirSync(dir);
    const dependencies: Record<string, string> = { ...CONSUMER_DEPS, ...HOSTS[first!] };
    for (const [p, file] of tarballs) dependencies[`@secondfactor/${p}`] = `file:${file}`;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pack-host', private: true, type: 'commonjs', dependencies }, null, 2));
    writeHosts(dir);
    await timed(`npm install (${first})`, () => runAsync('npm', ['install', ...NPM_FLAGS], { cwd: dir }));
    hostDirs.set(first!, dir);
    for (const host of others) {
      const copy = join(work, host);
      cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
      const pins = Object.entries(HOSTS[host]).map(([name, version]) => `${name}@${version}`);
      await timed(`npm install ${pins.join(' ')} (${host})`, () => runAsync('npm', ['install', '--save-exact', ...NPM_FLAGS, ...pins], { cwd: copy }));
      hostDirs.set(host, copy);
    }
  }

  afterAll(() => {
    console.log(`pack suite: ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s in all; ${timings.join(', ')}`);
    if (work) removeLater(work);
  });

  test('pnpm pack gives one tarball per package, built from an unbuilt clone', () => {
    expect([...tarballs.keys()].sort()).toEqual([...PACKAGES].sort());
  });

  test.each(PACKAGES)('@secondfactor/%s: the tarball holds the build of every source file, a README and the registry metadata', (p) => {
    const entries = execFileSync('tar', ['-tzf', tarballs.get(p)!], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const files = new Set(entries.map((e) => e.replace(/^package\//, '')));
    const sources = [...files].filter((f) => f.startsWith('src/') && f.endsWith('.ts') && !f.endsWith('.d.ts'));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const base = src.replace(/^src\//, 'dist/').replace(/\.ts$/, '');
      expect([src, files.has(`${base}.js`), files.has(`${base}.d.ts`)]).toEqual([src, true, true]);
    }
    // Nothing stale: every compiled file has its source.
    for (const f of [...files].filter((x) => x.startsWith('dist/') && x.endsWith('.js'))) {
      expect([f, files.has(f.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))]).toEqual([f, true]);
    }
    expect([...files].filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|tsbuildinfo/.test(f))).toEqual([]);
    expect(files.has('README.md')).toBe(true);
    expect(files.has('LICENSE')).toBe(true);

    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarballs.get(p)!, 'package/package.json'], { encoding: 'utf8' }));
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    expect(manifest).toMatchObject({
      name: `@secondfactor/${p}`,
      license: 'MIT',
      sideEffects: false,
      engines: { node: expect.stringMatching(/^>=\d/) },
      repository: { type: 'git', url: expect.stringMatching(/^git\+https:\/\//), directory: `packages/${p}` },
      homepage: expect.stringMatching(/^https:\/\//),
      keywords: expect.arrayContaining(['mfa']),
    });
    expect(manifest.private).toBeUndefined();
    // No build-time leftovers that point into the monorepo (prepack runs ../../tools/clean-build.mjs).
    expect(JSON.stringify(manifest.scripts ?? {})).not.toMatch(/prepack|\.\.\//);
    const readme = execFileSync('tar', ['-xzOf', tarballs.get(p)!, 'package/README.md'], { encoding: 'utf8' });
    expect(readme).toContain(`npm install @secondfactor/${p}`);
  });

  test.each(PACKAGES)('@secondfactor/%s: publint --strict finds nothing', (p) => {
    const out = timed(`publint ${p}`, () => run(bin('publint'), ['run', tarballs.get(p)!, '--strict'], { cwd: work }));
    expect(out).toContain('All good!');
  });

  test.each(PACKAGES)('@secondfactor/%s: attw finds no type resolution problem (node10, node16 CJS/ESM, bundler)', (p) => {
    const out = attw.get(p)!;
    const report = JSON.parse(out.slice(out.indexOf('{')));
    expect(report.analysis.problems).toEqual([]);
    // The testing subpath resolves in every mode, node10 included (packages/core/testing/package.json).
    if (p === 'core') expect(Object.keys(report.analysis.entrypoints)).toEqual(expect.arrayContaining(['.', './testing']));
  });

  describe.each(Object.keys(HOSTS) as (keyof typeof HOSTS)[])('an npm project with %s', (host) => {
    let dir: string;
    beforeAll(() => {
      dir = hostDirs.get(host)!;
    });

    test("npm installed our tarballs (not the registry) and the host's Express", () => {
      for (const p of PACKAGES) {
        expect(readJson(join(dir, 'node_modules', '@secondfactor', p, 'package.json')).version).toBe(
          readJson(join(ROOT, 'packages', p, 'package.json')).version,
        );
        expect(existsSync(join(dir, 'node_modules', '@secondfactor', p, 'dist', 'index.js'))).toBe(true);
      }
      // One copy of core: the adapters share the host's, so `instanceof MfaError` holds across packages.
      expect(readdirSync(join(dir, 'node_modules', '@secondfactor'))).toEqual([...PACKAGES].sort());
      expect(readJson(join(dir, 'node_modules', 'express', 'package.json')).version).toBe(HOSTS[host].express);
      expect(readJson(join(dir, 'node_modules', '@types', 'express', 'package.json')).version).toBe(HOSTS[host]['@types/express']);
    });

    test.each(['host.mjs', 'host.cjs'])('%s runs a TOTP login (enrol, confirm, gate, verify, step-up guard)', (file) => {
      const out = run(process.execPath, [file], { cwd: dir, timeout: 30_000 });
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual(EXPECTED_RUN);
    });

    // host.ts also holds wrong uses under @ts-expect-error: were the published types `any`, tsc would fail on those lines.
    test.each(TYPESCRIPTS)(
      'tsc --noEmit (%s) type-checks a TypeScript host (NodeNext: a CJS .ts and an ESM .mts file)',
      (_name, tsc) => {
        timed(`${_name} host (${host})`, () => run(tsc, ['--noEmit', '-p', 'tsconfig.json'], { cwd: dir }));
      },
      60_000,
    );
  });
});

function readJson(file: string) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

const EXPECTED_RUN = {
  adapters: ['function', 'function', 'function', 'function', 'function', 'function', 'function'],
  plugin: { type: 'webauthn', input: 'response', phishingResistant: true },
  setup: 200,
  confirm: 200,
  login: { mfaRequired: true },
  verify: 200,
  bearer: true,
  guardWithoutProof: 401,
};

// The same program as an ES module and as CommonJS: imports every package (and core/testing),
// mounts the router, the login gate and requireMfa on the host's Express, and runs a TOTP login over HTTP.
function hostProgram(kind: 'esm' | 'cjs'): string {
  const imports =
    kind === 'esm'
      ? `import express from 'express';
import { createMfa, memoryStore, generateTotp } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { mfaRouter, mfaGate, requireMfa } from '@secondfactor/express';
import { knexStore } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { twilioSms } from '@secondfactor/twilio';
import { smtpEmail } from '@secondfactor/smtp';
import { webauthn } from '@secondfactor/webauthn';`
      : `const express = require('express');
const { createMfa, memoryStore, generateTotp } = require('@secondfactor/core');
const { runStoreConformance } = require('@secondfactor/core/testing');
const { mfaRouter, mfaGate, requireMfa } = require('@secondfactor/express');
const { knexStore } = require('@secondfactor/knex');
const { redisStore } = require('@secondfactor/redis');
const { twilioSms } = require('@secondfactor/twilio');
const { smtpEmail } = require('@secondfactor/smtp');
const { webauthn } = require('@secondfactor/webauthn');`;
  return `${imports}
const mfa = createMfa({
  issuer: 'Packed',
  store: memoryStore(),
  encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } },
  signingKey: 'packed-host-signing-key-0123456789abcdef',
});
const app = express();
app.use(express.json());
app.use('/mfa', mfaRouter(mfa, { getUserId: (req) => (req.get('x-user') === 'alice' ? 'alice' : undefined) }));
app.post('/login', (req, res, next) => { res.locals.userId = 'alice'; next(); }, mfaGate(mfa), (req, res) => res.json({ session: true }));
app.get('/admin', requireMfa(mfa, { getUserId: () => 'alice' }), (req, res) => res.json({ admin: true }));

const server = app.listen(0, '127.0.0.1', async () => {
  try {
    const base = 'http://127.0.0.1:' + server.address().port;
    const post = (path, body, headers = {}) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice', ...headers }, body: JSON.stringify(body) });
    const setup = await post('/mfa/totp/setup', {});
    const { factorId, secret } = await setup.json();
    const code = await generateTotp(secret, Date.now(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
    const confirm = await post('/mfa/totp/confirm', { factorId, code });
    const login = await (await post('/login', {})).json();
    const next = await generateTotp(secret, Date.now() + 30_000, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
    const verify = await post('/mfa/verify', { challengeToken: login.challengeToken, method: 'totp', code: next });
    const body = await verify.json();
    const guard = await fetch(base + '/admin');
    console.log(JSON.stringify({
      adapters: [runStoreConformance, knexStore, redisStore, twilioSms, smtpEmail, mfaGate, webauthn].map((f) => typeof f),
      plugin: (({ type, input, phishingResistant }) => ({ type, input, phishingResistant }))(webauthn({ rpId: 'localhost', rpName: 'Packed', origins: ['http://localhost:3000'] })),
      setup: setup.status, confirm: confirm.status, login: { mfaRequired: login.mfaRequired }, verify: verify.status,
      bearer: body.tokenType === 'Bearer' && typeof body.accessToken === 'string', guardWithoutProof: guard.status,
    }));
  } finally {
    server.close();
  }
});
`;
}

// A TypeScript consumer: strict, NodeNext, skipLibCheck off so our declarations (and what they import) are checked too.
const TS_CJS = `import express, { type Request } from 'express';
import { backupCodes, createMfa, composeStores, email, memoryStore, MfaError, sms, totp, type Mfa, type MfaStore } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { mfaRouter, mfaGate, requireMfa, mfaErrorHandler } from '@secondfactor/express';
import { knexStore, migrate } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { twilioSms } from '@secondfactor/twilio';
import { smtpEmail } from '@secondfactor/smtp';
import { webauthn } from '@secondfactor/webauthn';
import { knex } from 'knex';
import Redis from 'ioredis';

export async function build(): Promise<express.Express> {
  const db = knex({ client: 'pg', connection: process.env.DATABASE_URL });
  await migrate(db);
  const store: MfaStore = composeStores({ durable: knexStore(db), ephemeral: redisStore(new Redis()) });
  const mfa: Mfa = createMfa({
    issuer: 'Typed',
    store,
    encryptionKeys: { current: 'k1', keys: { k1: 'a'.repeat(44) } },
    signingKey: 'typed-host-signing-key-0123456789abcdef',
    factors: [
      totp(),
      sms({ sender: twilioSms({ accountSid: 'AC0', authToken: 't', from: '+15005550006' }) }),
      email({ sender: smtpEmail({ transport: 'smtp://localhost:2525', from: 'no-reply@example.com' }) }),
      webauthn({ rpId: 'example.com', rpName: 'Typed', origins: ['https://example.com'], userVerification: 'required' }),
      backupCodes(),
    ],
  });
  const app = express();
  app.use(express.json());
  app.use('/mfa', mfaRouter(mfa, { getUserId: (req: Request) => req.get('x-user') ?? undefined }));
  app.post('/login', mfaGate(mfa), (_req, res) => { res.json({ ok: true }); });
  app.get('/admin', requireMfa(mfa, { getUserId: (req: Request) => req.get('x-user') ?? undefined, maxAge: 300 }), (_req, res) => { res.end(); });
  app.use(mfaErrorHandler());
  const unused: typeof runStoreConformance = runStoreConformance;
  void unused;
  // @ts-expect-error -- origins are required
  webauthn({ rpId: 'example.com', rpName: 'Typed' });
  // @ts-expect-error -- an Mfa instance is required
  mfaGate('not an Mfa instance');
  // @ts-expect-error -- a typo in an option is a type error
  requireMfa(mfa, { maxAgeSeconds: 300 });
  // @ts-expect-error -- issuer is required
  createMfa({ store, encryptionKeys: { current: 'k1', keys: { k1: 'a'.repeat(44) } }, signingKey: 'x'.repeat(40) });
  const e: unknown = new Error('x');
  if (e instanceof MfaError) console.log(e.code);
  return app;
}
`;
const TS_ESM = `import { createMfa, memoryStore } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { mfaGate } from '@secondfactor/express';

const mfa = createMfa({ issuer: 'Esm', store: memoryStore(), encryptionKeys: { current: 'k', keys: { k: 'a'.repeat(44) } }, signingKey: 'esm-host-signing-key-0123456789abcdef' });
export const gate = mfaGate(mfa);
export const kit: typeof runStoreConformance = runStoreConformance;
`;

function writeHosts(dir: string): void {
  writeFileSync(join(dir, 'host.mjs'), hostProgram('esm'));
  writeFileSync(join(dir, 'host.cjs'), hostProgram('cjs'));
  writeFileSync(join(dir, 'host.ts'), TS_CJS);
  writeFileSync(join(dir, 'host-esm.mts'), TS_ESM);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        esModuleInterop: true,
        skipLibCheck: false,
        types: ['node'],
        noEmit: true,
      },
      include: ['*.ts', '*.mts'],
    }),
  );
}
