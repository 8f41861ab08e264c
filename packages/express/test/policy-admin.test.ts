// packages/express/test/policy-admin.test.ts
// Issue #11 over HTTP: the enforcement policy at the gate (an enrolment-only answer whose token
// reaches only the setup/confirm routes of the allowed types and completes the login once; a
// grace period; methods that count), and the admin router (reset, unlock, user, events, stats)
// behind the host's own admin check, every action audited with its actor.
import type { MfaPolicy } from '@secondfactor/core';
import { hostApp, nextCode, oathtool, type Host } from './support/host-app';

const DAY_MS = 86_400_000;
const ADMIN = { 'x-admin': 'admin-1' };

/** alice (an admin) must use an authenticator app; everyone else is only nudged. */
const policy = (graceUntil?: number) => (userId: string): MfaPolicy =>
  userId === 'alice' ? { required: true, methods: ['totp'], ...(graceUntil ? { graceUntil } : {}) } : { required: false };

async function enrolmentAnswer(host: Host, user = 'alice') {
  const r = await host.login(user);
  expect(r.status).toBe(200);
  expect(r.headers['set-cookie']).toBeUndefined();
  expect(r.headers['cache-control']).toBe('no-store');
  return r.body as { mfaEnrollmentRequired: true; enrollmentToken: string; methods: string[]; expiresAt: string };
}

describe('enforcement policy at the gate', () => {
  test('a user who must have MFA and has none gets an enrolment-only token; confirming the first factor completes the login once', async () => {
    const host = hostApp({ gate: { policy: policy() } });
    const answer = await enrolmentAnswer(host);
    expect(answer).toEqual({ mfaEnrollmentRequired: true, enrollmentToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), methods: ['totp'], expiresAt: expect.any(String) });
    expect(host.sessionsIssued).toEqual([]);
    const token = answer.enrollmentToken;

    // The token reaches nothing but setup/confirm of the allowed types.
    expect((await host.call('get', '/mfa/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await host.call('get', '/admin', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await host.call('post', '/mfa/verify', { body: { challengeToken: token, method: 'totp', code: '123456' } })).body).toMatchObject({ code: 'challenge_expired' });
    const sms = await host.call('post', '/mfa/sms/setup', { body: { enrollmentToken: token, phone: '+14155550123' } });
    expect([sms.status, sms.body.code, sms.body.field]).toEqual([400, 'invalid_request', 'method']);
    expect(host.outbox).toHaveLength(0);
    expect((await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken: 'A'.repeat(43) } })).body).toMatchObject({ code: 'challenge_expired' });

    const setup = await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken: token, label: 'Work phone' } });
    expect(setup.status).toBe(200);
    const { factorId, secret } = setup.body as { factorId: string; secret: string };
    const wrong = await host.call('post', '/mfa/totp/confirm', { body: { enrollmentToken: token, factorId, code: oathtool(secret, host.clock.now()) === '000000' ? '111111' : '000000' } });
    expect(wrong.status).toBe(401);
    const done = await host.call('post', '/mfa/totp/confirm', { body: { enrollmentToken: token, factorId, code: oathtool(secret, host.clock.now()) } });
    expect(done.status).toBe(200);
    // The default answer completes the login: an assertion, the factor and the backup codes (shown once).
    const body = done.body as { accessToken: string; backupCodes: string[]; factor: { id: string } };
    expect(body.factor.id).toBe(factorId);
    expect(body.backupCodes).toHaveLength(10);
    expect(await host.mfa.assertions.verify(body.accessToken)).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'otp'] });

    // Replayed: the token is spent.
    expect((await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken: token } })).body).toMatchObject({ code: 'challenge_expired' });
    // From now on the login asks for the factor.
    expect((await host.login('alice')).body).toMatchObject({ mfaRequired: true, methods: ['totp', 'backup_code'] });
    const start = (await host.login('alice')).body as { challengeToken: string };
    const verified = await host.call('post', '/mfa/verify', { body: { challengeToken: start.challengeToken, method: 'totp', code: nextCode(host, secret) } });
    expect(verified.status).toBe(200);
  });

  test("an expired enrolment token is refused, and another user's token does not set up a factor for the signed-in user", async () => {
    const host = hostApp({ gate: { policy: policy() } });
    const { enrollmentToken } = await enrolmentAnswer(host);
    const other = await host.call('post', '/mfa/totp/setup', { user: 'bob', body: { enrollmentToken } });
    expect([other.status, other.body.code]).toEqual([403, 'forbidden']);
    host.clock.advance(601);
    expect((await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken } })).body).toMatchObject({ code: 'challenge_expired' });
  });

  test('before graceUntil the login continues and the host is told to nag; after it, enrolment is enforced', async () => {
    const start = Date.UTC(2026, 0, 1, 0, 0, 10);
    const host = hostApp({ gate: { policy: policy(start + 7 * DAY_MS) } });
    const inGrace = await host.login('alice');
    expect(inGrace.body).toEqual({ session: 'session-of-alice', trustedDevice: false, enrollment: { required: true, graceUntil: '2026-01-08T00:00:10.000Z', methods: ['totp'] } });
    // Others are only nudged.
    expect((await host.login('bob')).body).toMatchObject({ session: 'session-of-bob', enrollment: { required: false, graceUntil: null } });
    host.clock.advance(7 * 86_400 + 1);
    expect((await host.login('alice')).body).toMatchObject({ mfaEnrollmentRequired: true, methods: ['totp'] });
  });

  test('a user whose only factor the policy no longer counts is sent to enrol an allowed one', async () => {
    const host = hostApp({ gate: { policy: policy() } });
    const sms = await host.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123' } });
    expect((await host.call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: sms.body.factorId, code: host.outbox.at(-1)!.code } })).status).toBe(200);
    const answer = await enrolmentAnswer(host);
    expect(answer.methods).toEqual(['totp']);
    const setup = await host.call('post', '/mfa/totp/setup', { body: { enrollmentToken: answer.enrollmentToken } });
    const done = await host.call('post', '/mfa/totp/confirm', { body: { enrollmentToken: answer.enrollmentToken, factorId: setup.body.factorId, code: oathtool(setup.body.secret, host.clock.now()) } });
    expect(done.status).toBe(200);
    expect(done.body.backupCodes).toBeUndefined(); // not the first factor: the SMS enrolment brought the codes
    // Now only the counted type (and recovery codes) are offered; SMS is not.
    const again = (await host.login('alice')).body as { methods: string[]; challengeToken: string };
    expect(again.methods).toEqual(['totp', 'backup_code']);
    const viaSms = await host.call('post', '/mfa/challenge/sms', { body: { challengeToken: again.challengeToken } });
    expect([viaSms.status, viaSms.body.field]).toEqual([400, 'method']);
  });
});

describe('the admin router', () => {
  test('the host decides who is an admin; nothing is read or changed for anyone else', async () => {
    const host = hostApp();
    for (const [method, path] of [['get', '/admin-api/users/alice'], ['post', '/admin-api/users/alice/reset'], ['post', '/admin-api/users/alice/unlock'], ['get', '/admin-api/stats'], ['get', '/admin-api/events']] as const) {
      const r = await host.call(method, path, { user: 'alice', ...(method === 'post' ? { body: {} } : {}) });
      expect([path, r.status, r.body.code]).toEqual([path, 403, 'forbidden']);
    }
  });

  // FAILS on main (reported, not fixed here: src is not this branch's to change): the admin router
  // reads the user id with routeId(), capped at 128 characters (the cap of factor and device ids),
  // while getUserId, core and the router's own `/events?userId=` take user ids of up to 255.
  test('a user id of 255 characters, which the host may sign in with, can be looked up, unlocked and reset', async () => {
    const long = `urn:example:user:${'u'.repeat(255)}`.slice(0, 255);
    const host = hostApp({ router: { getAccountName: () => 'long-id@example.com' } });
    const setup = await host.call('post', '/mfa/totp/setup', { user: long, body: {} });
    expect(setup.status).toBe(200);
    expect((await host.call('post', '/mfa/totp/confirm', { user: long, body: { factorId: setup.body.factorId, code: oathtool(setup.body.secret, host.clock.now()) } })).status).toBe(200);
    expect((await host.call('get', `/admin-api/events?userId=${long}`, { headers: ADMIN })).body.events.length).toBeGreaterThan(0);
    const user = await host.call('get', `/admin-api/users/${long}`, { headers: ADMIN });
    expect([user.status, user.body.userId]).toEqual([200, long]);
    expect((await host.call('post', `/admin-api/users/${long}/unlock`, { headers: ADMIN, body: {} })).status).toBe(204);
    expect((await host.call('post', `/admin-api/users/${long}/reset`, { headers: ADMIN, body: {} })).status).toBe(204);
    expect((await host.call('get', '/mfa/status', { user: long })).body).toMatchObject({ enabled: false });
  });

  test('reset makes the user enrol again; unlock; the user page, the events and the figures; every action audited with its actor', async () => {
    const host = hostApp({ mfa: { limits: { lockAfterFailures: 5, backoffAfterFailures: 5 } } });
    const setup = await host.call('post', '/mfa/totp/setup', { user: 'alice', body: {} });
    await host.call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId: setup.body.factorId, code: oathtool(setup.body.secret, host.clock.now()) } });
    for (let i = 0; i < 5; i++) await host.call('post', '/mfa/step-up', { user: 'alice', body: { code: '000000' === oathtool(setup.body.secret, host.clock.now()) ? '111111' : '000000' } });

    const user = await host.call('get', '/admin-api/users/alice', { headers: ADMIN });
    expect(user.status).toBe(200);
    expect(user.body).toMatchObject({ userId: 'alice', enabled: true, locked: true, factors: [{ type: 'totp' }] });
    expect(user.body.events[0]).toMatchObject({ type: 'mfa.locked' });

    const unlocked = await host.call('post', '/admin-api/users/alice/unlock', { headers: ADMIN, body: {} });
    expect(unlocked.status).toBe(204);
    expect((await host.call('get', '/admin-api/users/alice', { headers: ADMIN })).body).toMatchObject({ locked: false });

    const reset = await host.call('post', '/admin-api/users/alice/reset', { headers: ADMIN, body: { reason: 'lost phone; identity checked' } });
    expect(reset.status).toBe(204);
    expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ enabled: false, factors: [] });
    expect((await host.login('alice')).body).toMatchObject({ session: 'session-of-alice' });

    const events = await host.call('get', '/admin-api/events?userId=alice&limit=2', { headers: ADMIN });
    expect(events.status).toBe(200);
    expect(events.body.events.map((x: { type: string }) => x.type)).toEqual(['mfa.reset', 'mfa.unlocked']);
    expect(events.body.events[0]).toMatchObject({ actor: 'admin-1', detail: 'lost phone; identity checked', purpose: 'admin' });
    const next = await host.call('get', `/admin-api/events?userId=alice&limit=2&cursor=${events.body.nextCursor}`, { headers: ADMIN });
    expect(next.body.events[0].type).toBe('mfa.locked');
    expect((await host.call('get', '/admin-api/events?cursor=%25%25', { headers: ADMIN })).body).toMatchObject({ code: 'invalid_request', field: 'cursor' });
    expect((await host.call('get', '/admin-api/events?since=yesterday', { headers: ADMIN })).body).toMatchObject({ code: 'invalid_request', field: 'since' });

    const stats = await host.call('get', `/admin-api/stats?since=${new Date(host.clock.now() - DAY_MS).toISOString()}`, { headers: ADMIN });
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ usersWithMfa: 0, byFactorType: {} });
    expect(stats.body.days.at(-1)).toMatchObject({ day: '2026-01-01', failures: 5, locks: 1 });
  });
});
