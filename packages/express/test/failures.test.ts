// packages/express/test/failures.test.ts
// Failure paths over HTTP: IDOR, replay, attempt limits, enumeration, challenge tokens used as
// assertions, outages (fail closed), and the gate's deny-by-default.
import express from 'express';
import request from 'supertest';
import { generateTotp } from '@secondfactor/core';
import { mfaGate } from '../src';
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode, oathtool, setCookies, type Host } from './support/host-app';
import { expectProblem } from './support/problems';

async function loginWithTotp(host: Host, user: string, secret: string, extra: Record<string, unknown> = {}) {
  const challengeToken = await challengeFor(host, user);
  const code = nextCode(host, secret);
  const res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code, ...extra } });
  return { res, code };
}

describe('identity comes only from the host (IDOR)', () => {
  test("user B cannot touch A's factors, devices or codes; a userId in the body is ignored", async () => {
    const host = hostApp();
    const alice = await enrolTotpOverHttp(host, 'alice');
    const bob = await enrolTotpOverHttp(host, 'bob');
    const { res: login } = await loginWithTotp(host, 'alice', alice.secret, { trustDevice: true });
    expect(login.status).toBe(200);
    const aliceToken = (login.body as { accessToken: string }).accessToken;
    const aliceDevice = ((await host.call('get', '/mfa/trusted-devices', { user: 'alice' })).body as { devices: { id: string }[] }).devices[0]!.id;

    // B deletes A's factor with B's own valid code: not found for B.
    let res = await host.call('delete', `/mfa/factors/${alice.factorId}`, { user: 'bob', body: { code: nextCode(host, bob.secret), userId: 'alice' } });
    expectProblem(res, 404, 'not_enrolled');
    // B confirms A's factor id.
    res = await host.call('post', '/mfa/totp/confirm', { user: 'bob', body: { factorId: alice.factorId, code: oathtool(alice.secret, host.clock.now()), userId: 'alice' } });
    expectProblem(res, 404, 'not_enrolled');
    // B revokes A's trusted device.
    res = await host.call('delete', `/mfa/trusted-devices/${aliceDevice}`, { user: 'bob' });
    expectProblem(res, 404, 'not_enrolled');
    // B uses A's current code, A's assertion in the body, or A's assertion as Bearer, as proof.
    res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'bob', body: { code: nextCode(host, alice.secret) } });
    expectProblem(res, 401, 'invalid_code');
    res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'bob', body: { assertion: aliceToken } });
    expectProblem(res, 401, 'invalid_code');
    res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'bob', body: {}, headers: { Authorization: `Bearer ${aliceToken}` } });
    expectProblem(res, 403, 'mfa_required');
    // A's assertion does not open B's step-up route.
    res = await host.call('get', '/admin', { user: 'bob', headers: { Authorization: `Bearer ${aliceToken}` } });
    expectProblem(res, 401, 'mfa_required');
    // Status and disable act on the signed-in user whatever the body or query says.
    res = await host.call('get', '/mfa/status?userId=alice', { user: 'bob' });
    expect((res.body as { factors: { id: string }[] }).factors.map((f) => f.id)).toEqual([bob.factorId]);
    res = await host.call('post', '/mfa/disable', { user: 'bob', body: { userId: 'alice', code: nextCode(host, bob.secret) } });
    expect(res.status).toBe(204);

    res = await host.call('get', '/mfa/status', { user: 'alice' });
    expect(res.body).toMatchObject({ enabled: true, backupCodesRemaining: 10, trustedDevices: 1 });
    expect((res.body as { factors: { id: string }[] }).factors.map((f) => f.id)).toEqual([alice.factorId]);
    expect(((await host.call('get', '/mfa/status', { user: 'bob' })).body as { enabled: boolean }).enabled).toBe(false);
  });

  test('management routes without a signed-in user answer 401 unauthenticated', async () => {
    const host = hostApp();
    const routes: ['get' | 'post' | 'delete', string][] = [
      ['get', '/mfa/status'], ['post', '/mfa/totp/setup'], ['post', '/mfa/totp/confirm'], ['post', '/mfa/sms/setup'], ['post', '/mfa/sms/confirm'],
      ['post', '/mfa/email/setup'], ['post', '/mfa/email/confirm'], ['post', '/mfa/step-up'], ['post', '/mfa/backup-codes/regenerate'],
      ['delete', '/mfa/factors/abc'], ['post', '/mfa/disable'], ['get', '/mfa/trusted-devices'], ['delete', '/mfa/trusted-devices/abc'],
    ];
    for (const [method, path] of routes) {
      const res = await host.call(method, path, method === 'get' ? {} : { body: { userId: 'alice', code: '123456' } });
      expectProblem(res, 401, 'unauthenticated');
    }
  });

  test("a trusted-device cookie of A does not skip B's challenge", async () => {
    const host = hostApp();
    const alice = await enrolTotpOverHttp(host, 'alice');
    await enrolTotpOverHttp(host, 'bob');
    const { res } = await loginWithTotp(host, 'alice', alice.secret, { trustDevice: true });
    const cookie = setCookies(res)[0]!.split(';')[0]!;
    expect(((await host.login('alice', { Cookie: cookie })).body as { session?: string }).session).toBe('session-of-alice');
    const bobLogin = await host.login('bob', { Cookie: cookie });
    expect(bobLogin.body).toMatchObject({ mfaRequired: true });
    expect(host.sessionsIssued.filter((s) => s.userId === 'bob')).toEqual([]);
  });
});

describe('replay, attempt limits and enumeration', () => {
  test('the same TOTP code twice: the second is 401 invalid_code, also when reused for disable (REP-01/03)', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const { res, code } = await loginWithTotp(host, 'alice', secret);
    expect(res.status).toBe(200);
    const again = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code } });
    expectProblem(again, 401, 'invalid_code');
    const disable = await host.call('post', '/mfa/disable', { user: 'alice', body: { code } });
    expectProblem(disable, 401, 'invalid_code');
    const stepUp = await host.call('post', '/mfa/step-up', { user: 'alice', body: { code } });
    expectProblem(stepUp, 401, 'invalid_code');
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(true);
    expect(host.events.filter((e) => e.type === 'totp.replay_rejected')).toHaveLength(3);
  });

  test('wrong, reused, expired and other-user codes give byte-identical answers (ENUM-03)', async () => {
    const host = hostApp();
    const alice = await enrolTotpOverHttp(host, 'alice');
    const bob = await enrolTotpOverHttp(host, 'bob');
    const { code: used } = await loginWithTotp(host, 'alice', alice.secret);
    const stale = await generateTotp(alice.secret, host.clock.now() - 120_000, { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
    const now = oathtool(alice.secret, host.clock.now());
    const attempts = {
      wrong: now === '000000' ? '111111' : '000000',
      reused: used,
      expired: stale,
      otherUser: oathtool(bob.secret, host.clock.now()),
    };
    const answers: Record<string, { status: number; text: string; type: string }> = {};
    for (const [name, code] of Object.entries(attempts)) {
      const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code } });
      answers[name] = { status: res.status, text: res.text, type: res.headers['content-type'] as string };
    }
    // Also a backup code of another user.
    const bobBackup = bob.backupCodes[0]!;
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'backup_code', code: bobBackup } });
    answers.otherUsersBackupCode = { status: res.status, text: res.text, type: res.headers['content-type'] as string };
    const distinct = new Set(Object.values(answers).map((a) => JSON.stringify(a)));
    expect(distinct.size).toBe(1);
    expect(answers.wrong).toEqual({
      status: 401, type: 'application/problem+json; charset=utf-8',
      text: '{"type":"urn:secondfactor:problem:invalid_code","title":"Verification failed","status":401,"code":"invalid_code","detail":"The code is not valid."}',
    });
  });

  test('after 5 consecutive failures: 429 too_many_attempts with Retry-After, even for a right code; later a right code passes', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const wrong = (c: string) => (c === '000000' ? '111111' : '000000');
    for (let i = 0; i < 5; i++) {
      const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: wrong(oathtool(secret, host.clock.now())) } });
      expectProblem(res, 401, 'invalid_code');
    }
    const challengeToken = await challengeFor(host, 'alice');
    const right = oathtool(secret, host.clock.now());
    const refusedWrong = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: wrong(right) } });
    const refusedRight = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: right } });
    for (const res of [refusedWrong, refusedRight]) {
      expectProblem(res, 429, 'too_many_attempts');
      expect(res.headers['retry-after']).toBe('30');
    }
    expect(refusedRight.text).toBe(refusedWrong.text);
    // The same limit guards step-up and management proofs.
    const stepUp = await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: right } });
    expectProblem(stepUp, 429, 'too_many_attempts');
    expect(Number(stepUp.headers['retry-after'])).toBeGreaterThan(0);
    host.clock.advance(31);
    const ok = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: oathtool(secret, host.clock.now()) } });
    expect(ok.status).toBe(200);
  });

  test('expired or unknown challenge: 401 challenge_expired', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const challengeToken = await challengeFor(host, 'alice');
    host.clock.advance(301);
    let res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: oathtool(secret, host.clock.now()) } });
    expectProblem(res, 401, 'challenge_expired');
    res = await host.call('post', '/mfa/verify', { body: { challengeToken: 'A'.repeat(43), method: 'totp', code: '123456' } });
    expectProblem(res, 401, 'challenge_expired');
    res = await host.call('post', '/mfa/challenge/sms', { body: { challengeToken } });
    expectProblem(res, 401, 'challenge_expired');
  });
});

describe('server-side state only (GATE-06, SMS-07)', () => {
  test('tampered login and verify requests cannot skip or redirect the second factor', async () => {
    const host = hostApp();
    const alice = await enrolTotpOverHttp(host, 'alice');
    await enrolTotpOverHttp(host, 'bob');
    const tampered = await host.call('post', '/login', {
      body: { username: 'alice', password: 'alice-password', mfaVerified: true, userId: 'carol', trustDevice: true },
      headers: { 'X-Forwarded-For': '127.0.0.1', 'X-Debug': '1', 'X-MFA-Verified': 'true', Cookie: '__Host-sf_td=' + 'A'.repeat(43) },
    });
    expect(tampered.body).toMatchObject({ mfaRequired: true });
    expect(host.sessionsIssued).toEqual([]);
    // A userId in the verify body does not choose who signs in: the challenge does.
    const challengeToken = await challengeFor(host, 'bob');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, alice.secret), userId: 'alice' } });
    expectProblem(res, 401, 'invalid_code');
  });

  test('a login code goes only to the stored number; a phone in the request is ignored', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const setupRes = await host.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
    await host.call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (setupRes.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
    host.clock.advance(31);
    const challengeToken = await challengeFor(host, 'alice');
    const res = await host.call('post', '/mfa/challenge/sms', { body: { challengeToken, phone: '+12015550199', to: '+12015550199' } });
    expect(res.status).toBe(202);
    expect(host.outbox.at(-1)).toMatchObject({ to: '+14155550123', purpose: 'login' });
    expect(host.outbox.some((m) => m.to === '+12015550199')).toBe(false);
  });

  test("a factor's confirm route confirms only a pending factor of its own type", async () => {
    const host = hostApp();
    const setupRes = await host.call('post', '/mfa/totp/setup', { user: 'alice', body: { label: 'Phone' } });
    const { factorId, secret } = setupRes.body as { factorId: string; secret: string };
    // The TOTP factor's own current code, sent to the SMS and email confirm routes: refused as no such factor.
    for (const route of ['/mfa/sms/confirm', '/mfa/email/confirm']) {
      expectProblem(await host.call('post', route, { user: 'alice', body: { factorId, code: oathtool(secret, host.clock.now()) } }), 404, 'not_enrolled');
    }
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(false);
    // Nothing was counted or spent: its own route confirms it with the same code.
    const confirm = await host.call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId, code: oathtool(secret, host.clock.now()) } });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toMatchObject({ factor: { id: factorId, type: 'totp' } });
  });
});

describe('challenge tokens are never assertions (GATE-02)', () => {
  test('a challenge token as Bearer or cookie on requireMfa, or as proof, is refused; an assertion is no challenge', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const challengeToken = await challengeFor(host, 'alice');
    let res = await host.call('get', '/admin', { user: 'alice', headers: { Authorization: `Bearer ${challengeToken}` } });
    expectProblem(res, 401, 'mfa_required');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_user_authentication", error_description="[^"]+", max_age=60$/);
    res = await host.call('get', '/admin', { user: 'alice', headers: { Cookie: `sf_mfa=${challengeToken}` } });
    expectProblem(res, 401, 'mfa_required');
    res = await host.call('post', '/mfa/disable', { user: 'alice', body: { assertion: challengeToken } });
    expectProblem(res, 401, 'invalid_code');
    res = await host.call('post', '/mfa/disable', { user: 'alice', body: {}, headers: { Authorization: `Bearer ${challengeToken}` } });
    expectProblem(res, 403, 'mfa_required');

    // The challenge still works for its purpose, and its assertion cannot act as a challenge.
    res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret) } });
    expect(res.status).toBe(200);
    const accessToken = (res.body as { accessToken: string }).accessToken;
    // The assertion in the sf_mfa cookie is accepted.
    res = await host.call('get', '/admin', { user: 'alice', headers: { Cookie: `sf_mfa=${accessToken}` } });
    expect(res.status).toBe(200);
    // A tampered one is not.
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const forged = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    res = await host.call('get', '/admin', { user: 'alice', headers: { Authorization: `Bearer ${forged}` } });
    expectProblem(res, 401, 'mfa_required');
    res = await host.call('post', '/mfa/verify', { body: { challengeToken: accessToken, method: 'totp', code: nextCode(host, secret) } });
    expectProblem(res, 400, 'invalid_request', 'challengeToken'); // far longer than any challenge token
    res = await host.call('post', '/mfa/verify', { body: { challengeToken: accessToken.slice(-43), method: 'totp', code: nextCode(host, secret) } });
    expectProblem(res, 401, 'challenge_expired');
    // A used challenge is gone.
    res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret) } });
    expectProblem(res, 401, 'challenge_expired');
    res = await host.call('get', '/admin', { user: 'alice' });
    expectProblem(res, 401, 'mfa_required');
  });
});

describe('fresh proof for changes that weaken protection (DG-01/02)', () => {
  test('disable / remove / regenerate / add a factor: session alone 403, assertion accepted, password only for disable', async () => {
    const host = hostApp();
    const { secret, factorId } = await enrolTotpOverHttp(host, 'alice');
    for (const [method, path] of [['post', '/mfa/disable'], ['delete', `/mfa/factors/${factorId}`], ['post', '/mfa/backup-codes/regenerate'], ['post', '/mfa/totp/setup']] as const) {
      expectProblem(await host.call(method, path, { user: 'alice', body: {} }), 403, 'mfa_required');
    }
    // A password is not proof for removing a factor or new codes.
    expectProblem(await host.call('delete', `/mfa/factors/${factorId}`, { user: 'alice', body: { password: 'alice-password' } }), 403, 'mfa_required');
    // A fresh assertion (Bearer) is proof; a stale one is not.
    const stepUp = await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: nextCode(host, secret) } });
    const token = (stepUp.body as { accessToken: string }).accessToken;
    let res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: {}, headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    res = await host.call('post', '/mfa/totp/setup', { user: 'alice', body: { assertion: token } });
    expect(res.status).toBe(200);
    host.clock.advance(301);
    res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: {}, headers: { Authorization: `Bearer ${token}` } });
    expectProblem(res, 403, 'mfa_required');
    res = await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: { assertion: token } });
    expectProblem(res, 401, 'invalid_code');
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(true);
  });

  test('maxAgeForProofSeconds narrows how old an assertion may be', async () => {
    const host = hostApp({ router: { maxAgeForProofSeconds: 60 } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const token = ((await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: nextCode(host, secret) } })).body as { accessToken: string }).accessToken;
    host.clock.advance(61);
    expectProblem(await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: { assertion: token } }), 401, 'invalid_code');
    expectProblem(await host.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: {}, headers: { Authorization: `Bearer ${token}` } }), 403, 'mfa_required');
  });

  test('a password alone does not turn MFA off unless the host opts in; opting in needs verifyPassword; a throwing verifyPassword fails closed', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    expectProblem(await host.call('post', '/mfa/disable', { user: 'alice', body: { password: 'alice-password' } }), 403, 'mfa_required');
    expect(((await host.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(true);
    expect(() => hostApp({ router: { verifyPassword: undefined, allowPasswordToDisable: true } })).toThrow(/allowPasswordToDisable.*needs verifyPassword/);
    const throwing = hostApp({ router: { allowPasswordToDisable: true, verifyPassword: async () => { throw new Error('user db down'); } } });
    await enrolTotpOverHttp(throwing, 'alice');
    expectProblem(await throwing.call('post', '/mfa/disable', { user: 'alice', body: { password: 'alice-password' } }), 500, 'internal_error');
    expect(((await throwing.call('get', '/mfa/status', { user: 'alice' })).body as { enabled: boolean }).enabled).toBe(true);
    // verifyPassword must return exactly true.
    const truthy = hostApp({ router: { allowPasswordToDisable: true, verifyPassword: (() => 'yes') as unknown as () => boolean } });
    await enrolTotpOverHttp(truthy, 'alice');
    expectProblem(await truthy.call('post', '/mfa/disable', { user: 'alice', body: { password: 'x' } }), 401, 'invalid_code');
  });

  test('conflicts and unknown factors: 409 already_enrolled, 404 not_enrolled', async () => {
    const host = hostApp();
    const { secret, factorId } = await enrolTotpOverHttp(host, 'alice');
    expectProblem(await host.call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId, code: oathtool(secret, host.clock.now()) } }), 409, 'already_enrolled');
    let res = await host.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
    await host.call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (res.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
    res = await host.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
    expectProblem(res, 409, 'already_enrolled');
    expectProblem(await host.call('delete', '/mfa/factors/no-such-factor', { user: 'alice', body: { code: nextCode(host, secret) } }), 404, 'not_enrolled');
    expectProblem(await host.call('post', '/mfa/step-up', { user: 'bob', body: { code: '123456' } }), 404, 'not_enrolled');
  });
});

describe('fail closed: outages and errors', () => {
  test('store outage in the gate: next(err) → 503 problem, no session, nothing after the gate runs', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    host.broken.add('listFactors');
    const res = await host.login('alice');
    expectProblem(res, 503, 'store_unavailable');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).not.toContain('ECONNREFUSED');
    expect(host.sessionsIssued).toEqual([]);
  });

  test('an error thrown by getUserId, or no user id at all, never lets the login through', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    const seen: unknown[] = [];
    let passed = 0;
    const app = express();
    app.post('/login-throws', mfaGate(host.mfa, { getUserId: async () => { throw new Error('session store down'); } }), (_req, res) => { passed++; res.json({ session: 'x' }); });
    app.post('/login-nobody', mfaGate(host.mfa), (_req, res) => { passed++; res.json({ session: 'x' }); });
    app.post('/login-bad-id', mfaGate(host.mfa, { getUserId: () => ({ id: 'alice' }) as unknown as string }), (_req, res) => { passed++; res.json({ session: 'x' }); });
    app.use((err: unknown, _req: unknown, res: { status(n: number): { json(b: unknown): void } }, _next: unknown) => { seen.push(err); res.status(500).json({ error: 'host' }); });
    for (const path of ['/login-throws', '/login-nobody', '/login-bad-id']) {
      const res = await request(app).post(path);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'host' });
    }
    expect(passed).toBe(0);
    expect(seen.map((e) => (e as Error).message)).toEqual([
      'session store down',
      expect.stringContaining('found no user id'),
      expect.stringContaining('getUserId must return a string'),
    ]);
  });

  test('the gate drops cookies set before it and answers no-store; onChallengeRequired can replace the answer', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    const app = express();
    const early = (_req: unknown, res: { locals: Record<string, unknown>; cookie(n: string, v: string): void }, next: () => void) => {
      res.locals.userId = 'alice';
      res.cookie('premature_session', 'abc');
      next();
    };
    app.post('/login', early, mfaGate(host.mfa), (_req, res) => void res.json({ session: 'x' }));
    app.post('/login-redirect', early, mfaGate(host.mfa, { onChallengeRequired: (_req, res, c) => void res.redirect(303, `/mfa-page#${c.challengeToken}`) }), (_req, res) => void res.json({ session: 'x' }));
    let res = await request(app).post('/login');
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ mfaRequired: true });
    res = await request(app).post('/login-redirect');
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/mfa-page#[A-Za-z0-9_-]{43}$/);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  test('store outage in the router: 503 store_unavailable, no details; onError sees the cause', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const challengeToken = await challengeFor(host, 'alice');
    host.broken.add('*');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret) } });
    expectProblem(res, 503, 'store_unavailable');
    expect(res.text).not.toContain('ECONNREFUSED');
    expect(host.routerErrors).toHaveLength(1);
    expect(String((host.routerErrors[0] as { cause?: unknown }).cause)).toContain('ECONNREFUSED');
    expectProblem(await host.call('get', '/mfa/status', { user: 'alice' }), 503, 'store_unavailable');
  });

  test('SMS provider failure: 502 sms_unavailable, and no code left behind', async () => {
    const host = hostApp({ mfa: { sms: { send: async () => { throw new Error('twilio 500'); } } } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
    expectProblem(res, 502, 'sms_unavailable');
    expect(res.text).not.toContain('twilio');
    const status = await host.call('get', '/mfa/status', { user: 'alice' });
    expect((status.body as { factors: unknown[] }).factors).toHaveLength(1);
  });

  test('an unexpected error in onLoginComplete is a bare 500 problem', async () => {
    const host = hostApp({ router: { onLoginComplete: async () => { throw new Error('session db: password=hunter2'); } } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const { res } = await loginWithTotp(host, 'alice', secret);
    expectProblem(res, 500, 'internal_error');
    expect(res.body).toEqual({ type: 'urn:secondfactor:problem:internal_error', title: 'Internal error', status: 500, code: 'internal_error', detail: 'The request could not be completed.' });
    expect(host.routerErrors).toHaveLength(1);
  });
});

describe('login completion and the trusted-device cookie', () => {
  test('onLoginComplete gets {userId, amr}; the device cookie is already set when it runs', async () => {
    const calls: { userId: string; amr: string[]; cookieAlreadySet: boolean }[] = [];
    const host = hostApp({
      router: {
        onLoginComplete: (_req, res, info) => {
          const set = res.getHeader('Set-Cookie');
          calls.push({ userId: info.userId, amr: info.amr, cookieAlreadySet: Array.isArray(set) && set.some((c) => String(c).startsWith('__Host-sf_td=')) });
          res.cookie('host_session', 'new-session', { httpOnly: true });
          res.status(200).json({ redirect: '/home' });
        },
      },
    });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const { res } = await loginWithTotp(host, 'alice', secret, { trustDevice: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ redirect: '/home' });
    expect(calls).toEqual([{ userId: 'alice', amr: ['mfa', 'otp'], cookieAlreadySet: true }]);
    const cookies = setCookies(res);
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toMatch(/^__Host-sf_td=/);
    expect(cookies[1]).toMatch(/^host_session=new-session/);
    // Without trustDevice no device cookie.
    const second = await loginWithTotp(host, 'alice', secret);
    expect(setCookies(second.res).filter((c) => c.includes('sf_td'))).toEqual([]);
  });

  test('cookie.secure=false (local http): plain name, no Secure; the gate reads the same cookie', async () => {
    const host = hostApp({ cookie: { secure: false, sameSite: 'strict' } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const { res } = await loginWithTotp(host, 'alice', secret, { trustDevice: true });
    const [cookie] = setCookies(res);
    expect(cookie).toMatch(/^sf_td=[A-Za-z0-9_-]{43}; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Strict$/);
    const next = await host.login('alice', { Cookie: `other=1; ${cookie!.split(';')[0]!}` });
    expect(next.body).toEqual({ session: 'session-of-alice', trustedDevice: true });
    // The secure cookie name is not read by an insecure configuration (and vice versa).
    const secureName = await host.login('alice', { Cookie: `__Host-${cookie!.split(';')[0]!}` });
    expect(secureName.body).toMatchObject({ mfaRequired: true });
  });

  test('trusted device expires server-side (Max-Age is the server expiry)', async () => {
    const host = hostApp({ mfa: { trustedDevices: { ttlSeconds: 3600 } } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const { res } = await loginWithTotp(host, 'alice', secret, { trustDevice: true });
    const [cookie] = setCookies(res);
    expect(cookie).toContain('Max-Age=3600;');
    host.clock.advance(3601);
    expect((await host.login('alice', { Cookie: cookie!.split(';')[0]! })).body).toMatchObject({ mfaRequired: true });
  });
});
