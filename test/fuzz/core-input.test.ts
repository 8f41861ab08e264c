// Property-based checks (fast-check) on core's input handling: arbitrary input never throws
// anything but MfaError(invalid_request), never verifies, and encodings round-trip.
import fc from 'fast-check';
import { MfaError, normalizeBackupCode, verifyTotp } from '@secondfactor/core';
import { base32Decode, base32Encode, constantTimeEqual } from '../../packages/core/src/crypto';
import { enrolTotp, setup } from '../../packages/core/test/support/harness';

const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };

test('base32 round-trips any bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
  }));
});

test('constantTimeEqual agrees with === on any strings', () => {
  fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
  fc.assert(fc.property(fc.string(), (a) => constantTimeEqual(a, a)));
});

test('normalizeBackupCode is total and idempotent; output is 10 Crockford characters', () => {
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (input) => {
    const n = normalizeBackupCode(input);
    if (n === null) return;
    expect(n).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    expect(normalizeBackupCode(n)).toBe(n);
  }));
});

test('verifyTotp never throws and never accepts a non-6-digit string', async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 12 }), async (code) => {
    const r = await verifyTotp({ secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', code, nowMs: 1_700_000_000_000, window: { pastSteps: 1, futureSteps: 1 }, afterStep: null, ...P });
    if (!/^\d{6}$/.test(code)) expect(r.ok).toBe(false);
  }), { numRuns: 300 });
});

test('login.verify with arbitrary JSON values: a value result or MfaError(invalid_request), nothing else', async () => {
  const h = setup({ limits: { backoffAfterFailures: 100 }, challenge: { maxAttempts: 10 } });
  await enrolTotp(h);
  await fc.assert(fc.asyncProperty(fc.jsonValue(), fc.jsonValue(), fc.jsonValue(), async (method, code, trustDevice) => {
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    try {
      const r = await h.mfa.login.verify(s.challengeToken, { method, code, trustDevice: trustDevice as boolean });
      expect(r.ok).toBe(false);
    } catch (error) {
      expect(error).toBeInstanceOf(MfaError);
      expect((error as MfaError).code).toBe('invalid_request');
    }
  }), { numRuns: 150 });
}, 60_000);
