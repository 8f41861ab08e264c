// examples/express-app/test/security-keys.test.ts
// The example's security keys and passkeys at the server level: WEBAUTHN_RP_ID / WEBAUTHN_ORIGINS
// (defaults, parsing, refusals), the routes and pages that exist only when the factor is configured,
// the browser library served from the app's own origin, and the whole flow over HTTP — add a key,
// sign in with it, step up, remove it with it — with @secondfactor/webauthn's software
// authenticator in place of a browser (real Chromium: test/browser/example-webauthn.browser.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import request from 'supertest';
import { SoftAuthenticator } from '../../../packages/webauthn/test/support/soft-authenticator';
import { createApp, type AppConfig, type ExampleApp } from '../src/app';
import { simpleWebAuthnBundle, SIMPLEWEBAUTHN_BROWSER_URL } from '../src/browser-library';
import { configFromEnv, webauthnFromEnv } from '../src/config';

const KEYS = {
  mfaEncryptionKey: Buffer.alloc(32, 9).toString('base64'),
  mfaSigningKey: 'security-keys-test-signing-key-of-at-least-32-chars',
  sessionSecret: 'security-keys-test-session-secret-of-at-least-32-chars',
};
const KEYS_ENV = { MFA_ENCRYPTION_KEY: KEYS.mfaEncryptionKey, MFA_SIGNING_KEY: KEYS.mfaSigningKey, SESSION_SECRET: KEYS.sessionSecret };
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'alice@example.com';
const ORIGIN = 'http://localhost:3000';
const MAX_AGE = 300;
const SCRIPT_TAG = `<script src="${SIMPLEWEBAUTHN_BROWSER_URL}" defer></script>`;

function fakeClock(start = Date.UTC(2026, 0, 5, 9, 0, 10)) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => { t += seconds * 1000; } };
}

interface Harness {
  example: ExampleApp;
  clock: ReturnType<typeof fakeClock>;
  agent: ReturnType<typeof request.agent>;
}

async function start(overrides: Partial<AppConfig> = {}): Promise<Harness> {
  const clock = fakeClock();
  const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  const example = createApp({ knex, keys: KEYS, clock: clock.now, bcryptCost: 4, stepUpMaxAge: MAX_AGE, ...overrides });
  await example.migrate();
  return { example, clock, agent: request.agent(example.app) };
}

const json = (agent: ReturnType<typeof request.agent>, method: 'post' | 'delete', url: string, body: object = {}) =>
  agent[method](url).set('Content-Type', 'application/json').send(body);

async function registerAndLogin(h: Harness) {
  await json(h.agent, 'post', '/register', { email: EMAIL, password: PASSWORD }).expect(201);
  return json(h.agent, 'post', '/login', { email: EMAIL, password: PASSWORD }).expect(200);
}

describe('example app: WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS', () => {
  it('defaults to rp id localhost and the origin of PORT, so `pnpm start` works as is', () => {
    expect(webauthnFromEnv({}, 3000)).toEqual({ rpId: 'localhost', origins: ['http://localhost:3000'] });
    expect(webauthnFromEnv({ WEBAUTHN_RP_ID: '', WEBAUTHN_ORIGINS: '' }, 4100)).toEqual({ rpId: 'localhost', origins: ['http://localhost:4100'] });
    // Another rp id: its https origin unless told otherwise.
    expect(webauthnFromEnv({ WEBAUTHN_RP_ID: 'example.com' }, 3000)).toEqual({ rpId: 'example.com', origins: ['https://example.com'] });
  });

  it('reads a comma-separated list of exact origins on the rp id or its subdomains', () => {
    expect(webauthnFromEnv({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.com, https://login.example.com:8443,https://example.com' }, 3000))
      .toEqual({ rpId: 'example.com', origins: ['https://example.com', 'https://login.example.com:8443'] });
    expect(webauthnFromEnv({ WEBAUTHN_ORIGINS: 'http://localhost:5173' }, 3000)).toEqual({ rpId: 'localhost', origins: ['http://localhost:5173'] });
  });

  it.each([
    ['https://example.com', /WEBAUTHN_RP_ID must be a host name/],
    ['Example.com', /WEBAUTHN_RP_ID must be a host name/],
    ['example.com:443', /WEBAUTHN_RP_ID must be a host name/],
    ['example.com/login', /WEBAUTHN_RP_ID must be a host name/],
    ['127.0.0.1', /WEBAUTHN_RP_ID must be a host name/], // browsers refuse IP addresses as rp ids
  ])('refuses WEBAUTHN_RP_ID=%s', (rpId, message) => {
    expect(() => webauthnFromEnv({ WEBAUTHN_RP_ID: rpId }, 3000)).toThrow(message);
  });

  it.each([
    ['localhost', 'http://localhost:3000/', /"http:\/\/localhost:3000\/": an origin is scheme:\/\/host\[:port\]/],
    ['example.com', 'https://example.com/login', /an origin is scheme:\/\/host\[:port\]/],
    ['example.com', 'HTTPS://EXAMPLE.COM', /an origin is scheme:\/\/host\[:port\]/],
    ['example.com', 'example.com', /an origin is scheme:\/\/host\[:port\]/],
    ['example.com', 'http://example.com', /must be https:\/\/, except http:\/\/localhost/],
    ['localhost', 'http://127.0.0.1:3000', /must be https:\/\/, except http:\/\/localhost/],
    ['example.com', 'https://evil.example', /whose host is neither WEBAUTHN_RP_ID \(example\.com\) nor a subdomain of it/],
    ['example.com', 'https://notexample.com', /whose host is neither WEBAUTHN_RP_ID/],
    ['example.com', 'https://example.com,https://example.org', /"https:\/\/example\.org", whose host is neither/],
    ['example.com', ' , ', /WEBAUTHN_ORIGINS must list at least one origin/],
  ])('with WEBAUTHN_RP_ID=%s refuses WEBAUTHN_ORIGINS=%s', (rpId, origins, message) => {
    expect(() => webauthnFromEnv({ WEBAUTHN_RP_ID: rpId, WEBAUTHN_ORIGINS: origins }, 3000)).toThrow(message);
  });

  it('is part of the runtime configuration, printed at start, and refused there before anything is opened', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-example-keys-'));
    try {
      const cfg = configFromEnv({ DATA_DIR: dir, PORT: '4100', ...KEYS_ENV });
      expect(cfg.app.webauthn).toEqual({ rpId: 'localhost', origins: ['http://localhost:4100'] });
      expect(cfg.summary).toContain('security keys and passkeys: rp id localhost, origins http://localhost:4100');
      await cfg.app.knex.destroy();
      const custom = configFromEnv({ DATA_DIR: dir, WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.com,https://app.example.com', ...KEYS_ENV });
      expect(custom.app.webauthn).toEqual({ rpId: 'example.com', origins: ['https://example.com', 'https://app.example.com'] });
      // What the environment accepts, the plugin accepts too.
      const example = createApp({ ...custom.app, bcryptCost: 4 });
      expect(example.mfa.factorTypes.map((t) => t.type)).toEqual(['totp', 'webauthn', 'backup_code']);
      await example.close();
      expect(() => configFromEnv({ DATA_DIR: path.join(dir, 'never'), WEBAUTHN_ORIGINS: 'https://localhost.evil', ...KEYS_ENV })).toThrow(/WEBAUTHN_ORIGINS holds/);
      expect(fs.existsSync(path.join(dir, 'never'))).toBe(false); // refused before the SQLite file was made
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('example app: security keys on and off', () => {
  it('without the setting: no key routes, no browser library, and the settings page says so', async () => {
    const h = await start();
    try {
      expect(h.example.mfa.factorTypes.map((t) => t.type)).toEqual(['totp', 'backup_code']);
      await registerAndLogin(h);
      const setup = await json(h.agent, 'post', '/mfa/webauthn/setup', {});
      expect([setup.status, setup.body.code]).toEqual([404, 'not_found']);
      await h.agent.get(SIMPLEWEBAUTHN_BROWSER_URL).expect(404);
      const settings = await h.agent.get('/settings').expect(200);
      expect(settings.text).toContain('Security keys are not configured on this server.');
      expect(settings.text).not.toContain(SCRIPT_TAG);
      expect((await h.agent.get('/login/second-factor')).text).not.toContain(SCRIPT_TAG);
    } finally {
      await h.example.close();
    }
  });

  it('with it: the pages load @simplewebauthn/browser from this server (same origin, CSP unchanged), before app.js', async () => {
    const h = await start({ webauthn: { rpId: 'localhost', origins: [ORIGIN] } });
    try {
      const library = await request(h.example.app).get(SIMPLEWEBAUTHN_BROWSER_URL).expect(200).expect('Content-Type', /^text\/javascript/);
      expect(library.text).toBe(fs.readFileSync(simpleWebAuthnBundle(), 'utf8'));
      expect(library.text.startsWith('/* [@simplewebauthn/browser@14.0.0] */')).toBe(true);
      expect(library.text).toContain('SimpleWebAuthnBrowser');
      expect(library.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(library.headers['x-content-type-options']).toBe('nosniff');

      const second = await request(h.example.app).get('/login/second-factor').expect(200);
      expect(second.headers['content-security-policy']).toBe(
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
      );
      expect(second.text).toContain(`${SCRIPT_TAG}\n<script src="/app.js" defer></script>`);
      expect(second.text).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
      await registerAndLogin(h);
      const settings = await h.agent.get('/settings').expect(200);
      expect(settings.text).toContain(SCRIPT_TAG);
      expect(settings.text).toContain('id="webauthn-setup"');
      expect(settings.text).toContain('id="proof-key"');
    } finally {
      await h.example.close();
    }
  });
});

describe('example app: a security key over HTTP (software authenticator)', () => {
  let h: Harness;
  beforeEach(async () => { h = await start({ webauthn: { rpId: 'localhost', origins: [ORIGIN] } }); });
  afterEach(() => h.example.close());

  it('adds a key, signs in with it, steps up with it, and removes it with it', async () => {
    const key = new SoftAuthenticator({ transports: ['usb'] });
    await registerAndLogin(h);

    // Add: the options name this site (rp id and name from the configuration) and this user.
    const setup = await json(h.agent, 'post', '/mfa/webauthn/setup', { label: 'YubiKey' }).expect(200);
    expect(setup.body.options).toMatchObject({ rp: { id: 'localhost', name: 'Acme' }, user: { name: EMAIL }, excludeCredentials: [] });
    const confirm = await json(h.agent, 'post', '/mfa/webauthn/confirm', {
      factorId: setup.body.factorId, response: key.create(setup.body.options, { origin: ORIGIN }),
    }).expect(200);
    expect(confirm.body.factor).toMatchObject({ type: 'webauthn', label: 'YubiKey', kind: 'security key' });
    expect(confirm.body.backupCodes).toHaveLength(10); // the first factor
    const factorId = confirm.body.factor.id as string;

    // Sign in: the password, then the key.
    await json(h.agent, 'post', '/logout').expect(200);
    const login = await json(h.agent, 'post', '/login', { email: EMAIL, password: PASSWORD }).expect(200);
    expect(login.body).toMatchObject({ mfaRequired: true, methods: ['webauthn', 'backup_code'] });
    const challengeToken = login.body.challengeToken as string;
    const step = await json(h.agent, 'post', '/mfa/challenge/webauthn', { challengeToken }).expect(200);
    expect(step.body.options).toMatchObject({ rpId: 'localhost', allowCredentials: [{ id: key.credentials[0]!.id }] });
    // A page on another origin (a phishing proxy) relaying the same challenge: refused, no session.
    const phished = await json(h.agent, 'post', '/mfa/verify', { challengeToken, method: 'webauthn', response: key.get(step.body.options, { origin: 'https://acme.example' }) });
    expect(phished.status).toBe(401);
    expect(phished.headers['set-cookie']).toBeUndefined();
    const again = await json(h.agent, 'post', '/mfa/challenge/webauthn', { challengeToken }).expect(200);
    const verified = await json(h.agent, 'post', '/mfa/verify', { challengeToken, method: 'webauthn', response: key.get(again.body.options, { origin: ORIGIN }) }).expect(200);
    expect(verified.body).toEqual({ ok: true, redirect: '/settings' });
    await h.agent.get('/settings').expect(200);

    // Step up: after maxAge /admin sends the browser to the step-up page, which offers the key.
    h.clock.advance(MAX_AGE + 1);
    await h.agent.get('/admin').set('Accept', 'text/html').expect(303).expect('Location', '/step-up?next=%2Fadmin');
    const stepUpPage = await h.agent.get('/step-up?next=%2Fadmin').expect(200);
    expect(stepUpPage.text).toContain('id="step-up-key"');
    expect(stepUpPage.text).toContain(SCRIPT_TAG);
    const upStep = await json(h.agent, 'post', '/mfa/challenge/webauthn', {}).expect(200);
    await json(h.agent, 'post', '/mfa/step-up', { method: 'webauthn', response: key.get(upStep.body.options, { origin: ORIGIN }) }).expect(200);
    const admin = await h.agent.get('/admin').set('Accept', 'text/html').expect(200);
    expect(admin.text).toMatch(/Methods \(amr\)<\/dt><dd>mfa, hwk, user</);

    // Remove it with the key as fresh proof: the only factor, so MFA is off and the password alone signs in.
    const proofStep = await json(h.agent, 'post', '/mfa/challenge/webauthn', {}).expect(200);
    await json(h.agent, 'delete', `/mfa/factors/${factorId}`, { method: 'webauthn', response: key.get(proofStep.body.options, { origin: ORIGIN }) }).expect(204);
    expect((await h.agent.get('/mfa/status').expect(200)).body).toMatchObject({ enabled: false, factors: [] });
    await json(h.agent, 'post', '/logout').expect(200);
    expect((await json(h.agent, 'post', '/login', { email: EMAIL, password: PASSWORD }).expect(200)).body)
      .toEqual({ ok: true, redirect: '/settings', enrollment: { required: false, graceUntil: null, methods: ['totp', 'webauthn'] } });
  });

  it('the step-up page offers the key only to a user who has one; a backup code removes a key too', async () => {
    await registerAndLogin(h);
    expect((await h.agent.get('/step-up').expect(200)).text).not.toContain('id="step-up-key"');
    const key = new SoftAuthenticator();
    const setup = await json(h.agent, 'post', '/mfa/webauthn/setup', {}).expect(200);
    const confirm = await json(h.agent, 'post', '/mfa/webauthn/confirm', { factorId: setup.body.factorId, response: key.create(setup.body.options, { origin: ORIGIN }) }).expect(200);
    expect(confirm.body.factor).toMatchObject({ label: 'Security key' }); // the plugin's default name
    expect((await h.agent.get('/step-up').expect(200)).text).toContain('id="step-up-key"');
    // Removing needs fresh proof: none is refused, a backup code is enough.
    await json(h.agent, 'delete', `/mfa/factors/${confirm.body.factor.id}`, {}).expect(403);
    await json(h.agent, 'delete', `/mfa/factors/${confirm.body.factor.id}`, { code: confirm.body.backupCodes[0] }).expect(204);
    const page = await h.agent.get('/step-up').expect(200);
    expect(page.text).toContain('Two-factor authentication required');
    expect(page.text).not.toContain('id="step-up-key"');
    expect(page.text).not.toContain(SCRIPT_TAG);
  });

  it('an administrator past the grace period enrols a security key at sign-in (the enrolment page\'s key path), never SMS', async () => {
    const admin = await start({ webauthn: { rpId: 'localhost', origins: [ORIGIN] }, adminEmails: [EMAIL], sms: { send: async () => undefined } });
    try {
      await registerAndLogin(admin); // the policy's first sight of the admin: the grace period starts
      await json(admin.agent, 'post', '/logout');
      admin.clock.advance(7 * 86_400 + 1);
      const enrol = await json(admin.agent, 'post', '/login', { email: EMAIL, password: PASSWORD }).expect(200);
      expect(enrol.body).toMatchObject({ mfaEnrollmentRequired: true });
      expect([...enrol.body.methods].sort()).toEqual(['totp', 'webauthn']);
      const { enrollmentToken } = enrol.body as { enrollmentToken: string };
      const sms = await json(admin.agent, 'post', '/mfa/sms/setup', { enrollmentToken, phone: '+14155550123' }).expect(400);
      expect(sms.body).toMatchObject({ code: 'invalid_request', field: 'method' });
      expect((await admin.agent.get('/login/enroll').expect(200)).text).toContain(SCRIPT_TAG); // the page can use keys

      const key = new SoftAuthenticator();
      const setup = await json(admin.agent, 'post', '/mfa/webauthn/setup', { enrollmentToken }).expect(200);
      expect(setup.body.options.user.name).toBe(EMAIL); // the account name from the users table (no session yet)
      const done = await json(admin.agent, 'post', '/mfa/webauthn/confirm', { enrollmentToken, factorId: setup.body.factorId, response: key.create(setup.body.options, { origin: ORIGIN }) }).expect(200);
      expect(done.body).toEqual({ ok: true, redirect: '/settings', backupCodes: expect.any(Array) });
      expect((await admin.agent.get('/mfa/status').expect(200)).body).toMatchObject({ enabled: true, factors: [expect.objectContaining({ type: 'webauthn' })] });
      expect((await admin.agent.get('/settings').expect(200)).text).not.toContain('id="mfa-banner"');
    } finally {
      await admin.example.close();
    }
  });
});
