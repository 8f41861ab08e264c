// How every flow verifies (flows/verification.ts) at the edges mutation testing found unasserted
// (issue #14): the per-IP refusal (its Retry-After and event), what the IP budget counts, the
// per-factor state a verification trusts, how long that state lives, and the factor's last use.
import { backupCodes, memoryStore, totp, type FactorPlugin, type PluginState } from '@secondfactor/core';
import { challengeFor, challengeIdOf, enrolSms, enrolTotp, setup, smsSetup, storeLosingBackupCodeRace, totpNow } from './support/harness';

const IP = { ip: '203.0.113.7' };

describe('the per-IP budget', () => {
  test('over it, a request is refused until the window ends, as an ip_rate_limited failure, with nothing evaluated or counted', async () => {
    const h = setup({ limits: { perIpPerWindow: 2, ipWindowSeconds: 600 } });
    const { secret } = await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    for (const u of ['bob', 'bob']) {
      expect(await h.mfa.login.verify((await challengeFor(h, u)).challengeToken, { method: 'totp', code: '000000' }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
    }
    const before = await h.store.getAttemptState('alice');
    const now = h.clock.now();
    const windowEnd = (Math.floor(now / 600_000) + 1) * 600_000;
    const r = await h.mfa.login.verify((await challengeFor(h)).challengeToken, { method: 'totp', code: await totpNow(secret, now) }, IP);
    expect(r).toEqual({ ok: false, reason: 'too_many_attempts', retryAfter: Math.ceil((windowEnd - now) / 1000) });
    expect(h.events.at(-1)).toEqual({ type: 'mfa.failed', userId: 'alice', factorType: 'totp', outcome: 'failure', reason: 'ip_rate_limited', purpose: 'login', ip: IP.ip, at: now });
    expect(await h.store.getAttemptState('alice')).toEqual(before);
    // One second before the window ends: still refused, for 1 second.
    h.clock.set(windowEnd - 1_000);
    expect(await h.mfa.login.verify((await challengeFor(h)).challengeToken, { method: 'totp', code: '000000' }, IP)).toEqual({ ok: false, reason: 'too_many_attempts', retryAfter: 1 });
    h.clock.set(windowEnd);
    expect((await h.mfa.login.verify((await challengeFor(h)).challengeToken, { method: 'totp', code: await totpNow(secret, windowEnd) }, IP)).ok).toBe(true);
  });

  test('attempts refused unevaluated (past a challenge\'s limit) do not spend it', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    await enrolTotp(h);
    const s = await challengeFor(h);
    const results = await Promise.all(Array.from({ length: 30 }, () => h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' }, IP)));
    expect(results.every((r) => !r.ok)).toBe(true);
    const failed = h.events.filter((e) => e.type === 'mfa.failed');
    const evaluated = failed.filter((e) => e.reason === 'invalid_code').length;
    expect(evaluated).toBe(5);
    expect(await h.store.getCounter(`verify:ip:${IP.ip}:${Math.floor(h.clock.now() / 900_000)}`)).toBe(evaluated);
  });

  test('a request without an address has no IP budget (nothing counted under an empty address)', async () => {
    const h = setup({ limits: { perIpPerWindow: 1, backoffAfterFailures: 100 } });
    const { secret } = await enrolTotp(h);
    for (let i = 0; i < 3; i++) expect(await h.mfa.login.verify((await challengeFor(h)).challengeToken, { method: 'totp', code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await h.store.getCounter(`verify:ip:undefined:${Math.floor(h.clock.now() / 900_000)}`)).toBe(0);
    expect((await h.mfa.login.verify((await challengeFor(h)).challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
  });
});

test('a refusal by the backoff is a too_many_attempts failure event for the flow that asked', async () => {
  const h = setup({ limits: { backoffAfterFailures: 1 } });
  await enrolTotp(h);
  expect((await h.mfa.stepUp.verify('alice', { code: '000000' }, IP)).ok).toBe(false);
  expect(await h.mfa.stepUp.verify('alice', { code: '000000' }, IP)).toEqual({ ok: false, reason: 'too_many_attempts', retryAfter: 30 });
  expect(h.events.at(-1)).toEqual({ type: 'mfa.failed', userId: 'alice', factorType: 'totp', outcome: 'failure', reason: 'too_many_attempts', purpose: 'step_up', ip: IP.ip, at: h.clock.now() });
});

test('the failure that locks the user is followed by one mfa.locked failure event, for the flow that asked', async () => {
  const h = setup({ limits: { lockAfterFailures: 3, backoffAfterFailures: 100 } });
  await enrolTotp(h);
  const UA = { ...IP, userAgent: 'test-agent/1.0' };
  for (let i = 0; i < 3; i++) expect(await h.mfa.stepUp.verify('alice', { code: '000000' }, UA)).toEqual({ ok: false, reason: 'invalid_code' });
  const at = h.clock.now();
  const locked = h.events.filter((e) => e.type === 'mfa.locked');
  expect(locked).toEqual([{ type: 'mfa.locked', userId: 'alice', outcome: 'failure', reason: 'too_many_attempts', purpose: 'step_up', ip: IP.ip, userAgent: UA.userAgent, at }]);
  expect(h.events.at(-1)).toBe(locked[0]);
  expect(h.events.at(-2)).toMatchObject({ type: 'mfa.failed', outcome: 'failure', reason: 'invalid_code', purpose: 'step_up' });
});

describe('per-factor state (a code sent)', () => {
  test('lives no longer than its login challenge, and is only trusted for its own type, purpose and user', async () => {
    const h = smsSetup({ challenge: { ttlSeconds: 120 } });
    await enrolSms(h);
    const s = await challengeFor(h);
    await h.mfa.login.challenge(s.challengeToken, { method: 'sms' });
    const code = h.sent.at(-1)!.code;
    const key = `login:${challengeIdOf(s.challengeToken)}:sms`;
    const record = (await h.store.getFactorState(key))!;
    expect(record.expiresAt).toBe(Date.parse(s.expiresAt));
    expect(record).toMatchObject({ type: 'sms', purpose: 'login', userId: 'alice', createdAt: h.clock.now(), attempts: 0 });
    for (const changed of [{ type: 'email' }, { purpose: 'step_up' }, { userId: 'bob' }]) {
      await h.store.putFactorState(key, { ...record, ...changed }, 600);
      expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
    }
    await h.store.putFactorState(key, record, 600);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code }, IP)).toMatchObject({ ok: true });
  });

  test('a code sent for a step-up lives its own TTL', async () => {
    const h = smsSetup({ oob: { ttlSeconds: 90 } });
    await enrolSms(h);
    const sent = await h.mfa.stepUp.challenge('alice', { method: 'sms' });
    expect(sent).toMatchObject({ ok: true });
    expect((await h.store.getFactorState('user:alice:sms'))?.expiresAt).toBe(h.clock.now() + 90_000);
  });
});

test('a verification records the last use of the factor it matched (and gives a factor without a counter none)', async () => {
  const h = smsSetup();
  const factorId = await enrolSms(h);
  h.clock.advance(100);
  const s = await challengeFor(h);
  await h.mfa.login.challenge(s.challengeToken, { method: 'sms' });
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: h.sent.at(-1)!.code })).toMatchObject({ ok: true });
  expect((await h.store.getFactor('alice', factorId))?.lastUsedAt).toBe(h.clock.now());
  expect((await h.store.getFactor('alice', factorId))?.counter).toBeNull();
});

describe('a third-party plugin', () => {
  /** A code plugin offered to everyone that accepts "ok"; with a per-login step when `withStep`. Records the state it is handed. */
  function codePlugin(type: string, withStep: boolean, seen: (PluginState | null | undefined)[]): FactorPlugin {
    return {
      type, input: 'code', phishingResistant: false, restricted: false,
      parseInput: ({ code }) => code,
      offered: async () => true,
      ...(withStep ? { challenge: async () => ({ factorId: null, state: { secret: 'sent', ttlSeconds: 60 }, show: {} }) } : {}),
      verify: async (_ctx, { input, state }) => {
        seen.push(state);
        return input === 'ok' ? { ok: true, amr: ['otp'], factorId: null } : { ok: false, reason: 'invalid_code' };
      },
    };
  }

  test('is handed state null when nothing is kept for it, and a success without state passes (nothing to spend)', async () => {
    const seen: (PluginState | null | undefined)[] = [];
    const h = setup({ factors: [totp(), codePlugin('plain', false, seen), codePlugin('stepped', true, seen), backupCodes({ bcryptCost: 4 })] });
    await enrolTotp(h);
    for (const method of ['plain', 'stepped']) {
      const s = await challengeFor(h);
      expect(s.methods).toContain(method);
      // No per-login step taken for `stepped`: no state under its key.
      expect(await h.mfa.login.verify(s.challengeToken, { method, code: 'no' })).toEqual({ ok: false, reason: 'invalid_code' });
      expect(await h.mfa.login.verify(s.challengeToken, { method, code: 'ok' })).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'otp'] });
    }
    expect(seen).toEqual([null, null, null, null]);
  });
});

test('a backup code that loses its race after its request took the challenge is recorded as an invalid_code failure', async () => {
  const { store, armRace } = storeLosingBackupCodeRace(memoryStore());
  const h = setup({ store, limits: { backoffAfterFailures: 100 } });
  const { backupCodes: codes } = await enrolTotp(h);
  const s = await challengeFor(h);
  await armRace();
  const before = h.events.length;
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: codes[0]! }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
  expect(h.events.slice(before)).toEqual([expect.objectContaining({ type: 'mfa.failed', outcome: 'failure', reason: 'invalid_code', factorType: 'backup_code', purpose: 'login' })]);
});
