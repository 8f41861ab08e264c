// Issue #9 (hardening) over HTTP: the attacks of the review, and the crash a new user hit.
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import knex from 'knex';
import request from 'supertest';
import { createMfa, type MfaStore } from '@secondfactor/core';
import { knexStore } from '@secondfactor/knex';
import { mfaGate, mfaRouter, requireMfa } from '../src';
import { KEY_1, SIGNING_KEY, setup } from '../../core/test/support/harness';
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode, oathtool, PASSWORDS, setCookies } from './support/host-app';
import { expectProblem } from './support/problems';

/** Waits (real time, at most 2 s) until `done()` holds: for work the router does after its answer. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
}

declare module 'express-session' {
  interface SessionData {
    userId: string;
  }
}

describe('#9.1 a dormant pending factor', () => {
  test('set up by an old session while MFA was off, it cannot be confirmed once the owner turned MFA on', async () => {
    const host = hostApp();
    // The attacker, holding an old session of alice, starts an email setup to their own address while MFA is off.
    const dormant = (await host.call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'mallory@example.net' } })).body as { factorId: string };
    const attackerCode = host.outbox.at(-1)!.code;
    // Alice turns MFA on with her own phone.
    const alice = await enrolTotpOverHttp(host, 'alice');
    // The attacker's confirm fails: the setup was dropped when alice's factor became active.
    const confirm = await host.call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: dormant.factorId, code: attackerCode } });
    expectProblem(confirm, 404, 'not_enrolled');
    // Nor can a new one be started or confirmed without fresh proof.
    expectProblem(await host.call('post', '/mfa/totp/setup', { user: 'alice', body: {} }), 403, 'mfa_required');
    const status = (await host.call('get', '/mfa/status', { user: 'alice' })).body as { factors: { id: string }[] };
    expect(status.factors.map((f) => f.id)).toEqual([alice.factorId]);
  });

  test('a setup made with a current code is confirmed with the new code alone', async () => {
    const host = hostApp();
    const alice = await enrolTotpOverHttp(host, 'alice');
    const setupRes = await host.call('post', '/mfa/totp/setup', { user: 'alice', body: { label: 'Tablet', code: nextCode(host, alice.secret) } });
    expect(setupRes.status).toBe(200);
    const { factorId, secret } = setupRes.body as { factorId: string; secret: string };
    expect((await host.call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId, code: oathtool(secret, host.clock.now()) } })).status).toBe(200);
  });
});

test('#9.3 requireMfa without getUserId is a setup error, and the README wiring refuses another user’s assertion', async () => {
  const { mfa } = setup();
  expect(() => requireMfa(mfa, { maxAge: 300 } as never)).toThrow(/option `getUserId` is required/);
  expect(() => (requireMfa as (m: unknown) => unknown)(mfa)).toThrow(/getUserId/);
  const host = hostApp();
  const mallory = (await host.mfa.assertions.issue('mallory', ['otp'])).assertion;
  expectProblem(await host.call('get', '/admin', { user: 'alice', headers: { Authorization: `Bearer ${mallory}` } }), 401, 'mfa_required');
});

describe('#9.4 password as proof for /disable', () => {
  test('by default a password does not turn MFA off', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    expectProblem(await host.call('post', '/mfa/disable', { user: 'alice', body: { password: PASSWORDS.alice } }), 403, 'mfa_required');
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(true);
  });

  test('opted in: wrong passwords are counted (429), emit failures, and nothing passes while locked', async () => {
    const host = hostApp({ router: { allowPasswordToDisable: true }, mfa: { limits: { lockAfterFailures: 7 } } });
    await enrolTotpOverHttp(host, 'alice');
    const disable = (password: string) => host.call('post', '/mfa/disable', { user: 'alice', body: { password } });
    for (let i = 0; i < 5; i++) expectProblem(await disable('guess-' + i), 401, 'invalid_code');
    const limited = await disable(PASSWORDS.alice!);
    expectProblem(limited, 429, 'too_many_attempts');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(host.events.filter((e) => e.type === 'mfa.failed' && e.factorType === 'password' && e.reason === 'invalid_code')).toHaveLength(5);
    // Wait out the backoff and keep guessing until the per-user lock; then the right password is refused.
    for (let i = 0; i < 2; i++) {
      host.clock.advance(3600);
      expectProblem(await disable('more-' + i), 401, 'invalid_code');
    }
    expect(host.events.some((e) => e.type === 'mfa.locked')).toBe(true);
    host.clock.advance(3600);
    expectProblem(await disable(PASSWORDS.alice!), 429, 'too_many_attempts');
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean; locked: boolean })).toMatchObject({ enabled: true, locked: true });
  });
});

test('#9.5 an attacker with the password cannot keep the real user out from another client', async () => {
  const host = hostApp();
  const { secret } = await enrolTotpOverHttp(host, 'alice');
  const attacker = { 'X-Forwarded-For': '198.51.100.7' };
  const app = express().set('trust proxy', true).use(host.app);
  for (let i = 0; i < 6; i++) {
    const token = await challengeFor(host, 'alice');
    await request(app).post('/mfa/verify').set(attacker).send({ challengeToken: token, method: 'totp', code: '000000' });
  }
  const refused = await request(app).post('/mfa/verify').set(attacker).send({ challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: '000000' });
  expectProblem(refused, 429, 'too_many_attempts');
  // No time passes: the attacker's client is still backing off, the real user's is not.
  const real = await request(app).post('/mfa/verify').set('X-Forwarded-For', '203.0.113.20')
    .send({ challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: oathtool(secret, host.clock.now()) });
  expect(real.status).toBe(200);
  const again = await request(app).post('/mfa/verify').set(attacker).send({ challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: '000000' });
  expectProblem(again, 429, 'too_many_attempts');
});

describe('#9.6 onLoginComplete owns the response', () => {
  test('express-session: regenerate(cb) then answering inside the callback works, and the server lives on', async () => {
    const h = setup();
    const app = express();
    app.use(session({ secret: 'test-session-secret-0123456789', resave: false, saveUninitialized: false, name: 'sid' }));
    app.use(express.json());
    app.use('/mfa', mfaRouter(h.mfa, {
      getUserId: (req: Request) => req.session.userId ?? (req.get('x-user') || undefined),
      onLoginComplete: (req, res, { userId, amr }) => {
        // The usual pattern: a new session id after the privilege change, answer in the callback.
        req.session.regenerate((err) => {
          if (err) {
            res.status(500).json({ error: 'session' });
            return;
          }
          req.session.userId = userId;
          req.session.save(() => res.status(200).json({ signedIn: userId, amr }));
        });
      },
    }));
    app.post('/login', (req, res, next) => {
      res.locals.userId = (req.body as { username: string }).username;
      next();
    }, mfaGate(h.mfa), (_req, res) => void res.json({ session: 'no-mfa' }));
    app.get('/me', (req, res) => void res.json({ userId: req.session.userId ?? null }));

    const enrol = await request(app).post('/mfa/totp/setup').set('x-user', 'alice').send({});
    const { factorId, secret } = enrol.body as { factorId: string; secret: string };
    expect((await request(app).post('/mfa/totp/confirm').set('x-user', 'alice').send({ factorId, code: oathtool(secret, h.clock.now()) })).status).toBe(200);
    h.clock.advance(30);

    const agent = request.agent(app);
    const gate = await agent.post('/login').send({ username: 'alice' });
    const { challengeToken } = gate.body as { challengeToken: string };
    const verify = await agent.post('/mfa/verify').send({ challengeToken, method: 'totp', code: oathtool(secret, h.clock.now()) });
    expect(verify.status).toBe(200);
    expect(verify.body).toEqual({ signedIn: 'alice', amr: ['mfa', 'otp'] });
    expect(String(verify.headers['set-cookie'])).toMatch(/^sid=/);
    // The process did not crash on a second answer, and the regenerated session is the login.
    await new Promise((r) => setTimeout(r, 50));
    expect((await agent.get('/me')).body).toEqual({ userId: 'alice' });
  });

  test('an onLoginComplete that fails later (rejected promise) gets a problem, not a crash', async () => {
    const host = hostApp({ router: { onLoginComplete: async () => { await new Promise((r) => setTimeout(r, 5)); throw new Error('session store down'); } } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: nextCode(host, secret) } });
    expectProblem(res, 500, 'internal_error');
  });

  test.each([
    ['throws', (_res: Response) => { throw new Error('session store down'); }],
    ['rejects later', async (_res: Response) => { await new Promise((r) => setTimeout(r, 5)); throw new Error('session store down'); }],
    ['answers an error itself', (res: Response) => void res.status(403).json({ error: 'account_suspended' })],
  ])('an onLoginComplete that %s: the answer carries none of the login\'s cookies and the trusted device is revoked; the host\'s own cookie stays', async (how, fail) => {
    const host = hostApp({
      cookie: { secure: false },
      router: { assertionCookie: { secure: false }, onLoginComplete: async (_req, res) => { res.cookie('host_pending', '1'); await fail(res); } },
    });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: nextCode(host, secret), trustDevice: true } });
    if (how === 'answers an error itself') expect([res.status, res.body]).toEqual([403, { error: 'account_suspended' }]);
    else expectProblem(res, 500, 'internal_error');
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['host_pending']);
    // The device the login created is revoked (after the answer): the user has no trusted device they never got.
    await until(() => host.events.some((e) => e.type === 'device.revoked'));
    expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ trustedDevices: 0 });
    expect(host.routerErrors).toEqual(how === 'answers an error itself' ? [] : [expect.objectContaining({ message: 'session store down' })]);
    // The next login asks for the second factor again.
    expect((await host.login('alice')).body).toMatchObject({ mfaRequired: true });
  });

  test('an onLoginComplete that fails after answering: the answer stands, with its cookies, and the trusted device stays', async () => {
    const host = hostApp({
      cookie: { secure: false },
      router: { assertionCookie: { secure: false }, onLoginComplete: (_req, res) => { res.status(200).json({ signedIn: true }); throw new Error('audit hook down'); } },
    });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: nextCode(host, secret), trustDevice: true } });
    expect([res.status, res.body]).toEqual([200, { signedIn: true }]);
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['sf_td', 'sf_mfa']);
    expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ trustedDevices: 1 });
  });

  test('an onLoginComplete that redirects (302, by writeHead with its own headers): the redirect carries the login\'s cookies', async () => {
    const host = hostApp({
      cookie: { secure: false },
      router: { assertionCookie: { secure: false }, onLoginComplete: (_req, res) => void res.writeHead(302, { Location: '/home' }).end() },
    });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: nextCode(host, secret), trustDevice: true } });
    expect([res.status, res.headers.location]).toEqual([302, '/home']);
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['sf_td', 'sf_mfa']);
    expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ trustedDevices: 1 });
  });

  test('a login completed by enrolling a first factor: a failing onLoginComplete takes the assertion cookie off the problem', async () => {
    const host = hostApp({
      gate: { policy: () => ({ required: true, methods: ['totp'] }) },
      router: { assertionCookie: { secure: false }, onLoginComplete: () => { throw new Error('session store down'); } },
    });
    const { enrollmentToken } = (await host.login('alice')).body as { enrollmentToken: string };
    const { factorId, secret } = (await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken } })).body as { factorId: string; secret: string };
    const res = await host.call('post', '/mfa/totp/confirm', { body: { enrollmentToken, factorId, code: oathtool(secret, host.clock.now()) } });
    expectProblem(res, 500, 'internal_error');
    expect(setCookies(res)).toEqual([]);
  });
});

test('#9.10 an 8-digit code on a 6-digit deployment is 400, not a counted failure', async () => {
  const host = hostApp();
  await enrolTotpOverHttp(host, 'alice');
  for (let i = 0; i < 8; i++) {
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: '12345678' } });
    expectProblem(res, 400, 'invalid_request', 'code');
  }
  expect(host.events.filter((e) => e.type === 'mfa.failed')).toEqual([]);
  expectProblem(await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: '1234567' } }), 400, 'invalid_request', 'code');
});

test('#9.11 parallel valid backup codes on one challenge: one login, one code spent', async () => {
  const host = hostApp();
  const { backupCodes } = await enrolTotpOverHttp(host, 'alice');
  const challengeToken = await challengeFor(host, 'alice');
  const results = await Promise.all(backupCodes.slice(0, 8).map((code) => request(host.app).post('/mfa/verify').send({ challengeToken, method: 'backup_code', code })));
  expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { backupCodesRemaining: number }).backupCodesRemaining).toBe(9);
});

describe('#9.12 a store whose migrations never ran', () => {
  let db: ReturnType<typeof knex>;
  beforeAll(() => {
    db = knex({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  });
  afterAll(() => db.destroy());

  function unmigratedApp(onError?: (error: unknown) => void) {
    const mfa = createMfa({ issuer: 'Acme', store: knexStore(db) as MfaStore, encryptionKeys: { current: 'k1', keys: { k1: KEY_1 } }, signingKey: SIGNING_KEY });
    return express().use('/mfa', mfaRouter(mfa, { getUserId: () => 'alice', ...(onError ? { onError } : {}) }));
  }

  test('answers 503 and, by default, logs the cause in one cleaned line', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    try {
      const res = await request(unmigratedApp()).post('/mfa/totp/setup').send({ label: 'Phone' });
      expectProblem(res, 503, 'store_unavailable');
      expect(res.text).not.toMatch(/no such table/);
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^secondfactor: POST \/mfa\/totp\/setup failed: MfaError \[store_unavailable\]: The MFA store is unavailable <- caused by SqliteError \[SQLITE_ERROR\]: no such table: secondfactor_\w+$/);
    // The statement (and so any bound value) is cut from the line.
    expect(lines[0]).not.toMatch(/select|insert|alice/i);
  });

  test("a host's onError replaces the default log", async () => {
    const seen: unknown[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expectProblem(await request(unmigratedApp((e) => seen.push(e))).get('/mfa/status'), 503, 'store_unavailable');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(seen).toHaveLength(1);
  });
});
