// The built packages load from a CommonJS host and from an ES module host (issue #3).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = (kind: 'cjs' | 'esm') => `
${kind === 'esm'
    ? "import { createMfa, memoryStore } from '@secondfactor/core'; import { mfaRouter, mfaGate, requireMfa } from '@secondfactor/express'; import express from 'express';"
    : "const { createMfa, memoryStore } = require('@secondfactor/core'); const { mfaRouter, mfaGate, requireMfa } = require('@secondfactor/express'); const express = require('express');"}
const mfa = createMfa({ issuer: 'Fmt', store: memoryStore(), encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } }, signingKey: 'module-format-signing-key-0123456789abcdef' });
const app = express();
app.use('/mfa', mfaRouter(mfa, { getUserId: () => 'u1' }));
app.post('/login', (req, res, next) => { res.locals.userId = 'u1'; next(); }, mfaGate(mfa), (req, res) => res.json({ session: true }));
app.get('/admin', requireMfa(mfa, { getUserId: () => 'u1' }), (req, res) => res.json({ ok: true }));
const server = app.listen(0, '127.0.0.1', async () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  const setup = await (await fetch(base + '/mfa/totp/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
  const login = await (await fetch(base + '/login', { method: 'POST' })).json();
  const admin = await fetch(base + '/admin');
  console.log(JSON.stringify({ otpauth: setup.otpauthUri.startsWith('otpauth://totp/Fmt:u1?'), login, admin: admin.status }));
  server.close();
});
`;

const built = ['core', 'express'].every((p) => existsSync(join(ROOT, 'packages', p, 'dist', 'index.js')));
// In CI the suite always runs (and fails if `pnpm test` did not build first); elsewhere it skips loudly.
if (!built && !process.env.CI) console.warn('\n!!! SKIPPED module-format checks: packages are not built (run `pnpm exec tsc -b`)\n');
(built || process.env.CI ? describe : describe.skip)('module formats (built dist)', () => {
  test.each(['cjs', 'esm'] as const)('a %s host mounts the router, the gate and requireMfa', (kind) => {
    const args = kind === 'esm' ? ['--input-type=module', '-e', SCRIPT(kind)] : ['-e', SCRIPT(kind)];
    const out = execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ otpauth: true, login: { session: true }, admin: 401 });
  });
});
