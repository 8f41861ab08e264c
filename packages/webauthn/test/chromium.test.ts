// packages/webauthn/test/chromium.test.ts
// The plugin against REAL Chromium's WebAuthn (Debian `chromium` + playwright-core, CDP virtual
// authenticator): what a browser actually posts (`PublicKeyCredential.toJSON()`) passes the strict
// parseInput and verifies; excludeCredentials is honoured; the signature counter advances; the amr.
// Plugin level only: the HTTP flow in Chromium is the example app's browser test.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FactorRecord } from '@secondfactor/core';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import { Driver, testContext } from './support/harness';
import { describeNeeding } from '../../../test/support/services';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Real Chromium or nothing (the suites' rule: a failing suite in CI, one loud line and a skip elsewhere). */
const describeBrowser = describeNeeding(fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} (apt-get install chromium)`);

interface JsonCredentials {
  parseCreationOptionsFromJSON(json: unknown): CredentialCreationOptions['publicKey'];
  parseRequestOptionsFromJSON(json: unknown): CredentialRequestOptions['publicKey'];
}

/** navigator.credentials.create in the page, with the server's JSON options; the browser's own toJSON() back. */
function create(page: Page, options: PublicKeyCredentialCreationOptionsJSON): Promise<unknown> {
  return page.evaluate(async (json) => {
    const parse = PublicKeyCredential as unknown as JsonCredentials;
    try {
      const credential = (await navigator.credentials.create({ publicKey: parse.parseCreationOptionsFromJSON(json) })) as PublicKeyCredential;
      return credential.toJSON();
    } catch (error) {
      return { error: (error as Error).name };
    }
  }, options);
}

function get(page: Page, options: PublicKeyCredentialRequestOptionsJSON): Promise<unknown> {
  return page.evaluate(async (json) => {
    const parse = PublicKeyCredential as unknown as JsonCredentials;
    const credential = (await navigator.credentials.get({ publicKey: parse.parseRequestOptionsFromJSON(json) })) as PublicKeyCredential;
    return credential.toJSON();
  }, options);
}

describeBrowser('webauthn plugin with Chromium’s authenticator', () => {
  let server: http.Server;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><html lang="en"><title>webauthn</title><p>webauthn</p></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    // http://localhost is a secure context, so WebAuthn works without TLS; the rp id is localhost.
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    page = await browser.newPage();
    cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await page.goto(origin);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function authenticator(options: { transport: 'usb' | 'internal'; hasResidentKey: boolean }): Promise<string> {
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', ...options, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return authenticatorId;
  }

  test('a platform passkey (internal, resident key, user verified): register, exclude on re-register, two logins with an advancing counter', async () => {
    const id = await authenticator({ transport: 'internal', hasResidentKey: true });
    const { ctx } = testContext();
    const driver = new Driver(ctx, { rpId: 'localhost', rpName: 'Chromium test', origins: [origin], userVerification: 'required' });

    const s = await driver.setup('alice');
    const registration = await create(page, s.options);
    const confirmed = await driver.confirm(s.factor, registration, s.state);
    expect(confirmed.result).toMatchObject({ ok: true, data: { transports: expect.arrayContaining(['internal']) } });
    const factor = (confirmed as { factor: FactorRecord }).factor;

    // The browser honours excludeCredentials: the same authenticator refuses a second credential.
    const again = await driver.setup('alice');
    expect(again.options.excludeCredentials).toHaveLength(1);
    expect(await create(page, again.options)).toEqual({ error: 'InvalidStateError' });

    const counters: number[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await driver.challenge('alice');
      const assertion = await get(page, c.options);
      const result = await driver.verify('alice', assertion, c.state);
      expect(result).toMatchObject({ ok: true, factorId: factor.id, amr: expect.arrayContaining(['user']) });
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
      counters.push(credentials[0]!.signCount);
      if (result.ok && result.counter !== undefined) expect(result.counter).toBe(credentials[0]!.signCount);
    }
    expect(counters[1]).toBeGreaterThan(counters[0]!);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: id });
  }, 60_000);

  test('a USB security key (no resident key): register and log in; its assertion replayed is refused', async () => {
    const id = await authenticator({ transport: 'usb', hasResidentKey: false });
    const { ctx } = testContext();
    const driver = new Driver(ctx, { rpId: 'localhost', rpName: 'Chromium test', origins: [origin] });
    const s = await driver.setup('bob');
    const confirmed = await driver.confirm(s.factor, await create(page, s.options), s.state);
    expect(confirmed.result).toMatchObject({ ok: true, data: { transports: ['usb'], deviceType: 'singleDevice' } });

    const c = await driver.challenge('bob');
    const assertion = await get(page, c.options);
    expect(await driver.verify('bob', assertion, c.state)).toMatchObject({ ok: true, amr: ['hwk', 'user'] });
    expect(await driver.verify('bob', assertion, c.state)).toMatchObject({ ok: false, reason: 'replayed' });
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: id });
  }, 60_000);
});
