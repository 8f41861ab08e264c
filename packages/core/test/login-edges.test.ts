// The login flow (flows/login.ts) at the edges mutation testing found unasserted (issue #14): the
// enforcement policy at the start (enrol first, grace, the types that count), which tokens reach
// the store at all, the per-login step of a code factor, the challenge's lifetime to the
// millisecond and in the store, the attempt that ends it, and what a success returns and records.
import { backupCodes, memoryStore, totp, type FactorPlugin, type FactorRecord, type MfaStore } from '@secondfactor/core';
import { PHONE, challengeFor, challengeIdOf, enrolSms, enrolTotp, setup, smsSetup, storeLosingBackupCodeRace, totpNow } from './support/harness';

const UA = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36';
const iso = (ms: number) => new Date(ms).toISOString();

describe('the start under a policy', () => {
  test('no factor and no policy: no second step, nothing more said; a policy that does not require MFA adds a notice', async () => {
    const h = setup();
    expect(await h.mfa.login.start('alice')).toEqual({ required: false, trustedDevice: false });
    expect(await h.mfa.login.start('alice', { policy: undefined })).toEqual({ required: false, trustedDevice: false });
    expect(await h.mfa.login.start('alice', { policy: { required: false } })).toEqual({
      required: false, trustedDevice: false, enrollment: { required: false, graceUntil: null, methods: ['totp'] },
    });
    expect(h.events).toEqual([]);
  });

  test('required, within the grace period: the login continues with a notice; from graceUntil on, enrolment is enforced', async () => {
    const h = setup({ enrollment: { pendingTtlSeconds: 120 } });
    const graceUntil = h.clock.now() + 1_000;
    expect(await h.mfa.login.start('alice', { policy: { required: true, graceUntil } })).toEqual({
      required: false, trustedDevice: false, enrollment: { required: true, graceUntil: iso(graceUntil), methods: ['totp'] },
    });
    h.clock.set(graceUntil);
    const r = await h.mfa.login.start('alice', { policy: { required: true, graceUntil: new Date(graceUntil) } });
    expect(r).toEqual({ required: true, enrollmentRequired: true, enrollmentToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), methods: ['totp'], expiresAt: iso(graceUntil + 120_000) });
  });

  test('required without a factor: an enrolment token for this user and the allowed types, kept until it expires, recorded', async () => {
    const h = smsSetup({ enrollment: { pendingTtlSeconds: 120 } }, { clockedStore: true });
    const r = await h.mfa.login.start('alice', { policy: { required: true, methods: ['sms'] }, context: { ip: '192.0.2.7' } });
    if (!r.required || !('enrollmentRequired' in r)) throw new Error('expected an enrolment token');
    expect(r).toEqual({ required: true, enrollmentRequired: true, enrollmentToken: expect.any(String), methods: ['sms'], expiresAt: iso(h.clock.now() + 120_000) });
    expect(h.events).toEqual([expect.objectContaining({ type: 'enrollment.required', userId: 'alice', outcome: 'success', purpose: 'login', ip: '192.0.2.7' })]);
    // Not a login challenge: the token passes for nothing there.
    expect(await h.mfa.login.verify(r.enrollmentToken, { method: 'totp', code: '123456' })).toEqual({ ok: false, reason: 'challenge_expired' });
    h.clock.advance(119);
    expect(await h.mfa.login.enrollment(r.enrollmentToken)).toEqual({ userId: 'alice', methods: ['sms'] });
    h.clock.advance(1);
    await expect(h.mfa.login.enrollment(r.enrollmentToken)).rejects.toMatchObject({ code: 'challenge_expired' });
  });

  test('the types a policy counts: a user with none of them must enrol one; the others are not offered, recovery codes are', async () => {
    const h = smsSetup({}, { clockedStore: true });
    await enrolSms(h);
    const policy = { required: true, methods: ['totp'] };
    const enrol = await h.mfa.login.start('alice', { policy });
    expect(enrol).toMatchObject({ required: true, enrollmentRequired: true, methods: ['totp'] });
    // Not required: the factors the user has still protect the login, all of them offered.
    expect(await h.mfa.login.start('alice', { policy: { required: false, methods: ['totp'] } })).toMatchObject({ required: true, methods: ['sms', 'backup_code'] });
    const proof = { assertion: (await h.mfa.assertions.issue('alice', ['otp'])).assertion };
    const e = await h.mfa.enroll('alice', 'totp', { proof });
    expect((await h.mfa.confirm('alice', e.factorId, { code: await totpNow(e.secret, h.clock.now()) })).ok).toBe(true);
    expect(await h.mfa.login.start('alice', { policy })).toMatchObject({ required: true, methods: ['totp', 'backup_code'] });
    expect(await h.mfa.login.start('alice', { policy: { required: true } })).toMatchObject({ required: true, methods: ['totp', 'sms', 'backup_code'] });
    expect(await h.mfa.login.start('alice')).toMatchObject({ required: true, methods: ['totp', 'sms', 'backup_code'] });
  });
});

test('a plugin that offers itself is not offered when the policy counts other types (recovery codes still are)', async () => {
  // A plugin with its own `offered` (no factor of its type needed), as a third-party plugin may have.
  const beacon: FactorPlugin = {
    type: 'beacon', input: 'code', phishingResistant: false, restricted: false,
    parseInput: ({ code }) => code,
    offered: async () => true,
    verify: async () => ({ ok: false, reason: 'invalid_code' }),
  };
  const h = setup({ factors: [totp(), beacon, backupCodes({ bcryptCost: 4 })] });
  await enrolTotp(h);
  expect(await h.mfa.login.start('alice', { policy: { required: true, methods: ['totp'] } })).toMatchObject({ required: true, methods: ['totp', 'backup_code'] });
  expect(await h.mfa.login.start('alice', { policy: { required: true } })).toMatchObject({ required: true, methods: ['totp', 'beacon', 'backup_code'] });
  expect(await h.mfa.login.start('alice')).toMatchObject({ required: true, methods: ['totp', 'beacon', 'backup_code'] });
});

describe('a challenge', () => {
  test('lives its TTL to the millisecond, in the store as long, and its start is recorded', async () => {
    const h = smsSetup({ challenge: { ttlSeconds: 120 } }, { clockedStore: true });
    const { secret } = await enrolTotp(h);
    const before = h.events.length;
    const s = await challengeFor(h);
    expect(s).toEqual({ required: true, challengeToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), methods: ['totp', 'backup_code'], expiresAt: iso(h.clock.now() + 120_000) });
    expect(h.events.slice(before)).toEqual([expect.objectContaining({ type: 'challenge.started', userId: 'alice', outcome: 'success', purpose: 'login' })]);
    expect(await h.store.getChallenge(challengeIdOf(s.challengeToken))).toMatchObject({ userId: 'alice', methods: ['totp', 'backup_code'], createdAt: h.clock.now(), attempts: 0 });
    const expiresAt = Date.parse(s.expiresAt);
    h.clock.set(expiresAt);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, expiresAt) })).toEqual({ ok: false, reason: 'challenge_expired' });
    const t = await challengeFor(h);
    h.clock.set(Date.parse(t.expiresAt) - 1);
    expect(await h.mfa.login.verify(t.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).toMatchObject({ ok: true });
  });

  test('a malformed token never reaches the store; a token that is not a string is refused even when it reads as a live one', async () => {
    const inner = memoryStore();
    const looked: string[] = [];
    const store: MfaStore = {
      ...inner,
      getChallenge: async (id) => {
        looked.push(id);
        return inner.getChallenge(id);
      },
    };
    const h = setup({ store, sms: { send: async () => {} } });
    await enrolTotp(h);
    const s = await challengeFor(h);
    const token = s.challengeToken;
    for (const bad of [token.slice(1), `${token}A`, `A${token}`, `${token.slice(0, 42)}+`, `${token.slice(0, 42)}=`, 42, null]) {
      expect(await h.mfa.login.verify(bad, { method: 'totp', code: '000000' })).toEqual({ ok: false, reason: 'challenge_expired' });
      expect(await h.mfa.login.challenge(bad, { method: 'sms' })).toEqual({ ok: false, reason: 'challenge_expired' });
    }
    expect(looked).toEqual([]);
    const lookalike = { toString: () => token };
    expect(await h.mfa.login.verify(lookalike, { method: 'totp', code: '000000' })).toEqual({ ok: false, reason: 'challenge_expired' });
    expect(looked).toEqual([]);
  });

  test('the wrong attempt that reaches the limit ends it: no code can be sent for it after', async () => {
    const h = smsSetup({ challenge: { maxAttempts: 3 }, limits: { backoffAfterFailures: 100 } }, { clockedStore: true });
    await enrolSms(h);
    const s = await challengeFor(h);
    for (let i = 0; i < 2; i++) expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await h.store.getChallenge(challengeIdOf(s.challengeToken))).toMatchObject({ attempts: 2 });
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await h.store.getChallenge(challengeIdOf(s.challengeToken))).toBeNull();
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('a challenge given back after a lost race keeps its attempts and lives in the store until it expires', async () => {
    let now = () => 0;
    const inner = memoryStore({ physicalNow: () => now() });
    const { store, armRace } = storeLosingBackupCodeRace(inner);
    const h = setup({ store, challenge: { ttlSeconds: 300 }, limits: { backoffAfterFailures: 100 } });
    now = h.clock.now;
    const { backupCodes, secret } = await enrolTotp(h);
    const s = await challengeFor(h);
    const id = challengeIdOf(s.challengeToken);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    await armRace();
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await inner.getChallenge(id)).toMatchObject({ userId: 'alice', attempts: 2 });
    h.clock.set(Date.parse(s.expiresAt) - 1_000);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).toMatchObject({ ok: true });
  });
});

describe('the per-login step', () => {
  test('only for a type that has one, and was offered to this login', async () => {
    const h = smsSetup({}, { clockedStore: true });
    await enrolTotp(h);
    const s = await challengeFor(h);
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'totp' })).rejects.toMatchObject({ code: 'invalid_request', field: 'method', message: 'method "totp" needs no challenge step' });
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).rejects.toMatchObject({ code: 'invalid_request', field: 'method', message: 'method "sms" is not available for this login' });
    await expect(h.mfa.login.verify(s.challengeToken, { method: 'sms', code: '123456' })).rejects.toMatchObject({ code: 'invalid_request', field: 'method', message: 'method "sms" is not available for this login' });
    expect(h.sent).toHaveLength(0);
  });

  test('sends to the factor asked for (the first by default), says where, and holds back a resend for the cooldown', async () => {
    const h = smsSetup({}, { clockedStore: true });
    const first = await enrolSms(h);
    const proof = { assertion: (await h.mfa.assertions.issue('alice', ['otp'])).assertion };
    const second = await enrolSms(h, 'alice', '+14155550199', proof);
    const s = await challengeFor(h);
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms', factorId: second })).toEqual({ ok: true, factorId: second, show: { sentTo: expect.stringMatching(/99$/) } });
    expect(h.sent.at(-1)!.to).toBe('+14155550199');
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).rejects.toMatchObject({ code: 'too_many_attempts', retryAfter: 30 });
    h.clock.advance(29);
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).rejects.toMatchObject({ code: 'too_many_attempts', retryAfter: 1 });
    h.clock.advance(1);
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).toEqual({ ok: true, factorId: first, show: { sentTo: expect.stringMatching(/23$/) } });
    expect(h.sent.at(-1)!.to).toBe(PHONE);
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms', factorId: 'nope' })).rejects.toMatchObject({ field: 'factorId' });
  });

  test('a state under the key that is not this user\'s is not passed on as the previous one (no cooldown from it)', async () => {
    const h = smsSetup({}, { clockedStore: true });
    await enrolSms(h);
    const s = await challengeFor(h);
    const key = `login:${challengeIdOf(s.challengeToken)}:sms`;
    await h.store.putFactorState(key, { type: 'sms', purpose: 'login', userId: 'bob', factorId: null, secret: 'x', createdAt: h.clock.now(), expiresAt: h.clock.now() + 60_000, attempts: 0 }, 600);
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).toMatchObject({ ok: true });
    expect(await h.store.getFactorState(key)).toMatchObject({ userId: 'alice' });
  });

  test('a challenge past its expiry takes no step', async () => {
    const h = smsSetup({}, { clockedStore: true });
    await enrolSms(h);
    const s = await challengeFor(h);
    h.clock.set(Date.parse(s.expiresAt));
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).toEqual({ ok: false, reason: 'challenge_expired' });
    h.clock.set(Date.parse(s.expiresAt) - 1);
    expect(await h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).toMatchObject({ ok: true });
  });
});

describe('the verification', () => {
  test('the shape of the input is checked before the token: bad input on an unknown token is misuse', async () => {
    const h = setup();
    await expect(h.mfa.login.verify('A'.repeat(43), { method: 'totp', code: 'abc' })).rejects.toMatchObject({ code: 'invalid_request', field: 'code' });
    await expect(h.mfa.login.verify('A'.repeat(43), { method: 'totp', code: '123456', trustDevice: 'yes' as never })).rejects.toMatchObject({
      code: 'invalid_request', field: 'trustDevice', message: 'trustDevice must be a boolean',
    });
    expect(await h.mfa.login.verify('A'.repeat(43), { method: 'totp', code: '123456', trustDevice: false })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('a success: the user, the methods, an assertion; recorded with the factor; a trusted device only when asked', async () => {
    const h = setup({ trustedDevices: { ttlSeconds: 3600 } });
    const { secret, factorId } = await enrolTotp(h);
    const s = await challengeFor(h);
    const r = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()), trustDevice: false }, { ip: '192.0.2.1' });
    expect(r).toEqual({ ok: true, userId: 'alice', amr: ['mfa', 'otp'], assertion: expect.any(String), expiresIn: 300 });
    expect(h.events.at(-1)).toEqual(expect.objectContaining({ type: 'mfa.verified', userId: 'alice', factorId, factorType: 'totp', outcome: 'success', purpose: 'login', ip: '192.0.2.1' }));
    expect(await h.store.listTrustedDevices('alice')).toEqual([]);
    h.clock.advance(30);
    const t = await challengeFor(h);
    const now = h.clock.now();
    const trusted = await h.mfa.login.verify(t.challengeToken, { method: 'totp', code: await totpNow(secret, now), trustDevice: true }, { userAgent: UA });
    if (!trusted.ok) throw new Error('expected a login');
    expect(trusted.trustedDevice).toEqual({ id: expect.any(String), token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: iso(now + 3_600_000), maxAgeSeconds: 3600 });
    expect(await h.store.listTrustedDevices('alice')).toEqual([
      expect.objectContaining({ id: trusted.trustedDevice!.id, userId: 'alice', label: 'Chrome on Linux', createdAt: now, lastSeenAt: now, expiresAt: now + 3_600_000 }),
    ]);
    expect(h.events.at(-1)).toEqual(expect.objectContaining({ type: 'device.trusted', userId: 'alice', outcome: 'success', purpose: 'login' }));
    expect(await h.mfa.login.start('alice', { trustedDeviceToken: trusted.trustedDevice!.token })).toEqual({ required: false, trustedDevice: true });
  });
});

describe('a challenge given back after a lost race', () => {
  /** A store whose next `takeChallenge` is followed by `during` (someone else spends the code; time passes). */
  function storeWithRace(now: () => number) {
    const inner = memoryStore({ physicalNow: () => now() });
    let during: (() => Promise<void>) | undefined;
    const store: MfaStore = {
      ...inner,
      takeChallenge: async (id) => {
        const taken = await inner.takeChallenge(id);
        const run = during;
        during = undefined;
        await run?.();
        return taken;
      },
    };
    const arm = (f: () => Promise<void>) => {
      during = f;
    };
    return { inner, store, arm };
  }

  async function raced(then: (h: ReturnType<typeof setup>, expiresAt: number) => void) {
    let now = () => 0;
    const { inner, store, arm } = storeWithRace(() => now());
    const h = setup({ store, challenge: { ttlSeconds: 300 }, limits: { backoffAfterFailures: 100 } });
    now = h.clock.now;
    const { backupCodes } = await enrolTotp(h);
    const s = await challengeFor(h);
    const expiresAt = Date.parse(s.expiresAt);
    const set = (await inner.getBackupCodes('alice'))!;
    arm(async () => {
      for (const hash of set.hashes) await inner.consumeBackupCode('alice', hash, 0);
      then(h, expiresAt);
    });
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).toEqual({ ok: false, reason: 'invalid_code' });
    return { h, inner, id: challengeIdOf(s.challengeToken), expiresAt };
  }

  test('is kept in the store until a minute after it expires, not longer', async () => {
    const { h, inner, id, expiresAt } = await raced(() => {});
    h.clock.set(expiresAt + 60_000 - 1);
    expect(await inner.getChallenge(id)).toMatchObject({ userId: 'alice', attempts: 1 });
    h.clock.set(expiresAt + 60_000);
    expect(await inner.getChallenge(id)).toBeNull();
  });

  test('is not given back when it expired meanwhile', async () => {
    const { inner, id } = await raced((h, expiresAt) => h.clock.set(expiresAt));
    expect(await inner.getChallenge(id)).toBeNull();
  });
});

test('a valid code whose challenge another request took first is answered challenge_expired, and spends nothing', async () => {
  const inner = memoryStore();
  let armed = false;
  const store: MfaStore = {
    ...inner,
    takeChallenge: async (id) => {
      if (armed) await inner.takeChallenge(id); // the other request, first
      return inner.takeChallenge(id);
    },
  };
  const h = setup({ store });
  const { secret, factorId } = await enrolTotp(h);
  const counter = (await h.store.getFactor('alice', factorId))!.counter;
  const s = await challengeFor(h);
  armed = true;
  const before = h.events.length;
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).toEqual({ ok: false, reason: 'challenge_expired' });
  expect((await h.store.getFactor('alice', factorId))!.counter).toBe(counter);
  expect(h.events.slice(before)).toEqual([]);
});

test('a trusted device asked for without a request context gets the default label', async () => {
  const h = setup();
  const { secret } = await enrolTotp(h);
  const s = await challengeFor(h);
  const r = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()), trustDevice: true });
  expect(r).toMatchObject({ ok: true, trustedDevice: { token: expect.any(String) } });
  expect(await h.store.listTrustedDevices('alice')).toEqual([expect.objectContaining({ label: 'Unknown device' })]);
});

test('a plugin\'s per-login step is told the user, the purpose, the factor picked (only when one was) and the request; it sees only factors of its own type', async () => {
  const steps: object[] = [];
  const seen: FactorRecord[][] = [];
  const beacon: FactorPlugin = {
    type: 'beacon', input: 'code', phishingResistant: false, restricted: false,
    parseInput: ({ code }, factors) => {
      seen.push(factors);
      return code;
    },
    offered: async () => true,
    challenge: async (_ctx, args) => {
      steps.push(args);
      return { factorId: null, state: { secret: 'sent', ttlSeconds: 60 }, show: { sent: true } };
    },
    verify: async (_ctx, { input, factors }) => {
      seen.push(factors);
      return input === 'ok' ? { ok: true, amr: ['otp'], factorId: null } : { ok: false, reason: 'invalid_code' };
    },
  };
  const h = setup({ factors: [totp(), beacon, backupCodes({ bcryptCost: 4 })] });
  await enrolTotp(h);
  const s = await challengeFor(h);
  const req = { ip: '192.0.2.9', userAgent: UA };
  expect(await h.mfa.login.challenge(s.challengeToken, { method: 'beacon' }, req)).toEqual({ ok: true, factorId: null, show: { sent: true } });
  expect(steps[0]).toStrictEqual({ userId: 'alice', factors: [], purpose: 'login', req, previous: null });
  const sentAt = h.clock.now();
  h.clock.advance(5);
  await h.mfa.login.challenge(s.challengeToken, { method: 'beacon', factorId: 'picked' });
  expect(steps[1]).toStrictEqual({
    userId: 'alice', factors: [], purpose: 'login', factorId: 'picked',
    previous: { factorId: null, secret: 'sent', createdAt: sentAt, expiresAt: sentAt + 60_000, attempts: 0 },
  });
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'beacon', code: 'ok' })).toMatchObject({ ok: true, userId: 'alice' });
  // The input's shape (before the token is looked up), then the input and the verification, each with no factor.
  expect(seen).toEqual([[], [], []]);
});
