// examples/express-app/test/app.test.ts
// Acceptance test of the example host app (STYLE 12): the exported app on in-memory SQLite through
// knex, with a fake clock, driven over HTTP with supertest like a browser would (cookies in an agent).
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import request from 'supertest';
import { createApp, type AppConfig, type ExampleApp } from '../src/app';
import { configFromEnv, loadKeys } from '../src/config';
import { devSmsSender } from '../src/dev-codes';
import { describeWithService, POSTGRES_URL, REDIS_URL } from '../../../test/support/services';

const KEYS = {
  mfaEncryptionKey: Buffer.alloc(32, 7).toString('base64'),
  mfaSigningKey: 'example-test-signing-key-of-at-least-32-chars',
  sessionSecret: 'example-test-session-secret-of-at-least-32-chars',
};
const PASSWORD = 'correct horse battery staple';
/** What the policy tells a user who is not an administrator and has no factor (a nudge, no deadline). */
const NUDGE = { required: false, graceUntil: null, methods: ['totp'] };
const MAX_AGE = 300;

/** RFC 6238 (SHA-1, 6 digits, 30 s), written out here so the test does not trust the library it checks. */
function totp(base32Secret: string, nowMs: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

function fakeClock(start = Date.UTC(2026, 0, 5, 9, 0, 10)) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => { t += seconds * 1000; } };
}

const memoryDb = () => knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });

/** Names of cookies a response sets (or clears). */
function setCookies(res: request.Response): Record<string, string> {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  return Object.fromEntries((header ?? []).map((c) => [c.slice(0, c.indexOf('=')), c]));
}

interface Harness {
  example: ExampleApp;
  clock: ReturnType<typeof fakeClock>;
  agent: ReturnType<typeof request.agent>;
}

async function start(overrides: Partial<AppConfig> = {}): Promise<Harness> {
  const clock = fakeClock();
  const example = createApp({ knex: memoryDb(), keys: KEYS, clock: clock.now, bcryptCost: 4, stepUpMaxAge: MAX_AGE, ...overrides });
  await example.migrate();
  return { example, clock, agent: request.agent(example.app) };
}

const json = (agent: ReturnType<typeof request.agent>, method: 'post' | 'delete', url: string, body: object = {}) =>
  agent[method](url).set('Content-Type', 'application/json').send(body);

async function registerAndLogin(h: Harness, email = 'alice@example.com') {
  await json(h.agent, 'post', '/register', { email, password: PASSWORD }).expect(201);
  return json(h.agent, 'post', '/login', { email, password: PASSWORD });
}

/** Enrols an authenticator app for the signed-in user; returns the secret and the backup codes. */
async function enableTotp(h: Harness) {
  const setup = await json(h.agent, 'post', '/mfa/totp/setup').expect(200);
  const confirm = await json(h.agent, 'post', '/mfa/totp/confirm', { factorId: setup.body.factorId, code: totp(setup.body.secret, h.clock.now()) }).expect(200);
  h.clock.advance(30); // the confirming code's time step is used up
  return { setup: setup.body, secret: setup.body.secret as string, backupCodes: confirm.body.backupCodes as string[] };
}

async function loginChallenge(h: Harness, email = 'alice@example.com') {
  const res = await json(h.agent, 'post', '/login', { email, password: PASSWORD }).expect(200);
  expect(res.body.mfaRequired).toBe(true);
  return res.body as { challengeToken: string; methods: string[]; expiresAt: string };
}

describe('example app: the host on its own (no MFA enrolled)', () => {
  let h: Harness;
  beforeEach(async () => { h = await start(); });
  afterEach(() => h.example.close());

  it('registers, signs in with a session cookie, signs out', async () => {
    await request(h.example.app).get('/register').expect(200).expect('Content-Type', /html/);
    const login = await registerAndLogin(h);
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ ok: true, redirect: '/settings', enrollment: NUDGE }); // not required: the pages nudge
    const cookie = setCookies(login).session!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie.split(';')[0]!.split('=')[1]!.split('.')).toHaveLength(3); // a JWT (jose, HS256)
    await h.agent.get('/settings').expect(200).expect(/Security settings/);
    const status = await h.agent.get('/mfa/status').expect(200);
    expect(status.body).toMatchObject({ enabled: false, factors: [], backupCodesRemaining: 0 });

    const logout = await json(h.agent, 'post', '/logout').expect(200);
    expect(setCookies(logout).session).toMatch(/Expires=Thu, 01 Jan 1970/);
    await h.agent.get('/settings').set('Accept', 'text/html').expect(303).expect('Location', '/login?next=%2Fsettings');
    await h.agent.get('/mfa/status').expect(401);
  });

  it('refuses bad registrations and a taken email', async () => {
    await json(h.agent, 'post', '/register', { email: 'not-an-email', password: PASSWORD }).expect(400);
    await json(h.agent, 'post', '/register', { email: 'bob@example.com', password: 'short' }).expect(400);
    await json(h.agent, 'post', '/register', { email: 'Bob@Example.com', password: PASSWORD }).expect(201);
    const again = await json(h.agent, 'post', '/register', { email: 'bob@example.com', password: PASSWORD }).expect(409);
    expect(again.body.field).toBe('email');
  });

  it('answers an unknown email exactly like a wrong password (no enumeration)', async () => {
    await json(h.agent, 'post', '/register', { email: 'carol@example.com', password: PASSWORD }).expect(201);
    const wrong = await json(h.agent, 'post', '/login', { email: 'carol@example.com', password: 'wrong password!' });
    const unknown = await json(h.agent, 'post', '/login', { email: 'nobody@example.com', password: 'wrong password!' });
    const malformed = await json(h.agent, 'post', '/login', { email: ['x'], password: 42 });
    for (const res of [wrong, unknown, malformed]) {
      expect(res.status).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(unknown.body).toEqual(wrong.body);
    expect(malformed.body).toEqual(wrong.body);
  });

  it('refuses state-changing requests that are not same-origin JSON (CSRF)', async () => {
    await request(h.example.app).post('/register').type('form').send({ email: 'x@example.com', password: PASSWORD }).expect(403);
    await request(h.example.app).post('/login').type('form').send({ email: 'x@example.com', password: PASSWORD }).expect(403);
    await request(h.example.app).post('/logout').expect(403);
    await request(h.example.app).post('/login').set('Origin', 'https://evil.example').set('Content-Type', 'application/json')
      .send({ email: 'x@example.com', password: PASSWORD }).expect(403);
    await request(h.example.app).post('/mfa/disable').set('Sec-Fetch-Site', 'cross-site').set('Content-Type', 'application/json')
      .send({ password: PASSWORD }).expect(403);
  });

  it('sends a user without MFA from /admin to the step-up page, which says to turn MFA on', async () => {
    await registerAndLogin(h);
    await h.agent.get('/admin').set('Accept', 'text/html').expect(303).expect('Location', '/step-up?next=%2Fadmin');
    const page = await h.agent.get('/step-up?next=%2Fadmin').expect(200);
    expect(page.text).toMatch(/Two-factor authentication required/);
    const api = await h.agent.get('/admin').set('Accept', 'application/json').expect(401);
    expect(api.headers['www-authenticate']).toMatch(/insufficient_user_authentication/);
  });

  it('answers malformed JSON with 400, never 500', async () => {
    for (const url of ['/login', '/register', '/mfa/verify']) {
      const res = await request(h.example.app).post(url).set('Content-Type', 'application/json').send('{"email":');
      expect(res.status).toBe(400);
      expect(res.text).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    }
  });

  it('serves the pages', async () => {
    for (const url of ['/', '/login', '/register', '/login/second-factor']) {
      const res = await request(h.example.app).get(url).expect(200);
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    }
    await request(h.example.app).get('/style.css').expect(200).expect('Content-Type', /css/);
    await request(h.example.app).get('/app.js').expect(200).expect('Content-Type', /javascript/);
    await request(h.example.app).get('/nope').set('Accept', 'text/html').expect(404).expect(/Page not found/);
  });
});

describe('example app: secondfactor added', () => {
  let h: Harness;
  beforeEach(async () => { h = await start(); });
  afterEach(() => h.example.close());

  it('enables TOTP, then a login needs the second factor before any session', async () => {
    await registerAndLogin(h);
    const { setup, secret, backupCodes } = await enableTotp(h);
    expect(setup.qrCode).toMatch(/^data:image\/png;base64,/);
    expect(setup.otpauthUri).toMatch(/^otpauth:\/\/totp\/Acme:alice%40example\.com\?/);
    expect(setup.otpauthUri).toContain(`secret=${secret}`);
    expect(backupCodes).toHaveLength(10);
    const status = await h.agent.get('/mfa/status').expect(200);
    expect(status.body).toMatchObject({ enabled: true, backupCodesRemaining: 10 });
    expect(status.body.factors).toEqual([expect.objectContaining({ type: 'totp' })]);
    expect(JSON.stringify(status.body)).not.toContain(secret);

    await json(h.agent, 'post', '/logout').expect(200);
    const login = await json(h.agent, 'post', '/login', { email: 'alice@example.com', password: PASSWORD }).expect(200);
    expect(login.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'sms', 'backup_code'].filter((m) => m !== 'sms') });
    expect(login.headers['set-cookie']).toBeUndefined(); // no session before the second factor
    await h.agent.get('/settings').set('Accept', 'text/html').expect(303);

    // A wrong code: no session.
    const wrong = await json(h.agent, 'post', '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: '000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('invalid_code');
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const verify = await json(h.agent, 'post', '/mfa/verify', {
      challengeToken: login.body.challengeToken, method: 'totp', code: totp(secret, h.clock.now()),
    }).expect(200);
    expect(verify.body).toEqual({ ok: true, redirect: '/settings' });
    const cookies = setCookies(verify);
    expect(cookies.session).toMatch(/HttpOnly/);
    expect(cookies.sf_mfa).toMatch(/HttpOnly/);
    // Set by secondfactor's router (assertionCookie), living as long as the assertion.
    expect(cookies.sf_mfa).toMatch(/^sf_mfa=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=300; Path=\/; HttpOnly; SameSite=Lax$/);
    await h.agent.get('/settings').expect(200);
    // The challenge is single use.
    await json(h.agent, 'post', '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: totp(secret, h.clock.now()) }).expect(401);

    // Signing out drops the host session and the MFA assertion.
    const logout = await json(h.agent, 'post', '/logout').expect(200);
    expect(setCookies(logout).session).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(setCookies(logout).sf_mfa).toMatch(/Expires=Thu, 01 Jan 1970/);
  });

  it('signs in with a backup code, each code once', async () => {
    await registerAndLogin(h);
    const { backupCodes } = await enableTotp(h);
    await json(h.agent, 'post', '/logout');
    const c1 = await loginChallenge(h);
    await json(h.agent, 'post', '/mfa/verify', { challengeToken: c1.challengeToken, method: 'backup_code', code: backupCodes[0] }).expect(200);
    await h.agent.get('/settings').expect(200);
    expect((await h.agent.get('/mfa/status')).body.backupCodesRemaining).toBe(9);

    await json(h.agent, 'post', '/logout');
    const c2 = await loginChallenge(h);
    const reused = await json(h.agent, 'post', '/mfa/verify', { challengeToken: c2.challengeToken, method: 'backup_code', code: backupCodes[0] });
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('invalid_code');
    // Case and dashes do not matter.
    await json(h.agent, 'post', '/mfa/verify', { challengeToken: c2.challengeToken, method: 'backup_code', code: backupCodes[1]!.toUpperCase().replace(/-/g, '') }).expect(200);
  });

  it('skips the second factor on a trusted device, until the device is revoked', async () => {
    await registerAndLogin(h);
    const { secret } = await enableTotp(h);
    await json(h.agent, 'post', '/logout');
    const c = await loginChallenge(h);
    const verify = await json(h.agent, 'post', '/mfa/verify', {
      challengeToken: c.challengeToken, method: 'totp', code: totp(secret, h.clock.now()), trustDevice: true,
    }).expect(200);
    const td = setCookies(verify).sf_td!;
    expect(td).toMatch(/HttpOnly/);
    expect(td).toMatch(/SameSite=Lax/);
    expect(td).toMatch(/Max-Age=2592000/);

    await json(h.agent, 'post', '/logout');
    const skipped = await json(h.agent, 'post', '/login', { email: 'alice@example.com', password: PASSWORD }).expect(200);
    expect(skipped.body).toEqual({ ok: true, redirect: '/settings' });
    expect(setCookies(skipped).session).toBeDefined();

    // A trusted device is not a second factor: /admin still asks for a code.
    await h.agent.get('/admin').set('Accept', 'text/html').expect(303).expect('Location', '/step-up?next=%2Fadmin');

    // Another browser (no device cookie) is still asked.
    const other = request.agent(h.example.app);
    const otherLogin = await json(other, 'post', '/login', { email: 'alice@example.com', password: PASSWORD }).expect(200);
    expect(otherLogin.body.mfaRequired).toBe(true);

    const devices = await h.agent.get('/mfa/trusted-devices').expect(200);
    expect(devices.body.devices).toEqual([expect.objectContaining({ current: true })]);
    await json(h.agent, 'delete', `/mfa/trusted-devices/${devices.body.devices[0].id}`).expect(204);
    await json(h.agent, 'post', '/logout');
    await loginChallenge(h);
  });

  it('asks for a code again on /admin after maxAge (step-up)', async () => {
    await registerAndLogin(h);
    const { secret } = await enableTotp(h);
    await json(h.agent, 'post', '/logout');
    const c = await loginChallenge(h);
    await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: totp(secret, h.clock.now()) }).expect(200);

    const admin = await h.agent.get('/admin').set('Accept', 'text/html').expect(200);
    expect(admin.text).toMatch(/Admin area/);
    expect(admin.text).toContain(`<dd id="auth-time">${new Date(h.clock.now()).toISOString().slice(0, 10)}`);

    h.clock.advance(MAX_AGE + 1);
    await h.agent.get('/admin').set('Accept', 'text/html').expect(303).expect('Location', '/step-up?next=%2Fadmin');
    const api = await h.agent.get('/admin').set('Accept', 'application/json').expect(401);
    expect(api.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_user_authentication", error_description="A recent second-factor verification is required", max_age=${MAX_AGE}`,
    );
    const page = await h.agent.get('/step-up?next=%2Fadmin').expect(200);
    expect(page.text).toMatch(/Confirm it(&#39;|')s you/);

    const wrong = await json(h.agent, 'post', '/mfa/step-up', { code: '000000' }).expect(401);
    expect(wrong.body.code).toBe('invalid_code');
    await json(h.agent, 'post', '/mfa/step-up', { code: 12 }).expect(400);
    const ok = await json(h.agent, 'post', '/mfa/step-up', { code: totp(secret, h.clock.now()) }).expect(200);
    expect(setCookies(ok).sf_mfa).toMatch(/HttpOnly/);
    expect(setCookies(ok).sf_mfa).toMatch(/; Max-Age=300; Path=\/; HttpOnly; SameSite=Lax$/);
    await h.agent.get('/admin').set('Accept', 'text/html').expect(200).expect(/Admin area/);
    // The same code cannot step up twice (replay).
    await json(h.agent, 'post', '/mfa/step-up', { code: totp(secret, h.clock.now()) }).expect(401);

    // Another user's fresh assertion does not open /admin for this session.
    await json(h.agent, 'post', '/logout');
    await registerAndLogin(h, 'mallory@example.com');
    await h.agent.get('/admin').set('Accept', 'application/json').expect(401);
    await h.agent.get('/admin').set('Accept', 'text/html').expect(303).expect('Location', '/step-up?next=%2Fadmin');
    // Step-up is secondfactor's route now: the host has no POST /step-up of its own.
    await json(h.agent, 'post', '/step-up', { code: '123456' }).expect(404);
  });

  it('uses __Host- Secure cookies with secureCookies (production settings)', async () => {
    const p = await start({ secureCookies: true });
    try {
      // A cookie jar by hand: supertest's agent does not send Secure cookies over plain http.
      const jar = new Map<string, string>();
      const send = (method: 'get' | 'post', url: string, body?: object) => {
        const t = request(p.example.app)[method](url).set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
        return (body ? t.set('Content-Type', 'application/json').send(body) : t).then((res) => {
          for (const [name, line] of Object.entries(setCookies(res))) {
            const value = line.slice(name.length + 1, line.indexOf(';'));
            if (value === '' || /Expires=Thu, 01 Jan 1970/.test(line)) jar.delete(name); else jar.set(name, value);
          }
          return res;
        });
      };
      await send('post', '/register', { email: 'alice@example.com', password: PASSWORD }).then((r) => expect(r.status).toBe(201));
      await send('post', '/login', { email: 'alice@example.com', password: PASSWORD });
      const setup = (await send('post', '/mfa/totp/setup', {})).body as { factorId: string; secret: string };
      await send('post', '/mfa/totp/confirm', { factorId: setup.factorId, code: totp(setup.secret, p.clock.now()) }).then((r) => expect(r.status).toBe(200));
      p.clock.advance(30);
      await send('post', '/logout', {});
      const challenge = (await send('post', '/login', { email: 'alice@example.com', password: PASSWORD })).body as { challengeToken: string };
      const verify = await send('post', '/mfa/verify', { challengeToken: challenge.challengeToken, method: 'totp', code: totp(setup.secret, p.clock.now()) });
      expect(verify.status).toBe(200);
      expect(setCookies(verify)['__Host-sf_mfa']).toMatch(/; Max-Age=300; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      expect(setCookies(verify).sf_mfa).toBeUndefined();
      expect((await send('get', '/admin')).status).toBe(200);
      const logout = await send('post', '/logout', {});
      expect(setCookies(logout)['__Host-sf_mfa']).toMatch(/^__Host-sf_mfa=; .*Expires=Thu, 01 Jan 1970.*; HttpOnly; Secure; SameSite=Lax$/);
      expect(jar.has('__Host-sf_mfa')).toBe(false);
    } finally {
      await p.example.close();
    }
  });

  it('regenerates backup codes and removes factors only with a current code', async () => {
    await registerAndLogin(h);
    const { secret, backupCodes } = await enableTotp(h);
    await json(h.agent, 'post', '/mfa/backup-codes/regenerate').expect(403);
    const regen = await json(h.agent, 'post', '/mfa/backup-codes/regenerate', { code: totp(secret, h.clock.now()) }).expect(200);
    expect(regen.body.backupCodes).toHaveLength(10);
    expect(regen.body.backupCodes).not.toContain(backupCodes[0]);

    const factorId = (await h.agent.get('/mfa/status')).body.factors[0].id as string;
    await json(h.agent, 'delete', `/mfa/factors/${factorId}`).expect(403);
    await json(h.agent, 'delete', `/mfa/factors/${factorId}`, { code: backupCodes[0] }).expect(401); // old set is gone
    await json(h.agent, 'delete', `/mfa/factors/${factorId}`, { code: regen.body.backupCodes[0] }).expect(204);
    expect((await h.agent.get('/mfa/status')).body.enabled).toBe(false);
  });

  it('disables MFA with the password (the host opted in; re-auth counted like a code), and the next login needs no code', async () => {
    await registerAndLogin(h);
    await enableTotp(h);
    await json(h.agent, 'post', '/mfa/disable').expect(403);
    await json(h.agent, 'post', '/mfa/disable', { password: 'wrong password!' }).expect(401);
    expect((await h.agent.get('/mfa/status')).body.enabled).toBe(true);
    await json(h.agent, 'post', '/mfa/disable', { password: PASSWORD }).expect(204);
    expect((await h.agent.get('/mfa/status')).body).toMatchObject({ enabled: false, factors: [], backupCodesRemaining: 0 });
    await json(h.agent, 'post', '/logout');
    const login = await json(h.agent, 'post', '/login', { email: 'alice@example.com', password: PASSWORD }).expect(200);
    expect(login.body).toEqual({ ok: true, redirect: '/settings', enrollment: NUDGE }); // not required: the pages nudge
  });

  it('disables MFA with a current code', async () => {
    await registerAndLogin(h);
    const { secret } = await enableTotp(h);
    await json(h.agent, 'post', '/mfa/disable', { code: totp(secret, h.clock.now()) }).expect(204);
    expect((await h.agent.get('/mfa/status')).body.enabled).toBe(false);
  });

  it('keeps one user out of another user\'s factors', async () => {
    await registerAndLogin(h);
    await enableTotp(h);
    const aliceFactor = (await h.agent.get('/mfa/status')).body.factors[0].id as string;
    await json(h.agent, 'post', '/logout');
    const bob = request.agent(h.example.app);
    await json(bob, 'post', '/register', { email: 'bob@example.com', password: PASSWORD }).expect(201);
    await json(bob, 'post', '/login', { email: 'bob@example.com', password: PASSWORD }).expect(200);
    await json(bob, 'delete', `/mfa/factors/${aliceFactor}`, { password: PASSWORD }).expect((res) => expect(res.status).toBeGreaterThanOrEqual(400));
    await json(bob, 'post', '/mfa/disable', { password: PASSWORD }).expect(404); // bob has no MFA to turn off
    await loginChallenge(h); // alice still needs her code
  });
});

describe('example app: SMS in development (console sender, dev mode)', () => {
  it('adds a phone and signs in with a texted code shown as "dev mode: your code is …"', async () => {
    const lines: string[] = [];
    const devCodes = devSmsSender((line) => lines.push(line));
    const h = await start({ sms: devCodes, devCodes });
    try {
      await registerAndLogin(h);
      const settings = await h.agent.get('/settings').expect(200);
      expect(settings.text).toContain('id="sms-setup"');
      const setup = await json(h.agent, 'post', '/mfa/sms/setup', { phone: '+14155550123' }).expect(200);
      expect(setup.body.sentTo).toMatch(/0123$/);
      // Bound to the signed-in owner of the pending phone: another browser (no session) gets nothing.
      expect((await json(request.agent(h.example.app), 'post', '/dev/sms-code', { factorId: setup.body.factorId }).expect(200)).body).toEqual({ code: null });
      const dev = await json(h.agent, 'post', '/dev/sms-code', { factorId: setup.body.factorId }).expect(200);
      expect(dev.body.code).toMatch(/^\d{6}$/);
      expect(lines.join('\n')).not.toContain(dev.body.code); // the console never shows the code
      const confirm = await json(h.agent, 'post', '/mfa/sms/confirm', { factorId: setup.body.factorId, code: dev.body.code }).expect(200);
      expect(confirm.body.backupCodes).toHaveLength(10);

      await json(h.agent, 'post', '/logout');
      const c = await loginChallenge(h);
      expect(c.methods).toEqual(['sms', 'backup_code']);
      h.clock.advance(31); // resend cooldown
      const sent = await json(h.agent, 'post', '/mfa/challenge/sms', { challengeToken: c.challengeToken }).expect(202);
      expect(sent.body.sentTo).toMatch(/0123$/);
      // Bound to the login challenge: without its token, or with a made-up one, no code.
      const stranger = request.agent(h.example.app);
      expect((await json(stranger, 'post', '/dev/sms-code', {}).expect(200)).body).toEqual({ code: null });
      expect((await json(stranger, 'post', '/dev/sms-code', { challengeToken: 'A'.repeat(43) }).expect(200)).body).toEqual({ code: null });
      const code = (await json(h.agent, 'post', '/dev/sms-code', { challengeToken: c.challengeToken })).body.code as string;
      expect(code).toMatch(/^\d{6}$/);
      await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'sms', code }).expect(200);
      await h.agent.get('/settings').expect(200);
    } finally {
      await h.example.close();
    }
  });

  it('has no dev-code route and no SMS without a sender', async () => {
    const h = await start();
    try {
      await registerAndLogin(h);
      await json(h.agent, 'post', '/dev/sms-code', { challengeToken: 'x' }).expect(404);
      expect((await h.agent.get('/settings')).text).toContain('SMS is not configured');
    } finally {
      await h.example.close();
    }
  });
});

describe('example app: configuration from the environment', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-example-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('generates development keys once, persists them, and warns loudly', () => {
    const warnings: string[] = [];
    const first = loadKeys({}, dir, (l) => warnings.push(l));
    const second = loadKeys({}, dir, (l) => warnings.push(l));
    expect(second).toEqual(first);
    expect(Buffer.from(first.mfaEncryptionKey, 'base64')).toHaveLength(32);
    expect(fs.statSync(path.join(dir, 'dev-keys.json')).mode & 0o777).toBe(0o600);
    expect(warnings[0]).toMatch(/WARNING: MFA_ENCRYPTION_KEY, MFA_SIGNING_KEY, SESSION_SECRET not set/);
    expect(loadKeys({ ...KEYS_ENV }, dir, (l) => warnings.push(l))).toEqual(KEYS);
    expect(warnings).toHaveLength(2);
    expect(() => loadKeys({ NODE_ENV: 'production' }, dir)).toThrow(/NODE_ENV=production needs MFA_ENCRYPTION_KEY/);
  });

  it('defaults to a SQLite file; a restart keeps users able to sign in with their factor', async () => {
    const env = { DATA_DIR: dir, BCRYPT_COST: '4' };
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const clock = fakeClock();
      const boot = async () => {
        const cfg = configFromEnv(env);
        const example = createApp({ ...cfg.app, clock: clock.now });
        await example.migrate();
        return { cfg, example, agent: request.agent(example.app) };
      };
      const run1 = await boot();
      expect(run1.cfg.port).toBe(3000);
      expect(run1.cfg.summary[0]).toBe(`database: SQLite file ${path.join(dir, 'app.sqlite')}`);
      const h1: Harness = { example: run1.example, clock, agent: run1.agent };
      await registerAndLogin(h1);
      const { secret } = await enableTotp(h1);
      await run1.example.close();
      expect(fs.existsSync(path.join(dir, 'app.sqlite'))).toBe(true);

      const run2 = await boot(); // same file, same persisted keys
      const h2: Harness = { example: run2.example, clock, agent: run2.agent };
      const c = await loginChallenge(h2);
      await json(run2.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: totp(secret, clock.now()) }).expect(200);
      await run2.example.close();
    } finally {
      warn.mockRestore();
    }
  });

  it('reads PORT, STEP_UP_MAX_AGE, COOKIE_SECURE, AUDIT_RETENTION_DAYS and the keys', () => {
    const cfg = configFromEnv({ DATA_DIR: dir, PORT: '4100', STEP_UP_MAX_AGE: '60', COOKIE_SECURE: 'true', AUDIT_RETENTION_DAYS: '90', ...KEYS_ENV });
    expect(cfg.port).toBe(4100);
    expect(cfg.app).toMatchObject({ stepUpMaxAge: 60, secureCookies: true, keys: KEYS, auditRetentionDays: 90 });
    expect(cfg.summary).toContain('audit log: events kept 90 days');
    expect(() => configFromEnv({ DATA_DIR: dir, AUDIT_RETENTION_DAYS: '0', ...KEYS_ENV })).toThrow(/AUDIT_RETENTION_DAYS must be a positive integer/);
    // Dev mode only by an explicit setting: without SMS_DEV_MODE there is no SMS (and no code on any page).
    expect(cfg.app.devCodes).toBeUndefined();
    expect(cfg.app.sms).toBeUndefined();
    const dev = configFromEnv({ DATA_DIR: dir, SMS_DEV_MODE: 'true', ...KEYS_ENV });
    expect(dev.app.devCodes).toBeDefined();
    expect(dev.summary).toContain('SMS: console sender in dev mode (SMS_DEV_MODE=true: codes are shown on the page, never sent)');
    expect(configFromEnv({ DATA_DIR: dir, SMS_DEV_MODE: 'true', NODE_ENV: 'production', ...KEYS_ENV }).app.devCodes).toBeUndefined();
    expect(() => configFromEnv({ DATA_DIR: dir, PORT: 'abc', ...KEYS_ENV })).toThrow(/PORT must be a positive integer/);
    const twilio = configFromEnv({
      DATA_DIR: dir, ...KEYS_ENV, TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 'token', TWILIO_FROM: '+15005550006',
    });
    expect(twilio.app.devCodes).toBeUndefined();
    expect(twilio.summary).toContain('SMS: Twilio (from +15005550006)');
    const prod = configFromEnv({ DATA_DIR: dir, NODE_ENV: 'production', ...KEYS_ENV });
    expect(prod.app.sms).toBeUndefined();
    expect(prod.app.auditRetentionDays).toBe(365);
    expect(prod.app.secureCookies).toBe(true);
    return Promise.all([cfg, dev, twilio, prod].map((c) => c.app.knex.destroy()));
  });
});

const KEYS_ENV = { MFA_ENCRYPTION_KEY: KEYS.mfaEncryptionKey, MFA_SIGNING_KEY: KEYS.mfaSigningKey, SESSION_SECRET: KEYS.sessionSecret };

describeWithService('PostgreSQL and Redis', `${POSTGRES_URL} + ${REDIS_URL}`)('example app: DATABASE_URL and REDIS_URL', () => {
  const schema = `example_${process.pid}_${Date.now()}`;
  let admin: Knex;
  beforeAll(async () => {
    admin = knexFactory({ client: 'pg', connection: POSTGRES_URL });
    await admin.raw('CREATE SCHEMA ??', [schema]);
  });
  afterAll(async () => {
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin.destroy();
  });

  it('stores users and factors in PostgreSQL and challenges in Redis', async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const cfg = configFromEnv({ DATABASE_URL: url.toString(), REDIS_URL, BCRYPT_COST: '4', ...KEYS_ENV });
    expect(cfg.summary[0]).toMatch(/^database: PostgreSQL/);
    expect(cfg.summary[1]).toMatch(/^short-lived MFA state: Redis/);
    const clock = fakeClock(Date.now());
    const example = createApp({ ...cfg.app, clock: clock.now });
    try {
      await example.migrate();
      const h: Harness = { example, clock, agent: request.agent(example.app) };
      await registerAndLogin(h);
      const { secret } = await enableTotp(h);
      await json(h.agent, 'post', '/logout');
      const c = await loginChallenge(h);
      await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: totp(secret, clock.now()) }).expect(200);
      const users = await admin.withSchema(schema).table('users').count<{ count: string }[]>('* as count');
      expect(Number(users[0]!.count)).toBe(1);
      const factors = await admin.withSchema(schema).table('mfa_factors').count<{ count: string }[]>('* as count');
      expect(Number(factors[0]!.count)).toBe(1);
      // The challenge lived in Redis, not in the SQL challenges table.
      const challenges = await admin.withSchema(schema).table('mfa_challenges').count<{ count: string }[]>('* as count');
      expect(Number(challenges[0]!.count)).toBe(0);
    } finally {
      await example.close();
    }
  });
});

describe('example app: nothing secret reaches the logs or later responses (SEC-01, SEC-05)', () => {
  it('a full flow writes no secret, code, token or password to stdout/stderr/console, and no later response repeats the secret', async () => {
    const logged: string[] = [];
    const capture = (chunk: unknown) => { logged.push(String(chunk)); return true; };
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture as never),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture as never),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => jest.spyOn(console, m).mockImplementation((...a: unknown[]) => { logged.push(a.map(String).join(' ')); })),
    ];
    const sms = devSmsSender((line) => logged.push(line));
    const h = await start({ sms });
    const secrets: string[] = [PASSWORD];
    const laterBodies: string[] = [];
    try {
      await registerAndLogin(h);
      const { secret, backupCodes } = await enableTotp(h);
      secrets.push(secret, ...backupCodes);
      await json(h.agent, 'post', '/logout').expect(200);
      const c1 = await loginChallenge(h);
      secrets.push(c1.challengeToken);
      const code = totp(secret, h.clock.now());
      secrets.push(code);
      const wrong = await json(h.agent, 'post', '/mfa/verify', { challengeToken: c1.challengeToken, method: 'totp', code: code === '000000' ? '111111' : '000000' });
      laterBodies.push(wrong.text);
      const ok = await json(h.agent, 'post', '/mfa/verify', { challengeToken: c1.challengeToken, method: 'totp', code, trustDevice: true }).expect(200);
      laterBodies.push(ok.text);
      for (const c of (ok.headers['set-cookie'] as unknown as string[]) ?? []) secrets.push(c.split(';')[0]!.split('=').slice(1).join('='));
      const replay = await json(h.agent, 'post', '/mfa/step-up', { code });
      laterBodies.push(replay.text);
      const status = await h.agent.get('/mfa/status').expect(200);
      laterBodies.push(status.text);
      const settings = await h.agent.get('/settings');
      laterBodies.push(settings.text);
      const phone = await json(h.agent, 'post', '/mfa/sms/setup', { phone: '+14155550123', code: backupCodes[0] });
      laterBodies.push(phone.text);
      const devCode = sms.lastCodeTo('+14155550123');
      if (devCode) secrets.push(devCode);
    } finally {
      for (const s of spies) s.mockRestore();
      h.example.close();
    }
    const everything = logged.join('\n');
    for (const s of secrets.filter((x) => x && x.length >= 6)) expect(everything).not.toContain(s);
    for (const body of laterBodies) expect(body).not.toContain(secrets[1]!); // the TOTP secret is never shown again
    expect(logged.some((l) => /code sent to \+1 ••• ••• 0123/.test(l))).toBe(true); // the capture really saw the sender's line
  });
});

describe('example app: hardening (#9)', () => {
  it('logs an unexpected error with a code and a cleaned message, never the bound values', async () => {
    const lines: string[] = [];
    const h = await start({ log: (line) => lines.push(line) });
    try {
      await h.example.knex.schema.dropTable('users');
      const res = await json(h.agent, 'post', '/register', { email: 'carol@example.com', password: PASSWORD });
      expect(res.status).toBe(500);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^\[example\] unexpected error on POST \/register: SqliteError \[SQLITE_ERROR\]: no such table: users$/);
      expect(lines[0]).not.toMatch(/carol|\$2[aby]\$|insert/i);
    } finally {
      await h.example.close();
    }
  });

  it('an email with ":" enrols an authenticator app (encoded in the label, not refused); labels with bidi overrides are refused', async () => {
    const h = await start();
    try {
      await registerAndLogin(h, 'a:b@example.com');
      const setup = await json(h.agent, 'post', '/mfa/totp/setup', { label: 'Phone' }).expect(200);
      expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Acme:a%EA%9E%89b%40example\.com\?/);
      const bidi = await json(h.agent, 'post', '/mfa/totp/setup', { label: 'Phone\u202Eexe.gnp' }).expect(400);
      expect(bidi.body).toMatchObject({ code: 'invalid_request', field: 'label' });
    } finally {
      await h.example.close();
    }
  });

  it('an administrator unlocks a user whom 100 wrong codes locked, from the admin tools; others cannot', async () => {
    const h = await start({ adminEmails: ['admin@example.com'] });
    try {
      await registerAndLogin(h);
      const { secret } = await enableTotp(h);
      await json(h.agent, 'post', '/logout');
      // 100 consecutive wrong codes (the fake clock waits out each backoff) lock alice.
      for (let i = 0; i < 100; i++) {
        const c = await loginChallenge(h);
        const r = await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: '000000' });
        if (r.status === 429) {
          i--;
          h.clock.advance(Number(r.headers['retry-after']));
        }
      }
      let c = await loginChallenge(h);
      await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: totp(secret, h.clock.now()) }).expect(429);

      const admin = request.agent(h.example.app);
      await json(admin, 'post', '/register', { email: 'admin@example.com', password: PASSWORD }).expect(201);
      await json(admin, 'post', '/login', { email: 'admin@example.com', password: PASSWORD }).expect(200); // within the grace period
      const setup = await json(admin, 'post', '/mfa/totp/setup').expect(200);
      await json(admin, 'post', '/mfa/totp/confirm', { factorId: setup.body.factorId, code: totp(setup.body.secret, h.clock.now()) }).expect(200);
      h.clock.advance(30);
      // The admin tools need a fresh second factor of the admin (step-up), then they work.
      await admin.get('/admin/find-user?email=alice@example.com').expect(401);
      await json(admin, 'post', '/mfa/step-up', { code: totp(setup.body.secret, h.clock.now()) }).expect(200);
      expect((await admin.get('/admin').set('Accept', 'text/html')).text).toContain('id="user-search"');
      await admin.get('/admin/find-user?email=nobody@example.com').expect(404);
      const alice = (await admin.get('/admin/find-user?email=alice@example.com').expect(200)).body as { id: string; email: string };
      expect(alice.email).toBe('alice@example.com');
      const before = await admin.get(`/admin/mfa/users/${alice.id}`).expect(200);
      expect(before.body).toMatchObject({ userId: alice.id, enabled: true, locked: true });
      expect(before.body.events.some((e: { type: string }) => e.type === 'mfa.locked')).toBe(true);
      await json(admin, 'post', `/admin/mfa/users/${alice.id}/unlock`).expect(204);
      const after = await admin.get(`/admin/mfa/users/${alice.id}`).expect(200);
      expect(after.body.locked).toBe(false);
      expect(after.body.events[0]).toMatchObject({ type: 'mfa.unlocked', actor: expect.any(String), purpose: 'admin' });

      h.clock.advance(3600);
      c = await loginChallenge(h);
      await json(h.agent, 'post', '/mfa/verify', { challengeToken: c.challengeToken, method: 'totp', code: totp(secret, h.clock.now()) }).expect(200);

      // A user who is not an administrator cannot use the tools, even with a fresh second factor.
      await json(h.agent, 'post', '/mfa/step-up', { code: totp(secret, h.clock.now() + 30_000) }).expect(200);
      await json(h.agent, 'post', `/admin/mfa/users/${alice.id}/unlock`).expect(403);
      expect((await h.agent.get('/admin').set('Accept', 'text/html').expect(200)).text).not.toContain('id="user-search"');
    } finally {
      await h.example.close();
    }
  });
});
