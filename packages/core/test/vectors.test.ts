// RFC 4226 and RFC 6238 vectors (ALG-01..06) through the functions the engine uses.
import { createHmac } from 'node:crypto';
import { generateHotp, generateTotp, generateTotpForStep, timeStepAt, verifyTotp } from '@secondfactor/core';
import { RFC4226_SECRET_ASCII, RFC4226_SECTION_5_4, RFC4226_VECTORS } from '../test-vectors/rfc4226';
import { RFC6238_SEEDS, RFC6238_SEEDS_BASE32, RFC6238_VECTORS } from '../test-vectors/rfc6238';

const bytes = (ascii: string) => new TextEncoder().encode(ascii);

function counterBytes(counter: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(counter));
  return b;
}

describe('RFC 4226 Appendix D (ALG-01, ALG-02, ALG-03)', () => {
  test.each(RFC4226_VECTORS)('$title', async (v) => {
    const hmac = createHmac('sha1', RFC4226_SECRET_ASCII).update(counterBytes(v.count)).digest();
    expect(hmac.toString('hex')).toBe(v.hmacHex);
    const offset = hmac[hmac.length - 1]! & 0xf; // low 4 bits of the LAST byte
    const truncated = hmac.readUInt32BE(offset) & 0x7fffffff;
    expect(truncated).toBe(v.truncatedDecimal);
    expect(truncated.toString(16)).toBe(v.truncatedHex);
    expect(await generateHotp(bytes(RFC4226_SECRET_ASCII), v.count, { algorithm: 'SHA1', digits: 6 })).toBe(v.hotp);
  });

  test(RFC4226_SECTION_5_4.title, () => {
    const hmac = Buffer.from(RFC4226_SECTION_5_4.hmacHex, 'hex');
    const offset = hmac[19]! & 0xf;
    expect(offset).toBe(RFC4226_SECTION_5_4.offset);
    const dbc = hmac.readUInt32BE(offset) & 0x7fffffff;
    expect(dbc.toString(16)).toBe(RFC4226_SECTION_5_4.dbcHex);
    expect(String(dbc % 1_000_000).padStart(6, '0')).toBe(RFC4226_SECTION_5_4.hotp);
  });
});

describe('RFC 6238 Appendix B (ALG-04, ALG-05, ALG-06)', () => {
  test.each(RFC6238_VECTORS)('$title', async (v) => {
    const params = { algorithm: v.algorithm, digits: 8 as const, periodSeconds: 30 };
    expect(timeStepAt(v.timeSeconds * 1000, 30).toString(16).toUpperCase().padStart(16, '0')).toBe(v.stepHex);
    expect(await generateTotp(bytes(RFC6238_SEEDS[v.algorithm]), v.timeSeconds * 1000, params)).toBe(v.totp);
    expect(await generateTotp(RFC6238_SEEDS_BASE32[v.algorithm], v.timeSeconds * 1000, params)).toBe(v.totp);
    const verified = await verifyTotp({
      secret: RFC6238_SEEDS_BASE32[v.algorithm], code: v.totp, nowMs: v.timeSeconds * 1000,
      window: { pastSteps: 0, futureSteps: 0 }, afterStep: null, ...params,
    });
    expect(verified).toEqual({ ok: true, step: parseInt(v.stepHex, 16) });
  });

  test('T = floor(t / 30): t=59 → 1, t=60 → 2 (ALG-04)', () => {
    expect(timeStepAt(59_000, 30)).toBe(1);
    expect(timeStepAt(60_000, 30)).toBe(2);
    expect(timeStepAt(0, 30)).toBe(0);
  });

  test('codes keep leading zeros and are strings (ALG-03)', async () => {
    const code = await generateTotpForStep(RFC6238_SEEDS_BASE32.SHA1, 0x23523ec, { algorithm: 'SHA1', digits: 8, periodSeconds: 30 });
    expect(code).toBe('07081804');
  });
});

describe('the verifier and the generators agree', () => {
  // verifyTotp computes its candidates on node:crypto; generateTotpForStep is otplib's: each is the other's oracle.
  const algorithms = ['SHA1', 'SHA256', 'SHA512'] as const;
  test('for random secrets of every accepted size, every algorithm, 6 and 8 digits, small and large steps', async () => {
    let n = 0;
    for (const size of [16, 20, 32, 64]) {
      for (const algorithm of algorithms) {
        for (const digits of [6, 8] as const) {
          const secret = globalThis.crypto.getRandomValues(new Uint8Array(size));
          for (const step of [0, 1, 0x7fffffff, 0xffffffff, 0x100000000, 0x123456789ab, 2 ** 52 / 30]) {
            const params = { algorithm, digits, periodSeconds: 30 };
            const code = await generateTotpForStep(secret, Math.floor(step), params);
            const verified = await verifyTotp({ secret, code, nowMs: Math.floor(step) * 30_000, window: { pastSteps: 0, futureSteps: 0 }, afterStep: null, ...params });
            expect([size, algorithm, digits, step, verified]).toEqual([size, algorithm, digits, step, { ok: true, step: Math.floor(step) }]);
            n++;
          }
        }
      }
    }
    expect(n).toBe(4 * 3 * 2 * 7);
  });

  test('a code of a neighbouring step outside the window, or of another secret, does not verify', async () => {
    const secret = RFC6238_SEEDS_BASE32.SHA1;
    const params = { algorithm: 'SHA1' as const, digits: 8 as const, periodSeconds: 30 };
    const window = { pastSteps: 1, futureSteps: 1 };
    const code = await generateTotpForStep(secret, 1000, params);
    expect(await verifyTotp({ secret, code, nowMs: 1001 * 30_000, window, afterStep: null, ...params })).toEqual({ ok: true, step: 1000 });
    expect(await verifyTotp({ secret, code, nowMs: 1002 * 30_000, window, afterStep: null, ...params })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await verifyTotp({ secret: RFC6238_SEEDS_BASE32.SHA256, code, nowMs: 1000 * 30_000, window, afterStep: null, ...params })).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('secrets, algorithms and periods otplib refused are refused', async () => {
    const base = { code: '123456', nowMs: 59_000, window: { pastSteps: 1, futureSteps: 1 }, afterStep: null, algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
    await expect(verifyTotp({ ...base, secret: new Uint8Array(15) })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ ...base, secret: new Uint8Array(65) })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ ...base, secret: 'not base32!' })).rejects.toThrow(TypeError);
    await expect(verifyTotp({ ...base, secret: new Uint8Array(16), algorithm: 'MD5' as 'SHA1' })).rejects.toThrow(TypeError);
    await expect(verifyTotp({ ...base, secret: new Uint8Array(16), algorithm: 'toString' as 'SHA1' })).rejects.toThrow(TypeError);
    await expect(verifyTotp({ ...base, secret: new Uint8Array(16), periodSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(verifyTotp({ ...base, secret: new Uint8Array(16), periodSeconds: 3601 })).rejects.toThrow(RangeError);
    // The edges themselves are accepted.
    for (const secret of [new Uint8Array(16), new Uint8Array(64)]) {
      expect(await verifyTotp({ ...base, secret })).toMatchObject({ ok: expect.any(Boolean) });
    }
  });
});
