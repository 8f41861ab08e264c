// The login challenge (GATE-03, GATE-04, GATE-11, RL-03) and backup codes (BC-01..BC-08).
import { createHash } from 'node:crypto';
import { memoryStore, normalizeBackupCode, type ChallengeRecord, type MfaStore } from '@secondfactor/core';
import { challengeFor, enrolTotp, setup, totpNow } from './support/harness';

function spyStore() {
  const inner = memoryStore();
  const challenges: ChallengeRecord[] = [];
  const store: MfaStore = {
    ...inner,
    createChallenge: async (c, ttl) => {
      challenges.push(c);
      return inner.createChallenge(c, ttl);
    },
  };
  return { store, challenges, inner };
}

describe('login challenge', () => {
  test('not required without an active factor; a pending factor does not count', async () => {
    const h = setup();
    expect(await h.mfa.login.start('alice')).toEqual({ required: false, trustedDevice: false });
    await h.mfa.enroll('alice', 'totp');
    expect(await h.mfa.login.start('alice')).toEqual({ required: false, trustedDevice: false });
  });

  test('opaque 256-bit token, stored only as its SHA-256, TTL 5 min, methods listed', async () => {
    const { store, challenges } = spyStore();
    const h = setup({ store });
    await enrolTotp(h);
    const start = await challengeFor(h);
    expect(start.challengeToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(start.methods).toEqual(['totp', 'backup_code']);
    expect(Date.parse(start.expiresAt) - h.clock.now()).toBe(300_000);
    const stored = challenges.at(-1)!;
    expect(stored.id).toBe(createHash('sha256').update(start.challengeToken).digest('base64url'));
    expect(JSON.stringify(stored)).not.toContain(start.challengeToken);
    expect(stored.userId).toBe('alice');
  });

  test('expires after its TTL (fake clock)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const start = await challengeFor(h);
    h.clock.advance(301);
    const r = await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) });
    expect(r).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('single use: a second valid code on a used challenge fails', async () => {
    const h = setup();
    const { secret, backupCodes } = await enrolTotp(h);
    const start = await challengeFor(h);
    expect((await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
    expect(await h.mfa.login.verify(start.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('5 wrong codes end the challenge; the right code then fails (RL-03)', async () => {
    const h = setup({ limits: { backoffAfterFailures: 50 } });
    const { secret } = await enrolTotp(h);
    const start = await challengeFor(h);
    for (let i = 0; i < 5; i++) {
      expect(await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    }
    const r = await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) });
    expect(r).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('50 parallel wrong codes on one challenge: at most 5 are evaluated (RL-06)', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    await enrolTotp(h);
    const start = await challengeFor(h);
    const before = h.events.length;
    const results = await Promise.all(Array.from({ length: 50 }, () => h.mfa.login.verify(start.challengeToken, { method: 'totp', code: '000000' })));
    expect(results.every((r) => !r.ok)).toBe(true);
    // An evaluated wrong code is a failure event with reason invalid_code; the rest were refused unevaluated.
    const failures = h.events.slice(before).filter((e) => e.type === 'mfa.failed');
    expect(failures.filter((e) => e.reason === 'invalid_code')).toHaveLength(5);
    expect(failures.every((e) => e.reason === 'invalid_code' || e.reason === 'challenge_attempts_exhausted')).toBe(true);
    expect(results.filter((r) => !r.ok && r.reason === 'invalid_code').length).toBeGreaterThanOrEqual(5);
    expect(await h.store.getChallenge(createHash('sha256').update(start.challengeToken).digest('base64url'))).toBeNull();
  });

  test('50 parallel wrong codes over many challenges: the per-user backoff admits at most 5 (RL-06, RL-02)', async () => {
    const h = setup();
    await enrolTotp(h);
    const starts = await Promise.all(Array.from({ length: 50 }, () => challengeFor(h)));
    const results = await Promise.all(starts.map((s) => h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' })));
    expect(results.filter((r) => !r.ok && r.reason === 'invalid_code')).toHaveLength(5);
    const limited = results.filter((r) => !r.ok && r.reason === 'too_many_attempts');
    expect(limited).toHaveLength(45);
    expect(limited.every((r) => !r.ok && r.retryAfter! > 0 && r.retryAfter! <= 30)).toBe(true);
  });

  test('20 parallel verifications of one challenge with one valid code: exactly one login (invariant 3)', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    const { secret } = await enrolTotp(h);
    const start = await challengeFor(h);
    const code = await totpNow(secret, h.clock.now());
    const results = await Promise.all(Array.from({ length: 20 }, () => h.mfa.login.verify(start.challengeToken, { method: 'totp', code })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  test('a challenge is bound to its user: the token says who, nothing in the request can change it', async () => {
    const h = setup();
    const alice = await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    const start = await challengeFor(h, 'bob');
    const r = await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(alice.secret, h.clock.now()), ...({ userId: 'alice' } as object) });
    expect(r).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('malformed input is misuse (invalid_request), not a counted failure (INP-01)', async () => {
    const h = setup();
    await enrolTotp(h);
    const start = await challengeFor(h);
    for (const code of [123456, ['123456'], { a: 1 }, '12345', '1234567', ' 123456', '12345%', null, undefined, 'x'.repeat(1000)]) {
      await expect(h.mfa.login.verify(start.challengeToken, { method: 'totp', code })).rejects.toMatchObject({ code: 'invalid_request', field: 'code' });
    }
    await expect(h.mfa.login.verify(start.challengeToken, { method: 'carrier-pigeon', code: '123456' })).rejects.toMatchObject({ code: 'invalid_request', field: 'method' });
    await expect(h.mfa.login.verify(start.challengeToken, { method: 'totp', code: '123456', trustDevice: 'yes' as unknown as boolean })).rejects.toMatchObject({ field: 'trustDevice' });
    expect(await h.store.getAttemptState('alice')).toMatchObject({ failures: 0 });
  });

  test('unknown and garbage tokens read as expired', async () => {
    const h = setup();
    await enrolTotp(h);
    for (const token of ['x', 'A'.repeat(43), 42, null, '../../etc/passwd']) {
      expect(await h.mfa.login.verify(token, { method: 'totp', code: '123456' })).toEqual({ ok: false, reason: 'challenge_expired' });
    }
  });

  test('a store failure throws store_unavailable and never passes (GATE-11, fail closed)', async () => {
    const inner = memoryStore();
    const broken: MfaStore = { ...inner, getChallenge: async () => { throw new Error('connection reset'); } };
    const h = setup({ store: broken });
    const { secret } = await enrolTotp(h);
    const start = await challengeFor(h);
    await expect(h.mfa.login.verify(start.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) }))
      .rejects.toMatchObject({ name: 'MfaError', code: 'store_unavailable' });
  });
});

describe('backup codes', () => {
  test('10 codes of 10 Crockford characters (50 bits) as XXXXX-XXXXX, issued with the first factor (BC-01)', async () => {
    const h = setup();
    const { backupCodes } = await enrolTotp(h);
    expect(backupCodes).toHaveLength(10);
    for (const c of backupCodes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(new Set(backupCodes).size).toBe(10);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(10);
  });

  test('stored only as bcrypt hashes sharing one salt; no plaintext in the store (BC-02)', async () => {
    const h = setup();
    const { backupCodes } = await enrolTotp(h);
    const set = (await h.store.getBackupCodes('alice'))!;
    expect(set.salt).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{22}$/);
    expect(set.hashes).toHaveLength(10);
    for (const hash of set.hashes) expect(hash.startsWith(set.salt)).toBe(true);
    const dump = JSON.stringify(set);
    for (const c of backupCodes) {
      expect(dump).not.toContain(c);
      expect(dump).not.toContain(normalizeBackupCode(c)!);
    }
  });

  test('input is case-, dash- and space-insensitive', async () => {
    const h = setup();
    const { backupCodes } = await enrolTotp(h);
    const variants = [backupCodes[0]!.toLowerCase(), backupCodes[1]!.replace('-', ''), ` ${backupCodes[2]!.replace('-', ' ')} `];
    for (const code of variants) {
      const start = await challengeFor(h);
      expect((await h.mfa.login.verify(start.challengeToken, { method: 'backup_code', code })).ok).toBe(true);
    }
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(7);
  });

  test('each code works once; the second use fails like a wrong code (BC-03)', async () => {
    const h = setup();
    const { backupCodes } = await enrolTotp(h);
    const a = await challengeFor(h);
    expect((await h.mfa.login.verify(a.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).ok).toBe(true);
    const b = await challengeFor(h);
    expect(await h.mfa.login.verify(b.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.some((e) => e.type === 'backup_code.used')).toBe(true);
  });

  test('20 concurrent logins with the same code: exactly one succeeds (BC-04)', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    const { backupCodes } = await enrolTotp(h);
    const starts = await Promise.all(Array.from({ length: 20 }, () => challengeFor(h)));
    const results = await Promise.all(starts.map((s) => h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: backupCodes[3]! })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(9);
  });

  test('one guess costs one bcrypt hash however many codes remain (TIME-02)', async () => {
    const bcrypt = jest.requireActual('bcryptjs');
    const spy = jest.spyOn(bcrypt, 'hash');
    const h = setup();
    await enrolTotp(h);
    spy.mockClear();
    const start = await challengeFor(h);
    await h.mfa.login.verify(start.challengeToken, { method: 'backup_code', code: 'AAAAA-AAAAA' });
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  test('regenerate replaces the whole set; needs fresh proof (BC-06)', async () => {
    const h = setup();
    const { secret, backupCodes } = await enrolTotp(h);
    await expect(h.mfa.backupCodes.regenerate('alice', {} as never)).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await h.mfa.backupCodes.regenerate('alice', { code: '000000' })).ok).toBe(false);
    const r = await h.mfa.backupCodes.regenerate('alice', { code: await totpNow(secret, h.clock.now()) });
    if (!r.ok) throw new Error('regenerate failed');
    expect(r.backupCodes).toHaveLength(10);
    expect(r.backupCodes.some((c) => backupCodes.includes(c))).toBe(false);
    const start = await challengeFor(h);
    expect((await h.mfa.login.verify(start.challengeToken, { method: 'backup_code', code: backupCodes[0]! })).ok).toBe(false);
    const again = await challengeFor(h);
    expect((await h.mfa.login.verify(again.challengeToken, { method: 'backup_code', code: r.backupCodes[0]! })).ok).toBe(true);
    expect(h.events.filter((e) => e.type === 'backup_codes.regenerated')).toHaveLength(2);
  });

  test('backup-code guesses count toward the same per-user limit (BC-05)', async () => {
    const h = setup();
    await enrolTotp(h);
    for (let i = 0; i < 5; i++) {
      const s = await challengeFor(h);
      await h.mfa.login.verify(s.challengeToken, { method: 'backup_code', code: 'ZZZZZ-ZZZZZ' });
    }
    const s = await challengeFor(h);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '123456' })).toMatchObject({ ok: false, reason: 'too_many_attempts' });
  });
});
