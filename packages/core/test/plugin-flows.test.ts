// packages/core/test/plugin-flows.test.ts
// How the flows treat a plugin: an attempt its verifier never evaluated (it threw) is given back
// to the limiter; proof with a `response` names its method; a step-up's event names the factor.
import { backupCodes, MfaError, totp, type FactorPlugin } from '@secondfactor/core';
import { enrolTotp, setup, totpNow } from './support/harness';

/** A code factor whose verifier finds some input bad only late (after the attempt was reserved). */
const picky: FactorPlugin = {
  type: 'picky',
  input: 'code',
  phishingResistant: false,
  restricted: false,
  parseInput: ({ code }) => {
    if (typeof code !== 'string') throw new MfaError('invalid_request', 'code must be a string', { field: 'code' });
    return code;
  },
  enroll: {
    parse: () => null,
    begin: async () => ({ data: {}, show: {}, label: 'Picky' }),
    finish: async ({ now }, { input }) => (input === 'yes' ? { ok: true, counter: now() } : { ok: false, reason: 'invalid_code' }),
  },
  async verify(_ctx, { factors, input }) {
    if (input === 'late') throw new MfaError('invalid_request', 'this code is bad in a way only the verifier sees', { field: 'code' });
    return input === 'yes' ? { ok: true, factorId: factors[0]!.id, amr: ['otp'] } : { ok: false, reason: 'invalid_code' };
  },
};

test('an attempt the verifier never evaluated (it threw) is given back: no backoff, no lock', async () => {
  const h = setup({ factors: [picky, totp(), backupCodes({ bcryptCost: 4 })], limits: { backoffAfterFailures: 3, lockAfterFailures: 5 } });
  const e = await h.mfa.enroll('alice', 'picky');
  expect(await h.mfa.confirm('alice', e.factorId, { code: 'yes' })).toMatchObject({ ok: true });
  for (let i = 0; i < 8; i++) {
    await expect(h.mfa.stepUp.verify('alice', { method: 'picky', code: 'late' }, { ip: '192.0.2.1' })).rejects.toMatchObject({ code: 'invalid_request' });
  }
  expect(await h.store.getAttemptState('alice')).toMatchObject({ failures: 0, locked: false });
  expect(await h.mfa.stepUp.verify('alice', { method: 'picky', code: 'yes' }, { ip: '192.0.2.1' })).toMatchObject({ ok: true });
  // Evaluated failures still count as before.
  for (let i = 0; i < 3; i++) expect(await h.mfa.stepUp.verify('alice', { method: 'picky', code: 'no' }, { ip: '192.0.2.1' })).toMatchObject({ ok: false, reason: 'invalid_code' });
  expect(await h.mfa.stepUp.verify('alice', { method: 'picky', code: 'no' }, { ip: '192.0.2.1' })).toMatchObject({ ok: false, reason: 'too_many_attempts' });
});

test('fresh proof or a step-up with a response but no method is refused naming `method`', async () => {
  const h = setup();
  await enrolTotp(h);
  await expect(h.mfa.stepUp.verify('alice', { response: { id: 'x' } })).rejects.toMatchObject({ code: 'invalid_request', field: 'method' });
  await expect(h.mfa.checkProof('alice', { response: { id: 'x' } })).rejects.toMatchObject({ code: 'invalid_request', field: 'method' });
});

test("a step-up's event names the factor and its type", async () => {
  const h = setup();
  const { secret, factorId } = await enrolTotp(h);
  expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
  expect(h.events.at(-1)).toMatchObject({ type: 'mfa.verified', purpose: 'step_up', factorId, factorType: 'totp' });
});
