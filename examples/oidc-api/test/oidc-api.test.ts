// examples/oidc-api/test/oidc-api.test.ts
// End to end: a real OpenID Connect provider (oidc-provider, its own process on loopback), a real
// client (openid-client: authorization code + PKCE, the provider's login and consent driven over
// HTTP) and the example API, which validates the JWT access token with jose's createRemoteJWKSet
// and adds TOTP, an MFA-gated API session and step-up on top of the provider's login.
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import Knex, { type Knex as KnexType } from 'knex';
import * as oidc from 'openid-client';
import { SignJWT, generateKeyPair } from 'jose';
import { generateTotp } from '@secondfactor/core';
import { knexStore, migrate } from '@secondfactor/knex';
import { HttpClient } from '../../../test/support/http-client';
import { createApi } from '../src/app';

const AUDIENCE = 'https://api.example.test';
const REDIRECT_URI = 'http://127.0.0.1/callback';
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };

let provider: ChildProcess;
let issuer: string;
let knex: KnexType;
let server: Server;
let api: string;
let now = Date.now();
const clock = () => now;
const totp = (secret: string, offsetSteps = 0) => generateTotp(secret, now + offsetSteps * 30_000, P);

function startProvider(): Promise<string> {
  return new Promise((resolve, reject) => {
    provider = spawn(process.execPath, [join(__dirname, 'provider.mjs')], {
      env: { ...process.env, PORT: '0', API_AUDIENCE: AUDIENCE, REDIRECT_URI },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    provider.stderr!.on('data', (d) => (out += String(d)));
    const timer = setTimeout(() => {
      provider.kill('SIGKILL');
      reject(new Error(`provider did not start in 45 s: ${out}`));
    }, 45_000);
    provider.stdout!.on('data', (d) => {
      const m = /ISSUER (\S+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    provider.once('exit', (code) => reject(new Error(`provider exited (${code}): ${out}`)));
  });
}

/** What a real app does: discovery, PKCE, the user signs in and consents at the provider, code → tokens. */
async function signInAtProvider(login: string, password = 'wonderland') {
  const config = await oidc.discovery(new URL(issuer), 'api-client', { token_endpoint_auth_method: 'none' }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid api:read api:write',
    resource: AUDIENCE,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
  });
  // The browser's part, over plain HTTP: follow redirects, post the login and consent forms.
  const browser = new HttpClient();
  let location = authUrl.href;
  for (let hop = 0; hop < 12 && !location.startsWith(REDIRECT_URI); hop++) {
    const page = await browser.get(location);
    if (page.status === 303 || page.status === 302) {
      location = new URL(page.headers.get('location')!, issuer).href;
      continue;
    }
    if (page.status !== 200) throw new Error(`provider answered ${page.status} at ${location}: ${String(page.body).replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").slice(0, 600)}`);
    const step = page.body as { uid: string; prompt: string };
    const action = step.prompt === 'login' ? 'login' : 'confirm';
    const posted = await browser.post(`${issuer}/interaction/${step.uid}/${action}`, new URLSearchParams(step.prompt === 'login' ? { login, password } : {}));
    expect(posted.status).toBe(303);
    location = new URL(posted.headers.get('location')!, issuer).href;
  }
  expect(location.startsWith(REDIRECT_URI)).toBe(true);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: codeVerifier, expectedState: state });
  return { accessToken: tokens.access_token, idToken: tokens.id_token! };
}

beforeAll(async () => {
  issuer = await startProvider();
  knex = Knex({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
  await migrate(knex);
  const { app } = createApi({
    issuer, audience: AUDIENCE, jwksUri: `${issuer}/jwks`,
    store: knexStore(knex),
    keys: { mfaEncryptionKey: Buffer.alloc(32, 3).toString('base64'), mfaSigningKey: 'oidc-api-test-signing-key-0123456789abcdef' },
    secureCookies: false, clock, bcryptCost: 4,
  });
  await new Promise<void>((r) => { server = app.listen(0, '127.0.0.1', () => r()); });
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await knex?.destroy();
  if (provider && provider.exitCode === null) {
    await new Promise((r) => { provider.once('exit', r); provider.kill('SIGTERM'); });
  }
});

describe('oidc-api example: a provider-issued JWT, then secondfactor', () => {
  let alice: { accessToken: string; idToken: string };
  let bob: { accessToken: string; idToken: string };

  beforeAll(async () => {
    alice = await signInAtProvider('alice');
    bob = await signInAtProvider('bob');
  }, 30_000);

  test('the access token is a provider-signed at+jwt for this API; the API refuses anything else', async () => {
    const header = JSON.parse(Buffer.from(alice.accessToken.split('.')[0], 'base64url').toString());
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const c = new HttpClient({ authorization: `Bearer ${alice.accessToken}` });
    const ok = await c.get(`${api}/api/profile`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ sub: 'alice', mfa: null });

    expect((await new HttpClient().get(`${api}/api/profile`)).status).toBe(401);
    // The ID token is signed by the same provider but is not an access token (typ, aud).
    expect((await new HttpClient({ authorization: `Bearer ${alice.idToken}` }).get(`${api}/api/profile`)).status).toBe(401);
    // Same claims, signed by a key the provider never published.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'alice', scope: 'api:read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid })
      .setIssuer(issuer).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const refused = await new HttpClient({ authorization: `Bearer ${forged}` }).get(`${api}/api/profile`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });

  test('enrol TOTP → the API session needs the second factor → step-up for payouts', async () => {
    const c = new HttpClient({ authorization: `Bearer ${alice.accessToken}` });
    // Without a second factor: the session starts with the provider's token alone; payouts need MFA.
    expect((await c.post(`${api}/api/session`)).body).toEqual({ session: 'started', sub: 'alice', amr: [] });
    expect((await c.post(`${api}/api/payouts`, { amount: 100 })).status).toBe(401);

    const setup = await c.post(`${api}/mfa/totp/setup`, {});
    expect(setup.status).toBe(200);
    expect(setup.body.otpauthUri).toContain('secret=');
    const confirm = await c.post(`${api}/mfa/totp/confirm`, { factorId: setup.body.factorId, code: await totp(setup.body.secret, -1) });
    expect(confirm.status).toBe(200);
    expect(confirm.body.backupCodes).toHaveLength(10);
    const secret = setup.body.secret as string;

    // Now the provider's token alone no longer opens the API.
    const noSession = new HttpClient({ authorization: `Bearer ${alice.accessToken}` });
    expect((await noSession.get(`${api}/api/profile`)).status).toBe(401);
    const gate = await noSession.post(`${api}/api/session`);
    expect(gate.status).toBe(200);
    expect(gate.body).toMatchObject({ mfaRequired: true, methods: expect.arrayContaining(['totp']) });
    // Bob's token cannot finish Alice's challenge.
    const bobClient = new HttpClient({ authorization: `Bearer ${bob.accessToken}` });
    const wrongUser = await bobClient.post(`${api}/mfa/verify`, { challengeToken: gate.body.challengeToken, method: 'backup_code', code: confirm.body.backupCodes[0] });
    expect(wrongUser.status).toBe(403);
    expect(wrongUser.setCookies).toEqual([]);
    expect(bobClient.cookies.has('sf_mfa')).toBe(false);

    const gate2 = await noSession.post(`${api}/api/session`);
    const verify = await noSession.post(`${api}/mfa/verify`, { challengeToken: gate2.body.challengeToken, method: 'totp', code: await totp(secret) });
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ session: 'started', sub: 'alice', amr: expect.arrayContaining(['otp']) });
    const profile = await noSession.get(`${api}/api/profile`);
    expect(profile.status).toBe(200);
    expect(profile.body.mfa.amr).toContain('otp');
    expect((await noSession.post(`${api}/api/payouts`, { amount: 100 })).status).toBe(201);

    // Alice's session cookie with Bob's token: not Bob's second factor.
    const mixed = new HttpClient({ authorization: `Bearer ${bob.accessToken}` });
    mixed.cookies.set('sf_mfa', noSession.cookies.get('sf_mfa')!);
    expect((await mixed.post(`${api}/api/payouts`, { amount: 100 })).status).toBe(401);

    // Ten minutes later the session still holds, but payouts want a fresh second factor.
    now += 600_000;
    expect((await noSession.get(`${api}/api/profile`)).status).toBe(200);
    const stale = await noSession.post(`${api}/api/payouts`, { amount: 100 });
    expect(stale.status).toBe(401);
    expect(stale.headers.get('www-authenticate')).toMatch(/insufficient_user_authentication.*max_age=300/);
    const stepUp = await noSession.post(`${api}/mfa/step-up`, { code: await totp(secret) });
    expect(stepUp.status).toBe(200);
    expect((await noSession.post(`${api}/api/payouts`, { amount: 100 })).status).toBe(201);

    // After the session's hour, the second factor is asked again.
    now += 3600_000;
    expect((await noSession.get(`${api}/api/profile`)).status).toBe(401);
  });
});
