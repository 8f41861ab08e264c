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
