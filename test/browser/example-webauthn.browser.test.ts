// test/browser/example-webauthn.browser.test.ts
// The example app's security-key pages in REAL Chromium (Debian `chromium` + playwright-core), with
// Chromium's own virtual authenticator (CDP `WebAuthn.*`: CTAP2, internal transport, resident keys,
// user verification) standing in for the person's passkey: a person registers, adds the key on the
// settings page (its only factor: backup codes are shown), cannot add the same key twice, signs in
// with password + key, steps up on /admin with the key, removes the key with the key itself as fresh
// proof, and signs in again with the password alone; on 127.0.0.1 instead of localhost the settings
// page says where keys work; an administrator past the policy's grace period enrols a key on the
// enrolment page at sign-in (#11). The authenticator's stored credential and its signature counter are
// checked against what the server keeps. Every new UI state is checked with axe-core (serious or
// critical findings fail) and saved to artifacts/screenshots/ (git-ignored).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import { createApp, type ExampleApp } from '../../examples/express-app/src/app';
import { browserSuite, CHROMIUM, expectAccessible } from './support/browser';

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'artifacts', 'screenshots');
const STEP_UP_MAX_AGE = 4; // seconds: short, so the step-up page is reached after a short wait
const EMAIL = 'grace@example.com';
const PASSWORD = 'hopper-1906-compiler';
const KEY_NAME = 'Laptop passkey';
const ADMIN = 'admin@example.com'; // an administrator (ADMIN_EMAILS) whose grace period is over

const describeBrowser = browserSuite({ withOtpTools: false });

interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  userHandle?: string;
  userName?: string;
  backupEligibility?: boolean;
  signCount: number;
}

describeBrowser('example app in Chromium: security keys and passkeys', () => {
  let example: ExampleApp;
  let server: http.Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  let shot = 0;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-browser-webauthn-'));
  const pageErrors: string[] = [];
  const a11yChecked = new Set<string>();
  /** Sign counts seen after each use of the key, in order. */
  const counts: number[] = [];

  const checkAccessibility = async (name: string) => {
    await expectAccessible(page, name);
    a11yChecked.add(name);
  };
  const screenshot = async (name: string, { fullPage = true } = {}) => {
    await checkAccessibility(name);
    shot += 1;
    await page.screenshot({ path: path.join(SCREENSHOTS, `webauthn-${String(shot).padStart(2, '0')}-${name}.png`), fullPage });
  };
  const signOut = async () => {
    await page.click('#logout');
    await page.waitForURL(`${base}/`);
  };
  const signInWithPassword = async () => {
    await page.goto(`${base}/login`);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
  };
  /** What the virtual authenticator holds. */
  const credentials = async (): Promise<VirtualCredential[]> =>
    ((await cdp.send('WebAuthn.getCredentials', { authenticatorId })) as { credentials: VirtualCredential[] }).credentials;
  /** What the server keeps of the key: its credential id (in the data; its SHA-256 is the factor's lookup key), user handle and signature counter. */
  const storedKey = async () => {
    const rows = await example.knex('mfa_factors').where({ type: 'webauthn', status: 'active' }).select('lookup_key', 'counter', 'label', 'data');
    return rows.map((r: { lookup_key: string; counter: number | string | null; label: string | null; data: string }) => {
      const data = JSON.parse(r.data) as { credentialId: string; userHandle: string };
      return { credentialId: data.credentialId, lookupKey: r.lookup_key, counter: r.counter === null ? null : Number(r.counter), label: r.label, userHandle: data.userHandle };
    });
  };
  /** The key was used once more: its counter advanced, and the server stored exactly that counter. */
  const expectKeyUsed = async () => {
    const [credential] = await credentials();
    const previous = counts.at(-1)!;
    expect(credential!.signCount).toBeGreaterThan(previous);
    counts.push(credential!.signCount);
    expect((await storedKey())[0]).toMatchObject({ counter: credential!.signCount });
  };

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    // The origin must be known before the app is built (it is configuration, never the request's),
    // so the port is taken first; http://localhost is a secure context, and `localhost` the rp id.
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://localhost:${(server.address() as AddressInfo).port}`;
    example = createApp({
      knex: knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(tmp, 'app.sqlite') }, useNullAsDefault: true }),
      keys: {
        mfaEncryptionKey: Buffer.alloc(32, 5).toString('base64'),
        mfaSigningKey: 'browser-webauthn-signing-key-at-least-32-chars',
        sessionSecret: 'browser-webauthn-session-secret-at-least-32-chars',
      },
      stepUpMaxAge: STEP_UP_MAX_AGE,
      bcryptCost: 4,
      webauthn: { rpId: 'localhost', origins: [base] },
      adminEmails: [ADMIN],
    });
    await example.migrate();
    server.on('request', example.app);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text()); });
    // The person's passkey: a platform authenticator (internal), discoverable credentials, user verification (PIN or biometrics) done.
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    }));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => { if (server) server.close(() => r()); else r(); });
    await example?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]); // no JavaScript error or CSP violation on any page
  });

  it('registers and signs in with the password; the settings page offers a security key', async () => {
    await page.goto(`${base}/register`);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#register-form button[type=submit]');
    await page.waitForURL(`${base}/login?registered=1`);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '#mfa-status', 'Off');
    await expectText(page, '#webauthn-card h2', 'Security key or passkey');
    expect(await page.isVisible('#webauthn-start')).toBe(true);
    expect(await page.isHidden('#webauthn-unsupported')).toBe(true);
    await screenshot('settings-key-card');
    expect(await credentials()).toEqual([]);
  }, 30_000);

  it('adds a passkey as the first factor: the browser creates a credential, the page shows backup codes once', async () => {
    await page.fill('#webauthn-label', KEY_NAME);
    await page.click('#webauthn-start');
    const dialog = page.locator('#backup-dialog');
    await dialog.waitFor({ state: 'visible' });
    expect(await page.locator('#backup-codes code').count()).toBe(10);
    await screenshot('key-backup-codes', { fullPage: false });
    await page.click('#backup-done');
    await dialog.waitFor({ state: 'hidden' });
    await expectText(page, '.alert[role=alert]', 'Security key added');
    await expectText(page, '#mfa-status', 'On');
    const item = page.locator('#factor-list li[data-type=webauthn]');
    await expectText(page, '#factor-list li[data-type=webauthn] strong', KEY_NAME);
    expect(await item.locator('.muted').textContent()).toMatch(/^Security key · added /);
    expect(await page.inputValue('#webauthn-label')).toBe(''); // the form is ready for another key
    await screenshot('settings-key-added');

    // The authenticator holds one discoverable credential for rp id localhost; the server stored its id (and its SHA-256 as the factor's lookup key).
    const held = await credentials();
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost', userName: EMAIL, backupEligibility: false });
    const stored = await storedKey();
    const bytes = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64');
    expect(stored).toEqual([{
      credentialId: bytes(held[0]!.credentialId).toString('base64url'),
      lookupKey: createHash('sha256').update(bytes(held[0]!.credentialId)).digest('base64url'),
      counter: held[0]!.signCount, label: KEY_NAME, userHandle: bytes(held[0]!.userHandle).toString('base64url'),
    }]);
    counts.push(held[0]!.signCount);
  }, 30_000);

  it('refuses to add the same key twice (the key proves it is you, then the browser refuses the duplicate)', async () => {
    await page.click('#webauthn-start');
    // MFA is on: adding a factor needs fresh proof — the dialog offers the key itself.
    await page.locator('#proof-dialog').waitFor({ state: 'visible' });
    expect(await page.isVisible('#proof-key')).toBe(true);
    await screenshot('proof-dialog-with-key', { fullPage: false });
    await page.click('#proof-key');
    await expectText(page, '.alert[role=alert]', 'This security key is already registered to your account.');
    expect(await page.isHidden('#proof-dialog')).toBe(true);
    await expectKeyUsed(); // the proof was an assertion of this key
    expect(await credentials()).toHaveLength(1); // excludeCredentials: no second credential was created
    expect(await page.locator('#factor-list li').count()).toBe(1);
  }, 30_000);

  it('signs out; signing in asks for the key after the password, and the key signs in', async () => {
    await signOut();
    await signInWithPassword();
    await page.waitForURL(`${base}/login/second-factor`);
    await expectText(page, '#method-tabs [aria-selected=true]', 'Security key');
    expect(await page.locator('#method-tabs button').allTextContents()).toEqual(['Security key', 'Backup code']);
    expect(await page.isHidden('#code')).toBe(true);
    await expectText(page, '#verify-submit', 'Use your security key');
    await screenshot('second-factor-key');
    // The backup-code tab still takes a code.
    await page.click('#method-tabs button[data-method=backup_code]');
    expect(await page.isVisible('#code')).toBe(true);
    await expectText(page, '#verify-submit', 'Verify');
    await page.click('#method-tabs button[data-method=webauthn]');
    await page.click('#verify-submit');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '#mfa-status', 'On');
    await expectKeyUsed();
    expect(await page.evaluate(() => sessionStorage.getItem('acme.mfaChallenge'))).toBeNull();
  }, 30_000);

  it('steps up with the key on /admin once the sign-in is older than maxAge', async () => {
    // Fresh from the key: /admin opens at once.
    await page.goto(`${base}/admin`);
    await expectText(page, 'h1', 'Admin area');
    // auth_time has whole-second precision and counts as fresh while (now − auth_time) ≤ maxAge: wait maxAge + 1 s.
    await page.waitForTimeout((STEP_UP_MAX_AGE + 1) * 1000 + 500);
    await page.goto(`${base}/admin`);
    await page.waitForURL(`${base}/step-up?next=%2Fadmin`);
    await expectText(page, '#step-up-key', 'Use your security key');
    await screenshot('step-up-key');
    await page.click('#step-up-key');
    await page.waitForURL(`${base}/admin`);
    await expectText(page, 'h1', 'Admin area');
    // RFC 8176: a hardware-bound key (the virtual authenticator is not backup eligible) that verified the user.
    expect(await page.textContent('.facts')).toMatch(/Methods \(amr\)\s*mfa, hwk, user/);
    await expectKeyUsed();
  }, 30_000);

  it('removes the key with the key itself as fresh proof; being the only factor, MFA is off', async () => {
    await page.goto(`${base}/settings`);
    await page.click('#factor-list li[data-type=webauthn] .remove-factor');
    await page.locator('#proof-dialog').waitFor({ state: 'visible' });
    await expectText(page, '#proof-title', `Remove “${KEY_NAME}”?`);
    await expectText(page, '#proof-message', 'This is your last factor');
    await page.click('#proof-key');
    await expectText(page, '.alert[role=alert]', 'Factor removed');
    await expectText(page, '#mfa-status', 'Off');
    expect(await page.locator('#factor-list li').count()).toBe(0);
    await screenshot('settings-key-removed');
    // The assertion was used as proof; the server no longer knows the credential (the authenticator still holds it).
    expect((await credentials())[0]!.signCount).toBeGreaterThan(counts.at(-1)!);
    expect(await storedKey()).toEqual([]);
  }, 30_000);

  it('signs in again with the password alone', async () => {
    await signOut();
    const before = (await credentials())[0]!.signCount;
    await signInWithPassword();
    await page.waitForURL(`${base}/settings`); // no second-factor page
    await expectText(page, '#mfa-status', 'Off');
    expect((await credentials())[0]!.signCount).toBe(before); // the key was not asked for
  }, 30_000);

  it('on another origin of the same server (127.0.0.1), the settings page says where keys work instead of failing', async () => {
    const other = base.replace('//localhost:', '//127.0.0.1:');
    await page.goto(`${other}/login`);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(`${other}/settings`);
    await expectText(page, '#webauthn-unsupported', `Security keys work on this site only at ${base}.`);
    expect(await page.isHidden('#webauthn-setup')).toBe(true);
    await screenshot('settings-key-other-origin');
  }, 30_000);

  it('an administrator past the grace period signs in and enrols a security key on the enrolment page, then is signed in (#11)', async () => {
    await page.goto(`${base}/settings`);
    await signOut();
    expect((await page.request.post(`${base}/register`, { data: { email: ADMIN, password: PASSWORD } })).status()).toBe(201);
    const adminId = ((await example.knex('users').where({ email: ADMIN }).first()) as { id: string }).id;
    await example.knex('policy_starts').insert({ user_id: adminId, since: new Date(Date.now() - 8 * 86_400_000).toISOString() });
    await page.goto(`${base}/login`);
    await page.fill('input[name=email]', ADMIN);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(`${base}/login/enroll`);
    expect(await page.isVisible('#enroll-totp')).toBe(true);
    expect(await page.locator('#enroll-choice button:visible').allTextContents()).toEqual(['Use a security key', 'Use an authenticator app']); // the key first
    await screenshot('enroll-key-choice');
    await page.click('#enroll-key');
    await page.locator('#enroll-done').waitFor({ state: 'visible' });
    expect(await page.locator('#backup-codes code').count()).toBe(10);
    await screenshot('enroll-key-backup-codes');
    await page.click('#enroll-continue');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '.who', ADMIN);
    await expectText(page, '#mfa-status', 'On');
    await expectText(page, '#factor-list li[data-type=webauthn] strong', 'Security key');
    // The authenticator now also holds the administrator's credential, made for this account name.
    expect((await credentials()).map((c) => c.userName).sort()).toEqual([ADMIN, EMAIL]);
  }, 30_000);

  it('checked each new security-key state with axe-core', () => {
    expect([...a11yChecked]).toEqual([
      'settings-key-card', 'key-backup-codes', 'settings-key-added', 'proof-dialog-with-key', 'second-factor-key', 'step-up-key', 'settings-key-removed', 'settings-key-other-origin',
      'enroll-key-choice', 'enroll-key-backup-codes',
    ]);
  });
});

async function expectText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: 10_000 });
}
