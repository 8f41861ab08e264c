import { enrolTotp, setup, totpNow } from './support/harness';

test('enrol, login, verify with TOTP', async () => {
  const h = setup();
  const { secret, backupCodes } = await enrolTotp(h);
  expect(backupCodes).toHaveLength(10);
  const start = await h.mfa.login.start('alice');
  expect(start.required).toBe(true);
  if (!start.required) return;
  const r = await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) });
  expect(r.ok).toBe(true);
  const again = await h.mfa.login.start('alice');
  if (!again.required) throw new Error('expected challenge');
  const b = await h.mfa.login.verify(again.challengeToken, { method: 'backup_code', code: backupCodes[0]!.toLowerCase() });
  expect(b.ok).toBe(true);
});
