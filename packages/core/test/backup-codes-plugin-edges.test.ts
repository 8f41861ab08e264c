// The backupCodes() plugin at its edges, found unasserted by mutation testing (issue #14): option
// bounds and names, what the type declares, the size and cost of an issued set, when the method is
// offered, the refusal of malformed input, a user without a set, and a code spent exactly once.
import { randomBytes } from 'node:crypto';
import { MfaConfigError, MfaError, backupCodes, memoryStore, normalizeBackupCode, totp, type BackupCodesOptions, type FactorContext } from '@secondfactor/core';
import { hashBackupCode } from '../src/factors/backup-codes/backup-codes';
import { enrolTotp, proofFor, setup } from './support/harness';

const IP = { ip: '203.0.113.9' };

/** An engine whose recovery codes are `backupCodes(options)` (bcrypt cost 4 unless given). */
const withCodes = (options: BackupCodesOptions = {}) => setup({ factors: [totp(), backupCodes({ bcryptCost: 4, ...options })] });

describe('options', () => {
  test('bounds are inclusive and every refusal names its option', () => {
    for (const ok of [{ count: 5 }, { count: 20 }, { bcryptCost: 4 }, { bcryptCost: 15 }, { count: 12, bcryptCost: 6 }, {}]) {
      expect(() => backupCodes(ok)).not.toThrow();
    }
    expect(() => backupCodes()).not.toThrow();
    const refused: [BackupCodesOptions, RegExp][] = [
      [{ count: 4 }, /`backupCodes\.count` must be an integer from 5 to 20 \(got 4\)/],
      [{ count: 21 }, /`backupCodes\.count` must be an integer from 5 to 20 \(got 21\)/],
      [{ count: 7.5 }, /`backupCodes\.count`/],
      [{ bcryptCost: 3 }, /`backupCodes\.bcryptCost` must be an integer from 4 to 15 \(got 3\)/],
      [{ bcryptCost: 16 }, /`backupCodes\.bcryptCost` must be an integer from 4 to 15 \(got 16\)/],
      [{ counts: 10 } as never, /`backupCodes\.counts` is not a known option\. Did you mean `count`\?/],
      [{ bcryptcost: 10 } as never, /`backupCodes\.bcryptcost` is not a known option\. Did you mean `bcryptCost`\?/],
    ];
    for (const [options, message] of refused) {
      expect(() => backupCodes(options)).toThrow(MfaConfigError);
      expect(() => backupCodes(options)).toThrow(message);
    }
  });
});

test('the type declares a code input, not enrollable on its own, no challenge step, not restricted, not phishing-resistant', () => {
  const h = setup();
  expect(h.mfa.factorTypes.find((t) => t.type === 'backup_code')).toEqual({
    type: 'backup_code', input: 'code', enrollable: false, challenge: false, phishingResistant: false, restricted: false,
  });
});

describe('an issued set', () => {
  test('has 10 codes by default, `count` otherwise; remaining counts them', async () => {
    const h = withCodes();
    expect((await enrolTotp(h)).backupCodes).toHaveLength(10);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(10);
    const five = withCodes({ count: 5 });
    expect((await enrolTotp(five)).backupCodes).toHaveLength(5);
    expect(await five.mfa.backupCodes.remaining('alice')).toBe(5);
    const r = await five.mfa.backupCodes.regenerate('alice', await proofFor(five));
    expect(r.ok && r.backupCodes).toHaveLength(5);
  });

  test('is stored as bcrypt hashes of the configured cost (default 10), with the time it was issued', async () => {
    const h = withCodes({ bcryptCost: 5 });
    const { backupCodes: codes } = await enrolTotp(h);
    const set = (await h.store.getBackupCodes('alice'))!;
    expect(set.salt).toMatch(/^\$2b\$05\$[./A-Za-z0-9]{22}$/);
    expect(set.hashes).toHaveLength(codes.length);
    expect(set.hashes[0]).toBe(await hashBackupCode(normalizeBackupCode(codes[0]!)!, set.salt));
    expect(set.createdAt).toBe(h.clock.now() - 30_000); // issued at the confirmation, before enrolTotp's step
    const d = setup({ factors: [totp(), backupCodes({ count: 5 })] });
    await enrolTotp(d);
    expect((await d.store.getBackupCodes('alice'))!.salt).toMatch(/^\$2b\$10\$/);
  });
});

describe('offered', () => {
  test('at login only while the user has a code left', async () => {
    const h = withCodes({ count: 5 });
    const { backupCodes: codes } = await enrolTotp(h);
    const methods = async () => {
      const s = await h.mfa.login.start('alice');
      return s.required ? s.methods : [];
    };
    expect(await methods()).toEqual(['totp', 'backup_code']);
    for (const code of codes.slice(0, 4)) expect((await h.mfa.stepUp.verify('alice', { method: 'backup_code', code })).ok).toBe(true);
    expect(await methods()).toEqual(['totp', 'backup_code']);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(1);
    expect((await h.mfa.stepUp.verify('alice', { method: 'backup_code', code: codes[4]! })).ok).toBe(true);
    expect(await methods()).toEqual(['totp']);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(0);
    await expect(h.mfa.stepUp.verify('alice', { method: 'backup_code', code: codes[0]! })).rejects.toMatchObject({ code: 'invalid_request', field: 'method' });
  });

  test('not to a user without a set, whose remaining count is 0', async () => {
    const h = setup();
    await enrolTotp(h);
    await h.store.deleteBackupCodes('alice');
    const s = await h.mfa.login.start('alice');
    expect(s.required && s.methods).toEqual(['totp']);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(0);
    expect((await h.mfa.status('alice')).backupCodesRemaining).toBe(0);
  });
});

test('malformed input is refused before anything is looked up, naming the field and the format', async () => {
  const h = setup();
  const { backupCodes: codes } = await enrolTotp(h);
  const s = await h.mfa.login.start('alice');
  if (!s.required) throw new Error('expected a challenge');
  for (const code of [12345, 'ABCD', `${codes[0]!}X`, null]) {
    await expect(h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: code as never })).rejects.toMatchObject({
      code: 'invalid_request', field: 'code', message: 'code must be a backup code like XXXXX-XXXXX',
    });
  }
  await expect(h.mfa.stepUp.verify('alice', { method: 'backup_code', code: 'ABCD' })).rejects.toBeInstanceOf(MfaError);
  // Nothing was counted: the challenge still takes a code.
  expect(await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: codes[0]!.toLowerCase() })).toMatchObject({ ok: true, amr: ['mfa', 'otp'] });
});

test('the plugin refuses any code of a user without a set (a guess costs a hash all the same)', async () => {
  const store = memoryStore();
  const events: unknown[] = [];
  const ctx = {
    issuer: 'Acme Co', store, now: () => 1_000, randomBytes: (n: number) => new Uint8Array(randomBytes(n)),
    emit: (event: unknown) => void events.push(event),
  } as unknown as FactorContext;
  const plugin = backupCodes({ bcryptCost: 4 });
  const input = plugin.parseInput({ code: 'abcde-23456' }, []);
  expect(input).toBe('ABCDE23456');
  expect(await plugin.verify(ctx, { userId: 'nobody', factors: [], input, state: null, purpose: 'step_up' })).toEqual({ ok: false, reason: 'invalid_code' });
  expect(await plugin.offered!(ctx, { userId: 'nobody', factors: [] })).toBe(false);
  expect(await plugin.recovery!.remaining(ctx, { userId: 'nobody' })).toBe(0);
  // Issued, the set is the one the plugin verifies against; the clock gives its creation time.
  const codes = await plugin.recovery!.issue(ctx, { userId: 'u1' });
  expect((await store.getBackupCodes('u1'))?.createdAt).toBe(1_000);
  expect(await plugin.offered!(ctx, { userId: 'u1', factors: [] })).toBe(true);
  const ok = await plugin.verify(ctx, { userId: 'u1', factors: [], input: plugin.parseInput({ code: codes[3]! }, []), state: null, purpose: 'login' });
  expect(ok).toMatchObject({ ok: true, factorId: null, amr: ['otp'] });
  expect(events).toEqual([]); // nothing emitted before the spend
});

describe('a code is spent once', () => {
  test('the success records the use (event with the flow and address), the factor stays unnamed', async () => {
    const h = setup();
    const { backupCodes: codes } = await enrolTotp(h);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    // A code not in the set: an invalid_code failure, recorded as such.
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: 'ZZZZZ-ZZZZZ' }, IP)).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.at(-1)).toMatchObject({ type: 'mfa.failed', userId: 'alice', factorType: 'backup_code', reason: 'invalid_code', purpose: 'login' });
    const r = await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: codes[2]! }, IP);
    expect(r).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'otp'] });
    const used = h.events.filter((e) => e.type === 'backup_code.used');
    expect(used).toHaveLength(1);
    expect(used[0]).toMatchObject({ userId: 'alice', factorType: 'backup_code', outcome: 'success', purpose: 'login', ip: IP.ip });
    const verified = h.events.filter((e) => e.type === 'mfa.verified').at(-1)!;
    expect(verified).toMatchObject({ factorType: 'backup_code', purpose: 'login' });
    expect(verified).not.toHaveProperty('factorId');
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(9);
    expect(await h.mfa.stepUp.verify('alice', { method: 'backup_code', code: codes[2]! })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.filter((e) => e.type === 'backup_code.used')).toHaveLength(1);
  });

  test('of concurrent uses of one code exactly one succeeds, and only it is recorded', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    const { backupCodes: codes } = await enrolTotp(h);
    const results = await Promise.all(Array.from({ length: 4 }, () => h.mfa.stepUp.verify('alice', { method: 'backup_code', code: codes[5]! })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual([
      { ok: false, reason: 'invalid_code' }, { ok: false, reason: 'invalid_code' }, { ok: false, reason: 'invalid_code' },
    ]);
    expect(h.events.filter((e) => e.type === 'backup_code.used')).toEqual([expect.objectContaining({ userId: 'alice', purpose: 'step_up' })]);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(9);
  });

  test('a bare code of a user with TOTP is taken as a backup code', async () => {
    const h = setup();
    const { backupCodes: codes } = await enrolTotp(h);
    expect(await h.mfa.stepUp.verify('alice', { code: codes[7]! })).toMatchObject({ ok: true, amr: ['mfa', 'otp'] });
    expect(h.events.filter((e) => e.type === 'backup_code.used')).toHaveLength(1);
  });
});
