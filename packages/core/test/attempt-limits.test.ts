// Per-user consecutive-failure limits (RL-01, RL-02, RL-04, RL-07) and the lock.
import { backoffSeconds } from '@secondfactor/core';
import { enrolTotp, setup, totpNow } from './support/harness';

const LIMITS = { backoffAfterFailures: 5, backoffBaseSeconds: 30, backoffMaxSeconds: 3600, lockAfterFailures: 100, perIpPerWindow: 300, ipWindowSeconds: 900 };

async function wrong(h: ReturnType<typeof setup>) {
  const s = await h.mfa.login.start('alice');
  if (!s.required) throw new Error('expected a challenge');
  return h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' });
}

test('backoff: 30 s from the 5th consecutive failure, doubling, capped at 1 h (RL-04)', () => {
  expect([1, 4, 5, 6, 7, 8, 12, 13, 50].map((n) => backoffSeconds(n, LIMITS))).toEqual([0, 0, 30, 60, 120, 240, 3600, 3600, 3600]);
});

test('from the 5th failure even a correct code is refused until Retry-After, then accepted (RL-01)', async () => {
  const h = setup();
  const { secret } = await enrolTotp(h);
  for (let i = 0; i < 5; i++) expect(await wrong(h)).toEqual({ ok: false, reason: 'invalid_code' });
  const s = await h.mfa.login.start('alice');
  if (!s.required) throw new Error('expected a challenge');
  const refused = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) });
  expect(refused).toEqual({ ok: false, reason: 'too_many_attempts', retryAfter: 30 });
  h.clock.advance(30);
  const s2 = await h.mfa.login.start('alice');
  if (!s2.required) throw new Error('expected a challenge');
  expect((await h.mfa.login.verify(s2.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
  expect(await h.store.getAttemptState('alice')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
});

test('the counter is shared by challenges, step-up and management (RL-02)', async () => {
  const h = setup();
  await enrolTotp(h);
  await wrong(h);
  await wrong(h);
  expect((await h.mfa.stepUp.verify('alice', { code: '000000' })).ok).toBe(false);
  expect((await h.mfa.backupCodes.regenerate('alice', { code: '000000' })).ok).toBe(false);
  expect((await h.mfa.disable('alice', { code: '000000' })).ok).toBe(false);
  expect(await wrong(h)).toMatchObject({ reason: 'too_many_attempts' });
});

test('at 100 consecutive failures the user is locked until the host unlocks; time never reopens it (RL-07)', async () => {
  const h = setup();
  const { secret } = await enrolTotp(h);
  let evaluated = 0;
  // 30 days of an attacker guessing as fast as the limits allow (fake clock, no sleeping).
  const end = h.clock.now() + 30 * 86400_000;
  while (h.clock.now() < end) {
    const r = await wrong(h);
    if (!r.ok && r.reason === 'invalid_code') evaluated++;
    h.clock.advance(!r.ok && r.retryAfter ? r.retryAfter : 1);
  }
  expect(evaluated).toBe(100);
  expect(h.events.filter((e) => e.type === 'mfa.locked')).toHaveLength(1);
  expect((await h.mfa.status('alice')).locked).toBe(true);
  const s = await h.mfa.login.start('alice');
  if (!s.required) throw new Error('expected a challenge');
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).toMatchObject({ reason: 'too_many_attempts' });
  await h.mfa.admin.unlock('alice', { actor: 'support' });
  expect(h.events.some((e) => e.type === 'mfa.unlocked')).toBe(true);
  const s2 = await h.mfa.login.start('alice');
  if (!s2.required) throw new Error('expected a challenge');
  expect((await h.mfa.login.verify(s2.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
}, 120_000);

test('per-IP budget: one guess each at many accounts from one address is bounded (RL-05)', async () => {
  const h = setup({ limits: { perIpPerWindow: 10, ipWindowSeconds: 900 } });
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  for (const u of users) await enrolTotp(h, u);
  const spray = { ip: '203.0.113.66' };
  const results = [];
  for (const u of users) {
    const s = await h.mfa.login.start(u);
    if (!s.required) throw new Error('expected a challenge');
    results.push(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' }, spray));
  }
  expect(results.slice(0, 10).every((r) => !r.ok && r.reason === 'invalid_code')).toBe(true);
  expect(results.slice(10)).toEqual([
    { ok: false, reason: 'too_many_attempts', retryAfter: expect.any(Number) },
    { ok: false, reason: 'too_many_attempts', retryAfter: expect.any(Number) },
  ]);
  // Another address is not affected, and the budget comes back in the next window.
  const s = await h.mfa.login.start('user-11');
  if (!s.required) throw new Error('expected a challenge');
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' }, { ip: '198.51.100.1' })).toEqual({ ok: false, reason: 'invalid_code' });
  h.clock.advance(900);
  const s2 = await h.mfa.login.start('user-0');
  if (!s2.required) throw new Error('expected a challenge');
  expect(await h.mfa.login.verify(s2.challengeToken, { method: 'totp', code: '000000' }, spray)).toMatchObject({ reason: 'invalid_code' });
}, 60_000);
