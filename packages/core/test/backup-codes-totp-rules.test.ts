// The exact rules of backup codes and TOTP verification at their edges: input length caps,
// Crockford mapping, salt format, window bounds at step 0, replay reporting, URI and secret
// sizes (added for issue #14 — mutation testing showed these edges went unasserted).
import bcrypt from 'bcryptjs';
import { createTotpKeyUri, generateBackupCodes, generateTotpForStep, generateTotpSecret, normalizeBackupCode, timeStepAt, verifyTotp } from '@secondfactor/core';
import { findBackupCodeHash, generateBcryptSalt, hashBackupCode, hashBackupCodeSet } from '../src/factors/backup-codes/backup-codes';
import type { RandomSource } from '../src/crypto';

const counting = (): RandomSource => {
  let n = 0;
  return (size) => Uint8Array.from({ length: size }, () => n++ & 255);
};
const CROCKFORD_CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

describe('backup codes', () => {
  test('a set has the asked number of distinct XXXXX-XXXXX codes, even when the random source repeats itself', () => {
    // The first two codes drawn are the same (all-zero bytes): the set must keep drawing.
    let calls = 0;
    const repeating: RandomSource = (size) => (calls++ < 2 ? new Uint8Array(size) : globalThis.crypto.getRandomValues(new Uint8Array(size)));
    const codes = generateBackupCodes(repeating, 10);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(codes.filter((c) => c === '00000-00000')).toHaveLength(1);
    expect(calls).toBe(11); // one call per code drawn (all ten characters at once), the repeat included
    for (const c of codes) expect(c).toMatch(CROCKFORD_CODE);
    expect(generateBackupCodes(counting(), 1)).toHaveLength(1);
  });

  test('normalization: case, dashes and spaces ignored, O→0 and I/L→1, at most 32 characters of input', () => {
    expect(normalizeBackupCode('abcde-fghjk')).toBe('ABCDEFGHJK');
    expect(normalizeBackupCode(' AB CD E-FG\tHJK ')).toBe('ABCDEFGHJK');
    expect(normalizeBackupCode('OOOOO-IIIII')).toBe('0000011111');
    expect(normalizeBackupCode('ooooo-lllll')).toBe('0000011111');
    expect(normalizeBackupCode(`ABCDE-FGHJK${' '.repeat(21)}`)).toBe('ABCDEFGHJK'); // 32 characters
    expect(normalizeBackupCode(`ABCDE-FGHJK${' '.repeat(22)}`)).toBeNull(); // 33 characters
    expect(normalizeBackupCode('ABCDE-FGHJ')).toBeNull();
    expect(normalizeBackupCode('ABCDE-FGHJKM')).toBeNull();
    expect(normalizeBackupCode('ABCDE-FGHJU')).toBeNull(); // U is not Crockford
    expect(normalizeBackupCode('ABCDE_FGHJK')).toBeNull();
    expect(normalizeBackupCode(1234567890 as unknown as string)).toBeNull();
  });

  test('salts are bcrypt $2b$ with the cost two digits wide; a set is hashed in normalized form with one salt', async () => {
    const salt = generateBcryptSalt(counting(), 4);
    expect(salt).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{22}$/);
    expect(generateBcryptSalt(counting(), 12)).toMatch(/^\$2b\$12\$/);
    expect(generateBcryptSalt(counting(), 4)).toBe(salt); // from the injected source only
    const [h1, h2] = await hashBackupCodeSet(['abcde-fghjk', 'MNPQR-STVWX'], salt);
    expect(h1).toBe(await hashBackupCode('ABCDEFGHJK', salt));
    expect(h1!.startsWith(salt)).toBe(true);
    expect(await bcrypt.compare('MNPQRSTVWX', h2!)).toBe(true);
  });

  test('the matching stored hash is found wherever it is; nothing matches a wrong candidate', () => {
    const stored = ['h-a', 'h-b', 'h-c'];
    expect(findBackupCodeHash('h-a', stored)).toBe('h-a');
    expect(findBackupCodeHash('h-c', stored)).toBe('h-c');
    expect(findBackupCodeHash('h-x', stored)).toBeNull();
    expect(findBackupCodeHash('h-a', [])).toBeNull();
  });
});

describe('TOTP', () => {
  const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
  const W = { pastSteps: 1, futureSteps: 1 };

  test('time steps floor whole seconds', () => {
    expect(timeStepAt(0, 30)).toBe(0);
    expect(timeStepAt(29_999, 30)).toBe(0);
    expect(timeStepAt(30_000, 30)).toBe(1);
    expect(timeStepAt(59_999, 60)).toBe(0);
    expect(timeStepAt(89_999, 30)).toBe(2);
  });

  test('at step 0 the window does not reach below 0, and step 0 itself is accepted', async () => {
    const code0 = await generateTotpForStep(SECRET, 0, P);
    expect(await verifyTotp({ secret: SECRET, code: code0, nowMs: 1_000, window: W, afterStep: null, ...P })).toEqual({ ok: true, step: 0 });
    expect(await verifyTotp({ secret: SECRET, code: code0, nowMs: 1_000, window: { pastSteps: 5, futureSteps: 0 }, afterStep: null, ...P })).toEqual({ ok: true, step: 0 });
  });

  test('a used step is "replayed", a later step still passes, and afterStep bounds are inclusive', async () => {
    const now = 1_700_000_015_000;
    const T = timeStepAt(now, 30);
    const at = (s: number) => generateTotpForStep(SECRET, s, P);
    const v = async (code: string, afterStep: number | null) => verifyTotp({ secret: SECRET, code, nowMs: now, window: W, afterStep, ...P });
    expect(await v(await at(T), T)).toEqual({ ok: false, reason: 'replayed' });
    expect(await v(await at(T - 1), T - 1)).toEqual({ ok: false, reason: 'replayed' });
    expect(await v(await at(T), T - 1)).toEqual({ ok: true, step: T });
    expect(await v(await at(T + 1), T)).toEqual({ ok: true, step: T + 1 });
    expect(await v(await at(T - 1), T - 2)).toEqual({ ok: true, step: T - 1 });
    expect(await v('000000', T)).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('the code must be exactly `digits` ASCII digits', async () => {
    const now = 1_700_000_015_000;
    const T = timeStepAt(now, 30);
    const P8 = { ...P, digits: 8 as const };
    const code8 = await generateTotpForStep(SECRET, T, P8);
    expect(await verifyTotp({ secret: SECRET, code: code8, nowMs: now, window: W, afterStep: null, ...P8 })).toEqual({ ok: true, step: T });
    expect(await verifyTotp({ secret: SECRET, code: code8.slice(2), nowMs: now, window: W, afterStep: null, ...P8 })).toEqual({ ok: false, reason: 'invalid_code' });
    const code6 = await generateTotpForStep(SECRET, T, P);
    for (const bad of [`${code6}0`, ` ${code6}`, `${code6}\n`, code6.slice(1)]) {
      expect(await verifyTotp({ secret: SECRET, code: bad, nowMs: now, window: W, afterStep: null, ...P })).toEqual({ ok: false, reason: 'invalid_code' });
    }
  });

  test('secrets are base32 of the asked number of random bytes', () => {
    expect(generateTotpSecret(counting())).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret(counting(), 32)).toMatch(/^[A-Z2-7]{52}$/);
    expect(generateTotpSecret(counting(), 10)).toMatch(/^[A-Z2-7]{16}$/);
  });

  test('key URIs: non-default parameters only when set, padding dropped, ":" refused in issuer and account', () => {
    const base = { issuer: 'Acme Co', accountName: 'alice@example.com', secret: 'GEZDGNBV', ...P };
    expect(createTotpKeyUri(base)).toBe('otpauth://totp/Acme%20Co:alice%40example.com?secret=GEZDGNBV&issuer=Acme%20Co');
    expect(createTotpKeyUri({ ...base, secret: 'GEZDGNBVGE======' })).toContain('?secret=GEZDGNBVGE&');
    expect(createTotpKeyUri({ ...base, algorithm: 'SHA512', digits: 8, periodSeconds: 60 })).toBe(
      'otpauth://totp/Acme%20Co:alice%40example.com?secret=GEZDGNBV&issuer=Acme%20Co&algorithm=SHA512&digits=8&period=60',
    );
    expect(() => createTotpKeyUri({ ...base, issuer: 'Acme:Co' })).toThrow(TypeError);
    expect(() => createTotpKeyUri({ ...base, accountName: 'alice:x' })).toThrow(TypeError);
  });
});
