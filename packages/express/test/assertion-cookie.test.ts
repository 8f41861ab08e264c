// packages/express/test/assertion-cookie.test.ts
// The assertion cookie for browser apps: mfaRouter({assertionCookie}) sets it on /verify and
// /step-up, requireMfa({assertionCookie}) reads it under the same name, clearAssertionCookie()
// removes it; requireMfa's onRequired hook and its reasons; failureProblem() for hosts.
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import {
  clearAssertionCookie, failureProblem, mfaErrorHandler, mfaRouter, requireMfa, sendProblem,
  type AssertionCookieOptions, type MfaRequiredInfo, type MfaRouterOptions, type RequireMfaOptions,
} from '../src';
import { readCookie, readCookies } from '../src/cookies';
import { enrolTotp, setup, totpNow } from '../../core/test/support/harness';
import { enrolTotpOverHttp, hostApp, oathtool, setCookies } from './support/host-app';
import { expectProblem } from './support/problems';

const JWT = '[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+';
const getUserId = (req: Request) => req.get('x-user');

interface AppOptions {
  router?: Partial<MfaRouterOptions>;
  guard?: Partial<RequireMfaOptions>;
  /** The value given to clearAssertionCookie() on POST /logout. */
  logout?: boolean | AssertionCookieOptions;
}

/** A host with the router at /mfa, a guarded GET /admin and a POST /logout; the user is the `x-user` header. */
async function browserHost(options: AppOptions = {}) {
  const h = setup();
  const alice = await enrolTotp(h, 'alice');
  const app = express();
  app.use('/mfa', mfaRouter(h.mfa, { getUserId, ...options.router }));
  app.get('/admin', requireMfa(h.mfa, { maxAge: 60, getUserId, ...options.guard }), (req, res) => void res.json({ mfa: req.mfa ?? null }));
  app.post('/logout', (_req, res) => {
    res.cookie('host_session', '', { expires: new Date(0) }); // the host's own cookie, before and after
    if (options.logout !== undefined) clearAssertionCookie(res, options.logout);
    else clearAssertionCookie(res);
    res.cookie('host_other', '', { expires: new Date(0) });
    res.status(204).end();
  });
  app.use(mfaErrorHandler());
  /** A fresh TOTP code (the next 30-second step, so no code is replayed). */
  const code = async () => {
    h.clock.advance(30);
    return totpNow(alice.secret, h.clock.now());
  };
  const verify = async (extra: Record<string, unknown> = {}) => {
    const start = await h.mfa.login.start('alice');
    if (!start.required) throw new Error('expected a challenge');
    return request(app).post('/mfa/verify').send({ challengeToken: start.challengeToken, method: 'totp', code: await code(), ...extra });
  };
  const stepUp = async (user = 'alice') => request(app).post('/mfa/step-up').set('x-user', user).send({ code: await code() });
  return { h, app, alice, code, verify, stepUp };
}

/** `name=value` of the Set-Cookie whose name is `name`, and the whole header line. */
function cookieNamed(res: { headers: Record<string, unknown> }, name: string): { pair: string; line: string } | undefined {
  const line = setCookies(res).find((c) => c.startsWith(`${name}=`));
  return line === undefined ? undefined : { pair: line.split(';')[0]!, line };
}

describe('mfaRouter({assertionCookie})', () => {
  test('is off by default: /verify and /step-up set no assertion cookie', async () => {
    const host = await browserHost();
    const verify = await host.verify();
    expect(verify.status).toBe(200);
    expect(verify.headers['set-cookie']).toBeUndefined();
    const stepUp = await host.stepUp();
    expect(stepUp.status).toBe(200);
    expect(stepUp.headers['set-cookie']).toBeUndefined();
  });

  test.each<[string, boolean | AssertionCookieOptions, string, string]>([
    ['true (defaults)', true, '__Host-sf_mfa', 'Path=/; HttpOnly; Secure; SameSite=Lax'],
    ['{} (defaults)', {}, '__Host-sf_mfa', 'Path=/; HttpOnly; Secure; SameSite=Lax'],
    ['secure: false', { secure: false }, 'sf_mfa', 'Path=/; HttpOnly; SameSite=Lax'],
    ['a name, SameSite=Strict', { name: 'step', sameSite: 'strict' }, '__Host-step', 'Path=/; HttpOnly; Secure; SameSite=Strict'],
    ['a name, insecure', { name: 'step', secure: false, sameSite: 'lax' }, 'step', 'Path=/; HttpOnly; SameSite=Lax'],
    ['a name that has the prefix already', { name: '__Host-mine' }, '__Host-mine', 'Path=/; HttpOnly; Secure; SameSite=Lax'],
  ])('%s: /verify and /step-up set the assertion with the right name and attributes', async (_name, assertionCookie, name, attributes) => {
    const host = await browserHost({ router: { assertionCookie } });
    for (const res of [await host.verify(), await host.stepUp()]) {
      expect(res.status).toBe(200);
      const cookies = setCookies(res);
      expect(cookies).toHaveLength(1);
      expect(cookies[0]).toMatch(new RegExp(`^${name.replace(/[-_]/g, '\\$&')}=${JWT}; Max-Age=300; ${attributes}$`));
      // The same assertion as the body's token (the JSON answer is unchanged).
      expect(cookieNamed(res, name)!.pair).toBe(`${name}=${(res.body as { accessToken: string }).accessToken}`);
      expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 300 });
    }
  });

  test('Max-Age is the assertion lifetime configured in core', async () => {
    const h = setup({ assertion: { ttlSeconds: 120 } });
    const { secret } = await enrolTotp(h, 'alice');
    const app = express().use(mfaRouter(h.mfa, { getUserId, assertionCookie: { secure: false } }));
    h.clock.advance(30);
    const res = await request(app).post('/step-up').set('x-user', 'alice').send({ code: await totpNow(secret, h.clock.now()) });
    expect(res.status).toBe(200);
    expect(cookieNamed(res, 'sf_mfa')!.line).toContain('; Max-Age=120;');
  });

  test('/verify sets it before onLoginComplete runs, next to the trusted-device cookie and the host’s own cookies', async () => {
    const seenByHost: string[][] = [];
    const host = await browserHost({
      router: {
        assertionCookie: true,
        onLoginComplete: (_req, res, info) => {
          seenByHost.push(setCookies({ headers: { 'set-cookie': res.getHeader('Set-Cookie') } }));
          res.cookie('host_session', `session-of-${info.userId}`, { httpOnly: true });
          res.status(200).json({ ok: true });
        },
      },
    });
    const res = await host.verify({ trustDevice: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(seenByHost).toHaveLength(1);
    expect(seenByHost[0]!.map((c) => c.split('=')[0])).toEqual(['__Host-sf_td', '__Host-sf_mfa']);
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['__Host-sf_td', '__Host-sf_mfa', 'host_session']);
  });

  test('a failed /verify or /step-up sets no cookie', async () => {
    const host = await browserHost({ router: { assertionCookie: true } });
    const start = await host.h.mfa.login.start('alice');
    if (!start.required) throw new Error('expected a challenge');
    const wrong = await request(host.app).post('/mfa/verify').send({ challengeToken: start.challengeToken, method: 'totp', code: '000000' === (await host.code()) ? '111111' : '000000' });
    expectProblem(wrong, 401, 'invalid_code');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const stepUp = await request(host.app).post('/mfa/step-up').set('x-user', 'alice').send({ code: 'nope-nope1' });
    expect(stepUp.status).toBeGreaterThanOrEqual(400);
    expect(stepUp.headers['set-cookie']).toBeUndefined();
    const anonymous = await request(host.app).post('/mfa/step-up').send({ code: await host.code() });
    expectProblem(anonymous, 401, 'unauthenticated');
    expect(anonymous.headers['set-cookie']).toBeUndefined();
  });
});

describe('requireMfa reads the cookie the router set', () => {
  test.each<[string, boolean | AssertionCookieOptions]>([
    ['true', true],
    ['{secure: false}', { secure: false }],
    ['{name, sameSite: strict}', { name: 'stepped', sameSite: 'strict' }],
    ['{name, secure: false}', { name: 'stepped', secure: false }],
  ])('the same assertionCookie %s on both sides: /verify then /admin with only the cookie passes', async (_name, assertionCookie) => {
    const host = await browserHost({ router: { assertionCookie }, guard: { assertionCookie } });
    const verify = await host.verify();
    const cookie = setCookies(verify)[0]!.split(';')[0]!;
    const admin = await request(host.app).get('/admin').set('x-user', 'alice').set('Cookie', `other=1; ${cookie}`);
    expect(admin.status).toBe(200);
    expect(admin.body.mfa).toMatchObject({ userId: 'alice', amr: ['mfa', 'otp'] });
  });

  test('with a cookie jar (insecure cookies over http): step-up, /admin, logout clears it', async () => {
    const host = await browserHost({ router: { assertionCookie: { secure: false } }, guard: { assertionCookie: { secure: false } }, logout: { secure: false } });
    const agent = request.agent(host.app);
    await agent.get('/admin').set('x-user', 'alice').expect(401);
    const stepUp = await agent.post('/mfa/step-up').set('x-user', 'alice').send({ code: await host.code() });
    expect(stepUp.status).toBe(200);
    expect((await agent.get('/admin').set('x-user', 'alice')).status).toBe(200);
    const logout = await agent.post('/logout').expect(204);
    expect(cookieNamed(logout, 'sf_mfa')!.line).toBe('sf_mfa=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; SameSite=Lax');
    const after = await agent.get('/admin').set('x-user', 'alice');
    expectProblem(after, 401, 'mfa_required');
  });

  test('without cookie options requireMfa reads both default names, __Host-sf_mfa and sf_mfa', async () => {
    for (const assertionCookie of [true, { secure: false }]) {
      const host = await browserHost({ router: { assertionCookie }, guard: {} });
      const cookie = setCookies(await host.verify())[0]!.split(';')[0]!;
      expect((await request(host.app).get('/admin').set('x-user', 'alice').set('Cookie', cookie)).status).toBe(200);
    }
    // … but not a custom name, which needs the same settings on both sides.
    const custom = await browserHost({ router: { assertionCookie: { name: 'stepped' } }, guard: {} });
    const cookie = setCookies(await custom.verify())[0]!.split(';')[0]!;
    expectProblem(await request(custom.app).get('/admin').set('x-user', 'alice').set('Cookie', cookie), 401, 'mfa_required');
  });

  test('different settings on the two sides do not match (give both the same value)', async () => {
    const host = await browserHost({ router: { assertionCookie: true }, guard: { assertionCookie: { secure: false } } });
    const cookie = setCookies(await host.verify())[0]!.split(';')[0]!;
    expect(cookie).toMatch(/^__Host-sf_mfa=/);
    expectProblem(await request(host.app).get('/admin').set('x-user', 'alice').set('Cookie', cookie), 401, 'mfa_required');
    // Explicit settings read exactly one name: the un-prefixed name is not read in secure mode.
    const secure = await browserHost({ router: { assertionCookie: { secure: false } }, guard: { assertionCookie: true } });
    const plain = setCookies(await secure.verify())[0]!.split(';')[0]!;
    expect(plain).toMatch(/^sf_mfa=/);
    expectProblem(await request(secure.app).get('/admin').set('x-user', 'alice').set('Cookie', plain), 401, 'mfa_required');
  });

  test('assertionCookie: false reads no cookie (Bearer only); cookieName still reads exactly that name', async () => {
    const host = await browserHost({ router: { assertionCookie: { secure: false } }, guard: { assertionCookie: false } });
    const verify = await host.verify();
    const cookie = setCookies(verify)[0]!.split(';')[0]!;
    expectProblem(await request(host.app).get('/admin').set('x-user', 'alice').set('Cookie', cookie), 401, 'mfa_required');
    const bearer = await request(host.app).get('/admin').set('x-user', 'alice').set('Authorization', `Bearer ${(verify.body as { accessToken: string }).accessToken}`);
    expect(bearer.status).toBe(200);

    const named = await browserHost({ router: { assertionCookie: { name: 'mine', secure: false } }, guard: { cookieName: 'mine' } });
    const mine = setCookies(await named.verify())[0]!.split(';')[0]!;
    expect((await request(named.app).get('/admin').set('x-user', 'alice').set('Cookie', mine)).status).toBe(200);
  });

  test("another user's cookie does not pass", async () => {
    const host = await browserHost({ router: { assertionCookie: true }, guard: { assertionCookie: true } });
    const cookie = setCookies(await host.verify())[0]!.split(';')[0]!;
    expectProblem(await request(host.app).get('/admin').set('x-user', 'bob').set('Cookie', cookie), 401, 'mfa_required');
  });
});

describe('reading cookies', () => {
  const req = (cookie: unknown) => ({ headers: { cookie } }) as unknown as Request;
  test('readCookies reads several names in one pass, in the order asked; the first cookie of a name decides', () => {
    const r = req('a=1; __Host-sf_mfa=x.y.z; sf_mfa="q.r.s"; a=2; sf_mfa=later; junk; =v; b');
    expect(readCookies(r, ['__Host-sf_mfa', 'sf_mfa'])).toEqual(['x.y.z', 'q.r.s']);
    expect(readCookies(r, ['sf_mfa', '__Host-sf_mfa'])).toEqual(['q.r.s', 'x.y.z']);
    expect(readCookies(r, ['a', 'missing', 'sf_mfa'])).toEqual(['1', 'q.r.s']);
    expect(readCookies(r, [])).toEqual([]);
    expect(readCookie(r, 'a')).toBe('1');
    expect(readCookie(r, 'missing')).toBeUndefined();
    expect(readCookie(req('e='), 'e')).toBe('');
  });

  test('a first cookie whose value a cookie cannot carry counts as none (a later one of that name is not read)', () => {
    const r = req('sf_mfa=bad value; __Host-sf_mfa=ok; sf_mfa=good');
    expect(readCookies(r, ['__Host-sf_mfa', 'sf_mfa'])).toEqual(['ok']);
    expect(readCookie(r, 'sf_mfa')).toBeUndefined();
  });

  test('no Cookie header, or one over 8 KiB, reads nothing', () => {
    expect(readCookies(req(undefined), ['a'])).toEqual([]);
    expect(readCookies(req(['a=1']), ['a'])).toEqual([]);
    expect(readCookies(req(`a=1; b=${'x'.repeat(8192)}`), ['a'])).toEqual([]);
    expect(readCookies(req(`a=1; b=${'x'.repeat(8185)}`), ['a'])).toEqual(['1']);
  });
});

describe('clearAssertionCookie(res, options)', () => {
  test.each<[string, boolean | AssertionCookieOptions | undefined, string | null]>([
    ['no options (the router default)', undefined, '__Host-sf_mfa=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax'],
    ['true', true, '__Host-sf_mfa=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax'],
    ['secure: false', { secure: false }, 'sf_mfa=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; SameSite=Lax'],
    ['a name, SameSite=Strict', { name: 'stepped', sameSite: 'strict' }, '__Host-stepped=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Strict'],
    ['false (no cookie in use)', false, null],
  ])('%s', async (_name, logout, expected) => {
    const host = await browserHost({ logout });
    const res = await request(host.app).post('/logout').expect(204);
    const cookies = setCookies(res);
    // The host's cookies set before and after are kept.
    expect(cookies[0]).toMatch(/^host_session=;/);
    expect(cookies.at(-1)).toMatch(/^host_other=;/);
    expect(cookies.slice(1, -1)).toEqual(expected === null ? [] : [expected]);
  });

  test('validates its options like the router', () => {
    const res = { headers: {} as Record<string, unknown>, getHeader(n: string) { return this.headers[n]; }, setHeader(n: string, v: string[]) { this.headers[n] = v; } };
    expect(() => clearAssertionCookie(res, { name: 'a b' })).toThrow(/assertionCookie\.name/);
    expect(() => clearAssertionCookie(res, { sameSite: 'none' } as never)).toThrow(/assertionCookie\.sameSite/);
    expect(res.headers).toEqual({});
  });
});

describe('assertionCookie option checks', () => {
  const { mfa } = setup();
  test.each([
    ['not a boolean or object', 'yes'],
    ['null', null],
    ['SameSite=None (not offered)', { sameSite: 'none' }],
    ['a bad name', { name: 'a;b' }],
    ['a too long name', { name: 'x'.repeat(65) }],
    ['a prefixed name without Secure', { name: '__Host-x', secure: false }],
    ['secure not a boolean', { secure: 'no' }],
    ['an unknown key (path is always /)', { path: '/app' }],
  ])('%s throws a TypeError naming the option, in mfaRouter() and requireMfa()', (_name, value) => {
    expect(() => mfaRouter(mfa, { getUserId, assertionCookie: value as never })).toThrow(TypeError);
    expect(() => mfaRouter(mfa, { getUserId, assertionCookie: value as never })).toThrow(/assertionCookie/);
    expect(() => requireMfa(mfa, { getUserId: () => 'alice', assertionCookie: value as never })).toThrow(/assertionCookie/);
  });

  test('requireMfa takes assertionCookie or cookieName, not both; onRequired must be a function', () => {
    expect(() => requireMfa(mfa, { getUserId: () => 'alice', assertionCookie: true, cookieName: 'sf_mfa' })).toThrow(/cookieName.*cannot be combined with assertionCookie/);
    expect(() => requireMfa(mfa, { getUserId: () => 'alice', onRequired: 'redirect' as never })).toThrow(/`onRequired` must be a function/);
    expect(() => requireMfa(mfa, { getUserId: () => 'alice', onRequierd: () => undefined } as never)).toThrow(/Did you mean to pass `onRequired`/);
  });
});

describe('requireMfa({onRequired})', () => {
  type Call = MfaRequiredInfo & { user: string | undefined };

  /** A guarded /admin whose onRequired records its calls and redirects (or does what `act` says). */
  async function guarded(act: (req: Request, res: Response, next: NextFunction) => void | Promise<void> = (_req, res) => res.redirect(303, '/step-up?next=%2Fadmin'), guard: Partial<RequireMfaOptions> = {}) {
    const calls: Call[] = [];
    const host = await browserHost({
      router: { assertionCookie: true },
      guard: {
        assertionCookie: true,
        ...guard,
        onRequired: async (req, res, next, info) => {
          calls.push({ ...info, user: req.get('x-user') });
          await act(req, res, next);
        },
      },
    });
    const token = async (user: string) => (await host.h.mfa.assertions.issue(user, ['otp'])).assertion;
    const admin = (user: string | undefined, headers: Record<string, string> = {}) => {
      let t = request(host.app).get('/admin');
      if (user) t = t.set('x-user', user);
      for (const [k, v] of Object.entries(headers)) t = t.set(k, v);
      return t;
    };
    return { ...host, calls, token, admin };
  }

  test('is not called for a fresh assertion of the signed-in user', async () => {
    const g = await guarded();
    const res = await g.admin('alice', { Authorization: `Bearer ${await g.token('alice')}` });
    expect(res.status).toBe(200);
    const viaCookie = setCookies(await g.verify())[0]!.split(';')[0]!;
    expect((await g.admin('alice', { Cookie: viaCookie })).status).toBe(200);
    expect(g.calls).toEqual([]);
  });

  test('missing, invalid, stale and other_user, each with maxAge; its answer replaces the 401', async () => {
    const g = await guarded();
    const challenge = await g.h.mfa.login.start('alice');
    if (!challenge.required) throw new Error('expected a challenge');
    const alice = await g.token('alice');
    const bob = await g.token('bob');

    const missing = await g.admin('alice');
    const invalid = await g.admin('alice', { Authorization: 'Bearer not.a.token' });
    const challengeToken = await g.admin('alice', { Authorization: `Bearer ${challenge.challengeToken}` });
    const otherUser = await g.admin('bob', { Authorization: `Bearer ${alice}` });
    const otherUserCookie = await g.admin('bob', { Cookie: `__Host-sf_mfa=${alice}` });
    g.h.clock.advance(61); // older than maxAge (60 s), still inside the assertion lifetime (300 s)
    const stale = await g.admin('alice', { Authorization: `Bearer ${alice}` });
    const staleCookie = await g.admin('alice', { Cookie: `__Host-sf_mfa=${alice}` });
    const staleOfOther = await g.admin('alice', { Authorization: `Bearer ${bob}` });
    const notSignedIn = await g.admin(undefined, { Authorization: `Bearer ${alice}` });

    for (const res of [missing, invalid, challengeToken, otherUser, otherUserCookie, stale, staleCookie, staleOfOther, notSignedIn]) {
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/step-up?next=%2Fadmin');
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    expect(g.calls).toEqual([
      { reason: 'missing', maxAge: 60, user: 'alice' },
      { reason: 'invalid', maxAge: 60, user: 'alice' },
      { reason: 'invalid', maxAge: 60, user: 'alice' },
      { reason: 'other_user', maxAge: 60, user: 'bob' },
      { reason: 'other_user', maxAge: 60, user: 'bob' },
      { reason: 'stale', maxAge: 60, user: 'alice' },
      { reason: 'stale', maxAge: 60, user: 'alice' },
      { reason: 'other_user', maxAge: 60, user: 'alice' },
      { reason: 'other_user', maxAge: 60, user: undefined },
    ]);
  });

  test('getUserId may answer directly, with a promise or with any thenable; a value that is no user id is a 500', async () => {
    const { mfa } = setup();
    const alice = (await mfa.assertions.issue('alice', ['otp'])).assertion;
    // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the point: hosts may return one.
    const thenable = (value: unknown) => ({ then: (resolve: (v: unknown) => void) => resolve(value) });
    const answers: [RequireMfaOptions['getUserId'], number][] = [
      [() => 'alice', 200], [async () => 'alice', 200], [(() => thenable('alice')) as never, 200],
      [() => 'bob', 401], [async () => 'bob', 401], [(() => thenable('bob')) as never, 401], [() => undefined, 401],
      [(() => ({ id: 'alice' })) as never, 500], [(() => thenable({ id: 'alice' })) as never, 500],
    ];
    for (const [getUser, status] of answers) {
      const app = express().get('/p', requireMfa(mfa, { getUserId: getUser }), (req, res) => void res.json(req.mfa));
      app.use(mfaErrorHandler());
      const res = await request(app).get('/p').set('Authorization', `Bearer ${alice}`);
      expect([String(getUser), res.status]).toEqual([String(getUser), status]);
      if (status === 200) expect(res.body).toMatchObject({ userId: 'alice', amr: ['mfa', 'otp'] });
    }
  });

  test('the same token as Bearer and as both cookies is checked once', async () => {
    const { mfa } = setup();
    const alice = (await mfa.assertions.issue('alice', ['otp'])).assertion;
    let checks = 0;
    const counting = { ...mfa, assertions: { ...mfa.assertions, verify: (...args: Parameters<typeof mfa.assertions.verify>) => { checks++; return mfa.assertions.verify(...args); } } };
    const app = express().get('/p', requireMfa(counting, { getUserId: () => 'bob' }), (_req, res) => void res.send('ok'));
    const res = await request(app).get('/p').set('Authorization', `Bearer ${alice}`).set('Cookie', `__Host-sf_mfa=${alice}; sf_mfa=${alice}`);
    expect(res.status).toBe(401);
    expect(checks).toBe(1);
  });

  test('with several tokens the one closest to passing decides (stale, then other_user, then invalid)', async () => {
    const g = await guarded();
    const alice = await g.token('alice');
    const bob = await g.token('bob');
    await g.admin('alice', { Authorization: `Bearer ${bob}`, Cookie: '__Host-sf_mfa=not.a.token' });
    g.h.clock.advance(61);
    const fresh = await g.token('bob');
    await g.admin('alice', { Authorization: `Bearer ${fresh}`, Cookie: `__Host-sf_mfa=${alice}` });
    await g.admin('alice', { Authorization: 'Bearer x.y.z', Cookie: `__Host-sf_mfa=${alice}` });
    expect(g.calls.map((c) => c.reason)).toEqual(['other_user', 'stale', 'stale']);
  });

  test("without maxAge: no maxAge in the info; the host user's assertion of any age passes, another user's does not", async () => {
    const calls: MfaRequiredInfo[] = [];
    const { mfa } = setup();
    const app = express().get('/p', requireMfa(mfa, { getUserId: () => 'alice', onRequired: (_req, res, _next, info) => { calls.push(info); res.status(403).json({ go: '/step-up' }); } }), (_req, res) => void res.send('ok'));
    const refused = await request(app).get('/p');
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ go: '/step-up' });
    const token = (await mfa.assertions.issue('alice', ['otp'])).assertion;
    expect((await request(app).get('/p').set('Authorization', `Bearer ${token}`)).text).toBe('ok');
    const other = (await mfa.assertions.issue('mallory', ['otp'])).assertion;
    expect((await request(app).get('/p').set('Authorization', `Bearer ${other}`)).status).toBe(403);
    expect(calls).toEqual([{ reason: 'missing' }, { reason: 'other_user' }]);
    expect(Object.keys(calls[0]!)).toEqual(['reason']);
  });

  test('a hook that sends nothing (an API client, say) leaves the default 401 in place: it fails closed', async () => {
    const g = await guarded(() => undefined);
    const res = await g.admin('alice');
    expectProblem(res, 401, 'mfa_required');
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A recent second-factor verification is required", max_age=60',
    );
    expect(res.body).toMatchObject({ maxAge: 60 });
    // The same as without the hook.
    const plain = await browserHost({ guard: { assertionCookie: true } });
    const without = await request(plain.app).get('/admin').set('x-user', 'alice');
    expect(without.text).toBe(res.text);
    expect(without.headers['www-authenticate']).toBe(res.headers['www-authenticate']);
    expect(g.calls).toEqual([{ reason: 'missing', maxAge: 60, user: 'alice' }]);
  });

  test('an async hook is awaited; a throwing hook reaches the error handler, never the route', async () => {
    const late = await guarded(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 5));
      res.status(302).setHeader('Location', '/step-up');
      res.end();
    });
    const res = await late.admin('alice');
    expect(res.status).toBe(302);
    expect(res.headers['www-authenticate']).toBeUndefined();

    const broken = await guarded(() => {
      throw new Error('hook failed');
    });
    const crashed = await broken.admin('alice');
    expect(crashed.status).toBe(500);
    expect(crashed.text).not.toContain('"mfa"');
  });

  test('next() from the hook lets the request through without req.mfa; next(err) goes to the error handler', async () => {
    const through = await guarded((_req, _res, next) => next());
    const res = await through.admin('alice');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ mfa: null });

    const failing = await guarded((_req, _res, next) => next(failureProblem({ ok: false, reason: 'too_many_attempts', retryAfter: 7 })));
    const refused = await failing.admin('alice');
    expectProblem(refused, 429, 'too_many_attempts');
    expect(refused.headers['retry-after']).toBe('7');
  });
});

describe('failureProblem()', () => {
  test("turns core's failures into the router's exact answers (invalid_code, too_many_attempts with Retry-After)", async () => {
    const host = hostApp();
    // The host's own step-up route over core, answering like the router would.
    const hostRoute = express();
    hostRoute.post('/host-step-up', express.json(), async (req, res) => {
      const r = await host.mfa.stepUp.verify(req.get('x-user')!, { code: req.body.code });
      if (!r.ok) return sendProblem(res, failureProblem(r));
      res.json({ ok: true });
    });
    hostRoute.post('/host-step-up-throws', express.json(), async (req, res) => {
      const r = await host.mfa.stepUp.verify(req.get('x-user')!, { code: req.body.code });
      if (!r.ok) throw failureProblem(r);
      res.json({ ok: true });
    });
    hostRoute.use(mfaErrorHandler());
    host.app.use(hostRoute);

    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const wrong = oathtool(secret, host.clock.now()) === '000000' ? '111111' : '000000';
    const answers = async () => {
      const router = await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: wrong } });
      const own = await host.call('post', '/host-step-up', { user: 'alice', body: { code: wrong } });
      const thrown = await host.call('post', '/host-step-up-throws', { user: 'alice', body: { code: wrong } });
      return [router, own, thrown];
    };
    const same = (list: Awaited<ReturnType<typeof answers>>) => {
      for (const r of list.slice(1)) {
        expect(r.status).toBe(list[0]!.status);
        expect(r.text).toBe(list[0]!.text);
        for (const h of ['content-type', 'cache-control', 'retry-after']) expect(r.headers[h]).toBe(list[0]!.headers[h]);
      }
    };
    const first = await answers();
    expectProblem(first[0]!, 401, 'invalid_code');
    same(first);
    // Keep failing until the backoff answers 429 (with Retry-After) on all three.
    let locked: Awaited<ReturnType<typeof answers>> | undefined;
    for (let i = 0; i < 10 && !locked; i++) {
      const list = await answers();
      if (list.every((r) => r.status === 429)) locked = list;
    }
    expect(locked).toBeDefined();
    expectProblem(locked![0]!, 429, 'too_many_attempts');
    expect(locked![0]!.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    same(locked!);
  });

  test('refuses what is not a failure result', () => {
    expect(() => failureProblem({ ok: false, reason: 'nope' } as never)).toThrow(TypeError);
    expect(() => failureProblem({ ok: true } as never)).toThrow(/failure result/);
    expect(failureProblem({ ok: false, reason: 'challenge_expired' }).problem).toEqual({
      type: 'urn:secondfactor:problem:challenge_expired', title: 'Challenge expired', status: 401, code: 'challenge_expired',
      detail: 'The sign-in challenge is no longer valid; sign in again.',
    });
  });
});
