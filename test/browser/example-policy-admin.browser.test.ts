// test/browser/example-policy-admin.browser.test.ts
// The example's enforcement policy and admin tools (#11) in REAL Chromium (Debian `chromium` +
// playwright-core): an administrator past the grace period is walked through enrolment at sign-in
// (QR code → zbarimg → oathtool code → backup codes → signed in); a second administrator within the
// grace period sees the banner, sets up an app, steps up into /admin, reads the chart of the figures
// and resets the first one, whose next sign-in asks to enrol again. Every new page and state is
// checked with axe-core (serious or critical findings fail the step); screenshots go to
// artifacts/screenshots/ (git-ignored). The grace period's start is set in the example's own
// `policy_starts` table (8 days ago), as an operator's earlier ADMIN_EMAILS change would have.
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

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'artifacts', 'screenshots');
const ROOT = 'root@example.com'; // an administrator whose grace period is over
const OPS = 'ops@example.com'; // an administrator seen by the policy for the first time today
const PASSWORD = 'policy-and-admin-2026';
const DAY_MS = 86_400_000;


const describeBrowser = browserSuite({ withOtpTools: true });


describeBrowser('example app in Chromium: the admin policy and the admin tools', () => {
  let example: ExampleApp;
  let server: Server;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let root: Page; // the first administrator's browser
  let ops: Page; // the second administrator's browser
  let shot = 40;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-policy-'));
  const pageErrors: string[] = [];
  const a11yChecked = new Set<string>();
  let opsCode: () => Promise<string>;

  const checkAccessibility = async (page: Page, name: string) => {
    await expectAccessible(page, name);
    a11yChecked.add(name);
  };
  const screenshot = async (page: Page, name: string) => {
    await checkAccessibility(page, name);
    shot += 1;
    await page.screenshot({ path: path.join(SCREENSHOTS, `${shot}-${name}.png`), fullPage: true });
  };
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text()); });
    return page;
  };
  const signIn = async (page: Page, email: string) => {
    await page.goto(`${base}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
  };
  /** The secret of the QR code the page shows, read by zbarimg like a phone would. */
  const scanQr = async (page: Page, email: string) => {
    const qr = page.locator('#totp-qr');
    await qr.waitFor({ state: 'visible' });
    await page.waitForFunction(() => (document.querySelector('#totp-qr') as HTMLImageElement | null)?.complete === true);
    const src = (await qr.getAttribute('src'))!;
    const png = path.join(tmp, 'qr.png');
    fs.writeFileSync(png, Buffer.from(src.slice(src.indexOf(',') + 1), 'base64'));
    const uri = execFileSync('zbarimg', ['-q', '--raw', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    expect(uri.startsWith(`otpauth://totp/Acme:${encodeURIComponent(email)}?`)).toBe(true);
    const secret = new URL(uri).searchParams.get('secret')!;
    expect((await page.textContent('#totp-secret'))!.replace(/\s/g, '')).toBe(secret);
    return secret;
  };
  /** At sign-in, on the enrolment page: an authenticator app, its backup codes, then signed in. */
  const enrolAtSignIn = async (page: Page, email: string, shotName?: string) => {
    await page.waitForURL(`${base}/login/enroll`);
    await expectText(page, 'h1', 'Set up two-step verification');
    if (shotName) await screenshot(page, shotName);
    await page.click('#enroll-totp');
    const secret = await scanQr(page, email);
    if (shotName) await screenshot(page, `${shotName}-qr`);
    const code = totpSource(secret);
    const current = execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
    await page.fill('#totp-code', current === '000000' ? '111111' : '000000');
    await page.click('#enroll-confirm button[type=submit]');
    await expectText(page, '.alert[role=alert]', "That code didn't work");
    await page.fill('#totp-code', await code());
    await page.click('#enroll-confirm button[type=submit]');
    await page.locator('#enroll-done').waitFor({ state: 'visible' });
    const codes = await page.locator('#backup-codes code').allTextContents();
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[\w-]{8,}$/);
    if (shotName) await screenshot(page, `${shotName}-backup-codes`);
    await page.click('#enroll-continue');
    await page.waitForURL(`${base}/settings`);
    await expectText(page, '.who', email);
    await expectText(page, '#mfa-status', 'On');
    expect(await page.locator('#mfa-banner').count()).toBe(0);
    // Shown once: the codes are on no later page.
    expect(await page.content()).not.toContain(codes[0]!);
    return secret;
  };

  beforeAll(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    example = createApp({
      knex: knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(tmp, 'app.sqlite') }, useNullAsDefault: true }),
      keys: {
        mfaEncryptionKey: Buffer.alloc(32, 5).toString('base64'),
        mfaSigningKey: 'policy-browser-signing-key-at-least-32-chars',
        sessionSecret: 'policy-browser-session-secret-at-least-32-chars',
      },
      adminEmails: [ROOT, OPS],
      bcryptCost: 4,
    });
    await example.migrate();
    await new Promise<void>((resolve) => { server = example.app.listen(0, '127.0.0.1', () => resolve()); });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
    root = await newPage();
    ops = await newPage();
    for (const [page, email] of [[root, ROOT], [ops, OPS]] as const) {
      const r = await page.request.post(`${base}/register`, { data: { email, password: PASSWORD } });
      expect(r.status()).toBe(201);
    }
    // root became an administrator 8 days ago: the 7-day grace period is over.
    const rootId = ((await example.knex('users').where({ email: ROOT }).first()) as { id: string }).id;
    await example.knex('policy_starts').insert({ user_id: rootId, since: new Date(Date.now() - 8 * DAY_MS).toISOString() });
  }, 30_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await new Promise<void>((r) => { if (server) server.close(() => r()); else r(); });
    await example?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]); // no JavaScript error or CSP violation on any page
  });

  it('an admin past the grace period signs in: enrols an app (QR → oathtool), sees the backup codes once, is signed in', async () => {
    await signIn(root, ROOT);
    await enrolAtSignIn(root, ROOT, 'enroll');
  }, 90_000);

  it('an admin within the grace period sees the banner with the deadline, until an app is set up', async () => {
    await signIn(ops, OPS);
    await ops.waitForURL(`${base}/settings`);
    const banner = ops.locator('#mfa-banner');
    await expectText(ops, '#mfa-banner', 'Set up two-step verification by');
    const deadline = Date.parse((await banner.locator('time').getAttribute('datetime'))!);
    expect(Math.abs(deadline - (Date.now() + 7 * DAY_MS))).toBeLessThan(60_000);
    expect(await banner.locator('time').textContent()).toBe(new Date(deadline).toLocaleDateString('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' }));
    await screenshot(ops, 'grace-banner');
    await ops.goto(`${base}/`);
    await expectText(ops, '#mfa-banner', 'Set up two-step verification by');

    await ops.goto(`${base}/settings`);
    await ops.click('#totp-start');
    opsCode = totpSource(await scanQr(ops, OPS));
    await ops.fill('#totp-code', await opsCode());
    await ops.click('#totp-confirm button[type=submit]');
    await ops.locator('#backup-dialog').waitFor({ state: 'visible' });
    await ops.click('#backup-done');
    await expectText(ops, '#mfa-status', 'On');
    await ops.reload();
    await expectText(ops, '#mfa-status', 'On');
    expect(await ops.locator('#mfa-banner').count()).toBe(0);
  }, 60_000);

  it('the second admin steps up into /admin, reads the chart, and resets the first admin, who must enrol again at the next sign-in', async () => {
    await ops.goto(`${base}/admin`);
    await ops.waitForURL(`${base}/step-up?next=%2Fadmin`);
    await ops.fill('#step-up-code', await opsCode());
    await ops.click('#step-up-form button[type=submit]');
    await ops.waitForURL(`${base}/admin`);

    // The figures: one bar per day and series, as many as the days the chart covers and the table lists.
    const chart = ops.locator('svg#stats-chart');
    await chart.waitFor({ state: 'visible' });
    const days = Number(await chart.getAttribute('data-days'));
    expect(days).toBe(14);
    expect(await chart.locator('rect.bar-verifications').count()).toBe(days);
    expect(await chart.locator('rect.bar-failures').count()).toBe(days);
    expect(await ops.locator('details.figures tbody tr').count()).toBe(days);
    expect(await chart.locator('title#stats-chart-title').textContent()).toBe('Second-factor verifications and failures per day');
    const today = new Date().toISOString().slice(0, 10);
    // Today: at least ops's step-up verified (the bar's value is the table's figure).
    const todayBar = Number(await chart.locator(`rect.bar-verifications[data-day="${today}"]`).getAttribute('data-value'));
    expect(todayBar).toBeGreaterThanOrEqual(1);
    await ops.click('details.figures summary');
    const row = ops.locator('details.figures tbody tr', { hasText: today });
    expect(await row.locator('td').first().textContent()).toBe(String(todayBar));
    const box = await chart.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    await screenshot(ops, 'admin-tools');

    await ops.fill('#search-email', 'nobody@example.com');
    await ops.click('#user-search button[type=submit]');
    await expectText(ops, '.alert[role=alert]', 'No user with this email');
    await ops.fill('#search-email', ROOT);
    await ops.click('#user-search button[type=submit]');
    await expectText(ops, '#user-email', ROOT);
    await expectText(ops, '#user-status', 'On');
    await expectText(ops, '#user-factors', 'Authenticator app');
    await expectText(ops, '#user-events', 'Asked to set up');
    await expectText(ops, '#user-events', 'Factor confirmed');
    await screenshot(ops, 'admin-user');

    await ops.fill('#reset-reason', 'lost phone, identity checked by video call');
    await ops.click('#reset-form button[type=submit]');
    await expectText(ops, '.alert.success', `Two-step verification of ${ROOT} was reset`);
    await expectText(ops, '#user-status', 'Off');
    await expectText(ops, '#user-factors-empty', 'No second factor');
    const first = ops.locator('#user-events tbody tr').first();
    await expectText(ops, '#user-events tbody tr:first-child', 'Reset by an administrator');
    expect(await first.textContent()).toContain('\u201clost phone, identity checked by video call\u201d \u00b7 by you');
    await screenshot(ops, 'admin-user-reset');

    // root's next sign-in asks to enrol again (the grace period is long over).
    await root.click('#logout');
    await root.waitForURL(`${base}/`);
    await signIn(root, ROOT);
    await enrolAtSignIn(root, ROOT);
  }, 120_000);

  it('checked each new page and state with axe-core', () => {
    expect([...a11yChecked]).toEqual(expect.arrayContaining(['enroll', 'enroll-qr', 'enroll-backup-codes', 'grace-banner', 'admin-tools', 'admin-user', 'admin-user-reset']));
  });
});

async function expectText(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: 10_000 });
}
