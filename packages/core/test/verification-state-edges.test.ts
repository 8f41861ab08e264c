// How every flow verifies (flows/verification.ts), more edges mutation testing found unasserted
// (issue #14): how long a code sent lives (to the millisecond, and in the store), how many
// attempts it takes, what a refusal past a limit is recorded as, how long the IP budget
// remembers, and what a success spends (the state once, the factor's counter once, no factor
// touched for a code of no factor).
import type { MfaStore } from '@secondfactor/core';
import { memoryStore } from '@secondfactor/core';
import { enrolSms, enrolTotp, setup, smsSetup, totpNow } from './support/harness';

const IP = { ip: '198.51.100.4' };

/** A code sent for a step-up: the code and when it expires. */
async function sendCode(h: ReturnType<typeof smsSetup>, userId = 'alice') {
  await h.mfa.stepUp.challenge(userId, { method: 'sms' });
  return { code: h.sent.at(-1)!.code, expiresAt: (await h.store.getFactorState(`user:${userId}:sms`))!.expiresAt };
}

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

describe('a code sent', () => {
  test('is accepted until the millisecond before it expires, and kept in the store that long', async () => {
    const h = smsSetup({ oob: { ttlSeconds: 90 } }, { clockedStore: true });
    await enrolSms(h);
    const first = await sendCode(h);
    expect(first.expiresAt).toBe(h.clock.now() + 90_000);
    h.clock.set(first.expiresAt - 1);
    expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code: first.code })).toMatchObject({ ok: true });
    h.clock.advance(61); // past the resend cooldown
    const second = await sendCode(h);
    h.clock.set(second.expiresAt);
    expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code: second.code })).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('takes as many attempts as the lower of the plugin\'s and the challenge limit; the last wrong one deletes it', async () => {
    for (const [limits, max] of [[{ oob: { maxAttempts: 2 } }, 2], [{ oob: { maxAttempts: 10 }, challenge: { maxAttempts: 3 } }, 3]] as const) {
      const h = smsSetup({ ...limits, limits: { backoffAfterFailures: 100 } }, { clockedStore: true });
      await enrolSms(h);
      const { code } = await sendCode(h);
      for (let i = 1; i < max; i++) {
        expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code: wrong(code) })).toEqual({ ok: false, reason: 'invalid_code' });
        expect((await h.store.getFactorState('user:alice:sms'))?.attempts).toBe(i);
      }
      expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code: wrong(code) })).toEqual({ ok: false, reason: 'invalid_code' });
      expect(await h.store.getFactorState('user:alice:sms')).toBeNull();
      expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code })).toEqual({ ok: false, reason: 'invalid_code' });
    }
  });

  test('the right code on the last allowed attempt is accepted', async () => {
    const h = smsSetup({ oob: { maxAttempts: 3 }, limits: { backoffAfterFailures: 100 } }, { clockedStore: true });
    await enrolSms(h);
    const { code } = await sendCode(h);
    for (let i = 0; i < 2; i++) await h.mfa.stepUp.verify('alice', { method: 'sms', code: wrong(code) });
    expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code })).toMatchObject({ ok: true });
  });

  test('is spent once: of two requests with it, one succeeds', async () => {
    const h = smsSetup({}, { clockedStore: true });
    await enrolSms(h);
    const { code } = await sendCode(h);
    const results = await Promise.all([0, 1].map(() => h.mfa.stepUp.verify('alice', { method: 'sms', code })));
    expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
    expect(await h.store.getFactorState('user:alice:sms')).toBeNull();
  });
});

test('wrong answers past a login challenge\'s limit are recorded as challenge_attempts_exhausted, and not charged to the IP', async () => {
  const h = setup({ limits: { backoffAfterFailures: 100 } });
  await enrolTotp(h);
  const s = await h.mfa.login.start('alice');
  if (!s.required) throw new Error('expected a challenge');
  const before = h.events.length;
  await Promise.all(Array.from({ length: 12 }, () => h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' }, IP)));
  const reasons = h.events.slice(before).filter((e) => e.type === 'mfa.failed').map((e) => e.reason);
  expect(reasons.filter((r) => r === 'invalid_code')).toHaveLength(5);
  expect(reasons.filter((r) => r === 'challenge_attempts_exhausted')).toHaveLength(7);
  expect(await h.store.getCounter(`verify:ip:${IP.ip}:${Math.floor(h.clock.now() / 900_000)}`)).toBe(5);
});

test('the IP budget is remembered until its window ends, not shorter', async () => {
  let now = () => 0;
  const h = setup({ store: memoryStore({ physicalNow: () => now() }), limits: { perIpPerWindow: 1, ipWindowSeconds: 600, backoffAfterFailures: 100 } });
  now = h.clock.now;
  const { secret } = await enrolTotp(h); // the fake clock is now 40 s into a 600 s window
  const windowEnd = (Math.floor(h.clock.now() / 600_000) + 1) * 600_000;
  expect((await h.mfa.stepUp.verify('alice', { code: '000000' }, IP)).ok).toBe(false);
  h.clock.set(windowEnd - 1_000);
  expect(await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) }, IP)).toEqual({ ok: false, reason: 'too_many_attempts', retryAfter: 1 });
  h.clock.set(windowEnd);
  expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) }, IP)).ok).toBe(true);
});

test('a plain wrong code emits only its failure (no plugin warning)', async () => {
  const h = setup();
  await enrolTotp(h);
  const before = h.events.length;
  expect(await h.mfa.stepUp.verify('alice', { code: '000000' }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
  expect(h.events.slice(before)).toEqual([expect.objectContaining({ type: 'mfa.failed', reason: 'invalid_code', factorType: 'totp' })]);
});

test('of two requests with one TOTP code, the one that loses the counter is a replay, reported on its factor', async () => {
  const h = setup({ limits: { backoffAfterFailures: 100 } });
  const { secret, factorId } = await enrolTotp(h);
  const code = await totpNow(secret, h.clock.now());
  const before = h.events.length;
  const results = await Promise.all([0, 1].map(() => h.mfa.stepUp.verify('alice', { code }, IP)));
  expect(results.map((r) => r.ok).sort()).toEqual([false, true]);
  expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'invalid_code' });
  const events = h.events.slice(before);
  expect(events.filter((e) => e.type === 'totp.replay_rejected')).toEqual([
    expect.objectContaining({ userId: 'alice', factorId, factorType: 'totp', outcome: 'failure', reason: 'replayed', purpose: 'step_up', ip: IP.ip }),
  ]);
  expect(events.filter((e) => e.type === 'mfa.failed')).toEqual([expect.objectContaining({ reason: 'replayed' })]);
});

test('a backup code touches no factor; a TOTP code advances its factor\'s counter without a separate touch', async () => {
  const inner = memoryStore();
  const touched: string[] = [];
  const store: MfaStore = {
    ...inner,
    touchFactor: async (userId, factorId, at) => {
      touched.push(String(factorId));
      return inner.touchFactor(userId, factorId, at);
    },
  };
  const h = setup({ store });
  const { backupCodes, secret, factorId } = await enrolTotp(h);
  touched.length = 0;
  expect((await h.mfa.stepUp.verify('alice', { method: 'backup_code', code: backupCodes[0]! })).ok).toBe(true);
  expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
  expect(touched).toEqual([]);
  expect((await h.store.getFactor('alice', factorId))?.lastUsedAt).toBe(h.clock.now());
});

describe('a code whose attempts are all taken', () => {
  const ipCounter = (h: ReturnType<typeof setup>) => h.store.getCounter(`verify:ip:${IP.ip}:${Math.floor(h.clock.now() / 900_000)}`);

  test('by requests not yet answered: even the right code is refused unevaluated (challenge_attempts_exhausted, not charged to the IP), the code left to them', async () => {
    const h = smsSetup({ oob: { maxAttempts: 3 }, limits: { backoffAfterFailures: 100 } });
    await enrolSms(h);
    const { code } = await sendCode(h);
    // Three requests counted their attempt and are still being evaluated.
    const record = (await h.store.getFactorState('user:alice:sms'))!;
    await h.store.putFactorState('user:alice:sms', { ...record, attempts: 3 }, 600);
    const before = h.events.length;
    expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.slice(before)).toEqual([expect.objectContaining({ type: 'mfa.failed', outcome: 'failure', reason: 'challenge_attempts_exhausted', purpose: 'step_up' })]);
    expect(await ipCounter(h)).toBe(0);
    expect(await h.store.getFactorState('user:alice:sms')).toMatchObject({ secret: record.secret, attempts: 4 });
  });

  test('by a request whose last wrong attempt deleted it between this one\'s read and count: refused unevaluated', async () => {
    const inner = memoryStore();
    let armed = false;
    const store: MfaStore = {
      ...inner,
      incrementFactorStateAttempts: async (key) => {
        if (armed) await inner.deleteFactorState(key); // the other request's last wrong attempt
        return inner.incrementFactorStateAttempts(key);
      },
    };
    const h = smsSetup({ store, limits: { backoffAfterFailures: 100 } });
    await enrolSms(h);
    const { code } = await sendCode(h);
    armed = true;
    const before = h.events.length;
    expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.slice(before)).toEqual([expect.objectContaining({ type: 'mfa.failed', reason: 'challenge_attempts_exhausted', purpose: 'step_up' })]);
    expect(await ipCounter(h)).toBe(0);
  });
});

test('a code spent by another request between its check and its spend is refused, as an evaluated invalid_code; the factor is not touched', async () => {
  const inner = memoryStore();
  let armed = false;
  const store: MfaStore = {
    ...inner,
    consumeFactorState: async (key, secret) => {
      if (armed) await inner.consumeFactorState(key, secret); // the other request, first
      return inner.consumeFactorState(key, secret);
    },
  };
  const h = smsSetup({ store, limits: { backoffAfterFailures: 100 } });
  const factorId = await enrolSms(h);
  const lastUsedAt = (await h.store.getFactor('alice', factorId))!.lastUsedAt;
  h.clock.advance(10);
  const { code } = await sendCode(h);
  armed = true;
  const before = h.events.length;
  expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
  expect(h.events.slice(before).filter((e) => e.type.startsWith('mfa.'))).toEqual([
    expect.objectContaining({ type: 'mfa.failed', outcome: 'failure', reason: 'invalid_code', purpose: 'step_up' }),
  ]);
  expect(await h.store.getCounter(`verify:ip:${IP.ip}:${Math.floor(h.clock.now() / 900_000)}`)).toBe(1);
  expect((await h.store.getFactor('alice', factorId))!.lastUsedAt).toBe(lastUsedAt);
});

test('a state under the key that is not this verification\'s (another user\'s) is neither trusted, counted nor deleted', async () => {
  const h = smsSetup({ limits: { backoffAfterFailures: 100 } });
  await enrolSms(h);
  const foreign = { type: 'sms', purpose: 'step_up', userId: 'bob', factorId: null, secret: 'x', createdAt: h.clock.now(), expiresAt: h.clock.now() + 60_000, attempts: 0 };
  await h.store.putFactorState('user:alice:sms', foreign, 600);
  expect(await h.mfa.stepUp.verify('alice', { method: 'sms', code: '123456' })).toEqual({ ok: false, reason: 'invalid_code' });
  expect(await h.store.getFactorState('user:alice:sms')).toEqual(foreign);
});

test('a code sent is dropped from the store a minute after it expires', async () => {
  const h = smsSetup({ oob: { ttlSeconds: 90 } }, { clockedStore: true });
  await enrolSms(h);
  const { expiresAt } = await sendCode(h);
  h.clock.set(expiresAt + 60_000 - 1);
  expect(await h.store.getFactorState('user:alice:sms')).not.toBeNull();
  h.clock.set(expiresAt + 60_000);
  expect(await h.store.getFactorState('user:alice:sms')).toBeNull();
});

test('two users\' pending enrolments keep their own codes', async () => {
  const h = smsSetup();
  const a = await h.mfa.enroll('alice', 'sms', { input: { phone: '+14155550123' } });
  const aliceCode = h.sent.at(-1)!.code;
  const b = await h.mfa.enroll('bob', 'sms', { input: { phone: '+14155550199' } });
  const bobCode = h.sent.at(-1)!.code;
  expect(await h.mfa.confirm('alice', a.factorId, { code: aliceCode })).toMatchObject({ ok: true });
  expect(await h.mfa.confirm('bob', b.factorId, { code: bobCode })).toMatchObject({ ok: true });
});
