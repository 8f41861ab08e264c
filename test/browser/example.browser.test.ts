// test/browser/example.browser.test.ts
// The example app in REAL Chromium (Debian `chromium` + playwright-core): a person registers, turns on an
// authenticator app by scanning the QR code (zbarimg decodes the <img> the page shows, oathtool computes the
// codes), signs in with TOTP, with a backup code, on a trusted device, steps up on /admin, adds a phone
// (dev-mode SMS), and turns MFA off. A screenshot of each page goes to artifacts/screenshots/ (git-ignored),
// after axe-core checked that page (and its open dialog): any serious or critical violation fails the step.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createApp, type ExampleApp } from '../../examples/express-app/src/app';
import { browserSuite, CHROMIUM, expectAccessible, totpSource } from './support/browser';
import { devSmsSender } from '../../examples/express-app/src/dev-codes';

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'artifacts', 'screenshots');
const STEP_UP_MAX_AGE = 5; // seconds: short, so the "asks again" check waits only a moment
const EMAIL = 'ada@example.com';
const PASSWORD = 'lovelace-1815-analytical';


const describeBrowser = browserSuite({ withOtpTools: true });


describeBrowser('example app in Chromium', () => {
  let example: ExampleApp;
  let server: Server;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let shot = 0;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-browser-'));
  const pageErrors: string[] = [];
  const a11yChecked = new Set<string>();

  // State carried from step to step, like a person's phone and paper.
  let nextCode: () => Promise<string>;
  let backupCodes: string[] = [];

  const checkAccessibility = async (name: string) => {
    await expectAccessible(page, name);
    a11yChecked.add(name);
  };
  /** Saves artifacts/screenshots/NN-name.png (the whole page, or the viewport while a modal dialog is open), after an axe check. */
  const screenshot = async (name: string, { fullPage = true } = {}) => {
    await checkAccessibility(name);
    shot += 1;
    await page.screenshot({ path: path.join(SCREENSHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage });
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

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const devCodes = devSmsSender(() => undefined);
    example = createApp({
      knex: knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(tmp, 'app.sqlite') }, useNullAsDefault: true }),
      keys: {
        mfaEncryptionKey: Buffer.alloc(32, 3).toString('base64'),
        mfaSigningKey: 'browser-test-signing-key-at-least-32-chars',
        sessionSecret: 'browser-test-session-secret-at-least-32-chars',
      },
      stepUpMaxAge: STEP_UP_MAX_AGE,
      bcryptCost: 4,
      sms: devCodes,
      devCodes,
    });
    await example.migrate();
    await new Promise<void>((resolve) => { server = example.app.listen(0, '127.0.0.1', () => resolve()); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1180, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // A Content-Security-Policy violation would mean a page relies on inline script or style.
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text()); });
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

  it('registers and signs in with the password only (no MFA yet)', async () => {
    await page.goto(`${base}/no-such-page`);
    await expectText(page, 'h1', 'not found');
    await checkAccessibility('not-found');
    await page.goto(`${base}/`);
    await screenshot('home');
    await page.click('main a[href="/register"]');
    await page.waitForURL(`${base}/register`);
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await screenshot('register');
    await page.click('#register-form button[type=submit]');
    await page.waitForURL(`${base}/login?registered=1`);
    await expectText(page, '.alert.success', 'Account created');
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', 'not the password');
    await page.click('#login-form button[type=submit]');
    await expectText(page, '.alert[role=alert]', 'Invalid email or password');
    await page.fill('input[name=password]', PASSWORD);
    await screenshot('login');
    await page.click('#login-form button[type=submit]');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '#mfa-status', 'Off');
    await screenshot('settings-mfa-off');
  }, 30_000);

  it('turns on an authenticator app: QR code → zbarimg → otpauth URI → oathtool code; shows backup codes once', async () => {
    await page.click('#totp-start');
    const qr = page.locator('#totp-qr');
    await qr.waitFor({ state: 'visible' });
    await page.waitForFunction(() => (document.querySelector('#totp-qr') as HTMLImageElement | null)?.complete === true);
    await screenshot('settings-totp-qr');

    const src = (await qr.getAttribute('src'))!;
    expect(src).toMatch(/^data:image\/png;base64,/);
    const png = path.join(tmp, 'qr.png');
    fs.writeFileSync(png, Buffer.from(src.slice(src.indexOf(',') + 1), 'base64'));
    const uri = execFileSync('zbarimg', ['-q', '--raw', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    expect(uri).toMatch(/^otpauth:\/\/totp\/Acme:ada%40example\.com\?/);
    const parsed = new URL(uri);
    const secret = parsed.searchParams.get('secret')!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(parsed.searchParams.get('issuer')).toBe('Acme');
    // The manual key on the page is the same secret.
    expect((await page.textContent('#totp-secret'))!.replace(/\s/g, '')).toBe(secret);

    nextCode = totpSource(secret);
    await page.fill('#totp-code', await nextCode());
    await page.click('#totp-confirm button[type=submit]');

    const dialog = page.locator('#backup-dialog');
    await dialog.waitFor({ state: 'visible' });
    backupCodes = await page.locator('#backup-codes code').allTextContents();
    expect(backupCodes).toHaveLength(10);
    await screenshot('backup-codes', { fullPage: false });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#backup-download')]);
    expect(download.suggestedFilename()).toBe('acme-backup-codes.txt');
    const saved = fs.readFileSync((await download.path())!, 'utf8');
    for (const code of backupCodes) expect(saved).toContain(code);
    await page.click('#backup-copy');
    await expectText(page, '#backup-copy', 'Copied');
    await page.click('#backup-done');
    await dialog.waitFor({ state: 'hidden' });

    await expectText(page, '#mfa-status', 'On');
    await expectText(page, '#factor-list', 'Authenticator app');
    await expectText(page, '#backup-remaining', '10 of 10');
    // Shown once: after a reload, neither the secret nor the codes are on the page.
    await page.reload();
    await expectText(page, '#mfa-status', 'On');
    const html = await page.content();
    expect(html).not.toContain(secret);
    expect(html).not.toContain(backupCodes[0]!);
  }, 30_000);

  it('adds a phone: fresh proof first, then the texted code ("dev mode: your code is …")', async () => {
    await page.fill('#sms-phone', '+1 415 555 0123');
    await page.click('#sms-setup button[type=submit]');
    // MFA is on: adding a factor needs fresh proof (here a backup code).
    await page.locator('#proof-dialog').waitFor({ state: 'visible' });
    await page.fill('#proof-code', backupCodes.shift()!);
    await screenshot('settings-proof-dialog', { fullPage: false });
    await page.click('#proof-submit');
    await expectText(page, '#sms-dev-code', 'dev mode: your code is');
    await screenshot('settings-add-phone');
    const code = (await page.textContent('#sms-dev-code'))!.match(/(\d{6})/)![1]!;
    await page.fill('#sms-code', code);
    await page.click('#sms-confirm button[type=submit]');
    await expectText(page, '#factor-list', 'Text message');
    await expectText(page, '#backup-remaining', '9 of 10');
  }, 30_000);

  it('signs out, and signing in now asks for the authenticator code', async () => {
    await signOut();
    await page.goto(`${base}/settings`);
    await page.waitForURL(/\/login\?next=%2Fsettings$/);
    await signInWithPassword();
    await page.waitForURL(`${base}/login/second-factor`);
    await expectText(page, '#method-tabs [aria-selected=true]', 'Authenticator');
    await screenshot('second-factor');
    await page.fill('#code', '000000');
    await page.click('#verify-form button[type=submit]');
    await expectText(page, '.alert[role=alert]', "That code didn't work");
    await page.fill('#code', await nextCode());
    await page.click('#verify-form button[type=submit]');
    await page.waitForURL(`${base}/settings`);
    // Fresh from the second factor: /admin opens at once (well within STEP_UP_MAX_AGE).
    await page.goto(`${base}/admin`);
    await expectText(page, 'h1', 'Admin area');
    await screenshot('admin');
  }, 60_000);

  it('signs in with a backup code and trusts this device; the next sign-in skips the second factor', async () => {
    await signOut();
    await signInWithPassword();
    await page.waitForURL(`${base}/login/second-factor`);
    await page.click('#method-tabs button[data-method=backup_code]');
    await page.fill('#code', backupCodes.shift()!);
    await page.check('#trust-device');
    await screenshot('second-factor-backup-code');
    await page.click('#verify-form button[type=submit]');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '#backup-remaining', '8 of 10');
    await expectText(page, '#device-list', 'This device');
    await screenshot('settings-trusted-device');

    await signOut();
    await signInWithPassword();
    await page.waitForURL(`${base}/settings`); // no second-factor page
    await expectText(page, '#mfa-status', 'On');
  }, 30_000);

  it('asks for a code on /admin (step-up), and again after maxAge', async () => {
    // Signed in on a trusted device: no second factor in this session yet.
    await page.goto(`${base}/admin`);
    await page.waitForURL(`${base}/step-up?next=%2Fadmin`);
    await expectText(page, 'h1', 'Confirm it');
    await screenshot('step-up');
    await page.fill('#step-up-code', await nextCode()); // may wait for the next 30 s step
    await page.click('#step-up-form button[type=submit]');
    await page.waitForURL(`${base}/admin`);
    await expectText(page, 'h1', 'Admin area');
    // secondfactor's router set the assertion as an HttpOnly cookie: the browser sends it, page script cannot read it.
    const assertionCookie = (await context.cookies(base)).find((c) => c.name === 'sf_mfa');
    expect(assertionCookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sf_mfa');

    // auth_time has whole-second precision and counts as fresh while (now − auth_time) ≤ maxAge: wait maxAge + 1 s.
    await page.waitForTimeout((STEP_UP_MAX_AGE + 1) * 1000 + 500);
    await page.goto(`${base}/admin`);
    await page.waitForURL(`${base}/step-up?next=%2Fadmin`);
    await page.fill('#step-up-code', backupCodes.shift()!);
    await page.click('#step-up-form button[type=submit]');
    await page.waitForURL(`${base}/admin`);
    await expectText(page, 'h1', 'Admin area');
  }, 60_000);

  it('revokes the trusted device, and signs in with a texted code (dev mode shows it)', async () => {
    await page.goto(`${base}/settings`);
    await page.click('#device-list .revoke-device');
    await expectText(page, '.alert[role=alert]', 'Device revoked');
    expect(await page.locator('#device-list li').count()).toBe(0);

    await signOut();
    await signInWithPassword();
    await page.waitForURL(`${base}/login/second-factor`);
    await page.click('#method-tabs button[data-method=sms]');
    await sendSmsCode(page, '#send-sms', '#dev-code');
    await expectText(page, '#sms-sent', 'Code sent to');
    await screenshot('second-factor-sms');
    const texted = (await page.textContent('#dev-code'))!.match(/(\d{6})/)![1]!;
    await page.fill('#code', texted);
    await page.click('#verify-form button[type=submit]');
    await page.waitForURL(`${base}/settings`);
  }, 60_000);

  it('removes the phone and regenerates the backup codes, each after a fresh code', async () => {
    await page.locator('#factor-list li[data-type=sms] .remove-factor').click();
    await page.locator('#proof-dialog').waitFor({ state: 'visible' });
    await page.fill('#proof-code', backupCodes.shift()!);
    await page.click('#proof-submit');
    await expectText(page, '.alert[role=alert]', 'Factor removed');
    expect(await page.locator('#factor-list li').count()).toBe(1);

    await page.click('#backup-regenerate');
    await page.locator('#proof-dialog').waitFor({ state: 'visible' });
    await page.fill('#proof-code', backupCodes.shift()!);
    await page.click('#proof-submit');
    await page.locator('#backup-dialog').waitFor({ state: 'visible' });
    const fresh = await page.locator('#backup-codes code').allTextContents();
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(backupCodes[0]);
    await page.click('#backup-done');
    await expectText(page, '#backup-remaining', '10 of 10');
    backupCodes = fresh;
  }, 30_000);

  it('turns MFA off after re-authentication with the password', async () => {
    await expectText(page, '#mfa-status', 'On');
    await page.fill('#disable-secret', 'wrong password');
    await page.click('#disable-form button[type=submit]');
    await expectText(page, '.alert[role=alert]', 'That password is not right');
    await page.fill('#disable-secret', PASSWORD);
    await page.click('#disable-form button[type=submit]');
    await expectText(page, '.alert[role=alert]', 'Two-factor authentication is off');
    await expectText(page, '#mfa-status', 'Off');
    expect(await page.locator('#factor-list li').count()).toBe(0);
    await screenshot('settings-mfa-disabled');

    await signOut();
    await signInWithPassword();
    await page.waitForURL(`${base}/settings`); // password only again
  }, 30_000);

  it('checked every page of the app with axe-core (serious or critical findings fail the step that found them)', () => {
    expect([...a11yChecked]).toEqual(expect.arrayContaining(['not-found', 'home', 'register', 'login', 'settings-mfa-off', 'settings-totp-qr', 'backup-codes', 'second-factor', 'admin', 'step-up', 'settings-proof-dialog']));
  });
});

/**
 * Clicks "Send code" and waits for the dev-mode code. The server allows one code per number per 30 s
 * window; if this click lands in the same window as the last send, the page says "Too many attempts"
 * and a person would try again a little later — so does this test.
 */
async function sendSmsCode(page: Page, button: string, devCode: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    await page.click(button);
    const outcome = await Promise.race([
      page.locator(devCode).filter({ hasText: 'dev mode' }).waitFor({ state: 'visible', timeout: 10_000 }).then(() => 'sent'),
      page.locator('.alert[role=alert]').filter({ hasText: 'Too many attempts' }).waitFor({ state: 'visible', timeout: 10_000 }).then(() => 'wait'),
    ]);
    if (outcome === 'sent') return;
    await page.waitForTimeout(30_000 - (Date.now() % 30_000) + 300);
  }
  throw new Error('no SMS code was sent');
}

async function expectText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: 10_000 });
}
