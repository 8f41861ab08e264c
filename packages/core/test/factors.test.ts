// Several named factors per user: listed, removable; removing the last one disables MFA.
import { enrolTotp, proofFor, setup, totpNow } from './support/harness';

test('several named factors are listed; removing one keeps MFA on; removing the last disables it', async () => {
  const h = setup();
  const phone = await enrolTotp(h);
  const tablet = await h.mfa.enroll('alice', 'totp', { label: 'Tablet', proof: await proofFor(h) });
  const confirmed = await h.mfa.confirm('alice', tablet.factorId, { code: await totpNow(tablet.secret, h.clock.now()) });
  expect(confirmed.ok && confirmed.backupCodes).toBeFalsy(); // only the first factor brings backup codes
  h.clock.advance(30);
  const listed = await h.mfa.factors.list('alice');
  expect(listed.map((f) => [f.type, f.label])).toEqual([['totp', 'Phone'], ['totp', 'Tablet']]);
  expect(JSON.stringify(listed)).not.toContain(phone.secret);

  expect(await h.mfa.factors.remove('alice', tablet.factorId, { code: await totpNow(tablet.secret, h.clock.now()) })).toEqual({ ok: true, mfaDisabled: false });
  expect((await h.mfa.status('alice'))).toMatchObject({ enabled: true, backupCodesRemaining: 10 });
  h.clock.advance(30);
  expect(await h.mfa.factors.remove('alice', phone.factorId, { code: await totpNow(phone.secret, h.clock.now()) })).toEqual({ ok: true, mfaDisabled: true });
  expect(await h.mfa.status('alice')).toEqual({ enabled: false, factors: [], backupCodesRemaining: 0, trustedDevices: 0, locked: false });
  expect(await h.store.getBackupCodes('alice')).toBeNull();
  expect(await h.mfa.login.start('alice')).toEqual({ required: false, trustedDevice: false });
  expect(h.events.filter((e) => e.type === 'factor.removed')).toHaveLength(2);
  expect(h.events.some((e) => e.type === 'mfa.disabled')).toBe(true);
});

test("a user cannot remove another user's factor, confirm it, or see it", async () => {
  const h = setup();
  const alice = await enrolTotp(h, 'alice');
  const bob = await enrolTotp(h, 'bob');
  await expect(h.mfa.factors.remove('bob', alice.factorId, { code: await totpNow(bob.secret, h.clock.now()) })).rejects.toMatchObject({ code: 'not_enrolled' });
  await expect(h.mfa.confirm('bob', alice.factorId, { code: '123456' })).rejects.toMatchObject({ code: 'not_enrolled' });
  expect((await h.mfa.factors.list('bob')).map((f) => f.id)).toEqual([bob.factorId]);
});

test('confirm with a type confirms only a pending factor of that type, counting nothing otherwise', async () => {
  const h = setup();
  const e = await h.mfa.enroll('alice', 'totp');
  const code = await totpNow(e.secret, h.clock.now());
  await expect(h.mfa.confirm('alice', e.factorId, { code }, undefined, { type: 'sms' })).rejects.toMatchObject({ code: 'not_enrolled' });
  expect(await h.store.getAttemptState('alice')).toBeNull();
  expect(h.events.filter((ev) => ev.type === 'mfa.failed')).toEqual([]);
  expect(await h.mfa.confirm('alice', e.factorId, { code }, undefined, { type: 'totp' })).toMatchObject({ ok: true, factor: { id: e.factorId, type: 'totp' } });
});

test('a confirmed factor cannot be confirmed again; a new enrolment replaces an unconfirmed one', async () => {
  const h = setup();
  const { factorId } = await enrolTotp(h);
  await expect(h.mfa.confirm('alice', factorId, { code: '123456' })).rejects.toMatchObject({ code: 'already_enrolled' });
  const first = await h.mfa.enroll('alice', 'totp', { proof: await proofFor(h) });
  const second = await h.mfa.enroll('alice', 'totp', { proof: await proofFor(h) });
  expect(first.secret).not.toBe(second.secret);
  const pending = (await h.store.listFactors('alice')).filter((f) => f.status === 'pending');
  expect(pending.map((f) => f.id)).toEqual([second.factorId]);
});
