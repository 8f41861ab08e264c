// Crypto primitives and secrets at rest, checked against published vectors and their failure
// modes (added for issue #14 — mutation testing showed these paths went unasserted).
import { MfaError } from '@secondfactor/core';
import {
  base32Decode, base32Encode, base64UrlDecode, base64UrlEncode, constantTimeEqual, hashToken, hmacSha256, randomId, randomInt, randomString,
  randomToken, sha256, type RandomSource,
} from '../src/crypto';
import { createSecretBox, decodeKey } from '../src/secret-box';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new TextEncoder().encode(s);
/** A random source that replays `chunks` in order, then counts up. */
function scripted(chunks: number[][]): RandomSource & { calls: number[] } {
  let i = 0;
  let n = 0;
  const f = ((size: number) => {
    f.calls.push(size);
    const c = chunks[i++];
    if (c) return Uint8Array.from(c.slice(0, size));
    return Uint8Array.from({ length: size }, () => n++ & 255);
  }) as RandomSource & { calls: number[] };
  f.calls = [];
  return f;
}

describe('encodings', () => {
  test('base32 is RFC 4648 §10 without padding, and decodes padded or lower-case input', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(ascii(plain))).toBe(encoded);
      expect(Buffer.from(base32Decode(encoded)).toString()).toBe(plain);
    }
    expect(Buffer.from(base32Decode('mzxw6ytboi======')).toString()).toBe('foobar');
    expect(base32Encode(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff]))).toBe('77777777');
    expect(() => base32Decode('MZXW1')).toThrow(TypeError);
    expect(() => base32Decode('MZ=XW')).toThrow(TypeError);
    expect(() => base32Decode('MZXW1')).toThrow('invalid base32');
  });

  test('base64url of a view encodes only the viewed bytes', () => {
    const whole = Uint8Array.from([1, 2, 0xfb, 0xff, 0xfe, 9]);
    const view = whole.subarray(2, 5);
    expect(base64UrlEncode(view)).toBe('-__-');
    expect(hex(base64UrlDecode('-__-'))).toBe('fbfffe');
  });
});

describe('hashes', () => {
  test('SHA-256 and HMAC-SHA-256 match FIPS 180-2 and RFC 4231 (test case 2)', async () => {
    expect(hex(await sha256('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(await sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await hashToken('abc')).toBe(Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString('base64url'));
    expect(hex(await hmacSha256(ascii('Jefe'), 'what do ya want for nothing?'))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  test('constantTimeEqual is plain equality, lengths and prefixes included', () => {
    const cases: [string, string, boolean][] = [
      ['', '', true], ['a', '', false], ['', 'a', false], ['123456', '123456', true], ['123456', '123457', false], ['12345', '123456', false],
      ['123456', '12345', false], ['1234561', '123456', false], ['aa', 'a', false], ['a', 'aa', false], ['é', 'é', true], ['é', 'e', false],
    ];
    for (const [a, b, equal] of cases) expect([a, b, constantTimeEqual(a, b)]).toEqual([a, b, equal]);
  });
});

describe('randomness', () => {
  test('randomInt rejects out-of-range bounds and resamples instead of taking a biased value', () => {
    for (const max of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) expect(() => randomInt(scripted([]), max)).toThrow(RangeError);
    expect(() => randomInt(scripted([]), 0)).toThrow('max out of range');
    // 0xFFFFFFFF lies in the biased tail for max 3 (limit 4294967295): it must be drawn again.
    const r = scripted([[0xff, 0xff, 0xff, 0xff], [0, 0, 0, 5]]);
    expect(randomInt(r, 3)).toBe(2);
    expect(r.calls).toEqual([4, 4]);
    // Big-endian: the first byte is the most significant.
    expect(randomInt(scripted([[1, 0, 0, 0]]), 2 ** 32)).toBe(2 ** 24);
    expect(randomInt(scripted([[0, 1, 0, 0]]), 2 ** 32)).toBe(2 ** 16);
    expect(randomInt(scripted([[0, 0, 1, 0]]), 2 ** 32)).toBe(2 ** 8);
    expect(randomInt(scripted([[0x80, 0, 0, 0]]), 2 ** 32)).toBe(2 ** 31);
    expect(randomInt(scripted([[0, 0, 0, 7]]), 1)).toBe(0);
  });

  test('randomString draws each character from the alphabet; ids and tokens have their sizes', () => {
    // One call for the four 32-bit draws of four characters.
    const words = scripted([[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]]);
    expect(randomString(words, 'abc', 4)).toBe('abca');
    expect(words.calls).toEqual([16]);
    const r = scripted([]);
    expect(randomId(r)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(randomToken(r)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(r, 16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(r.calls).toEqual([16, 32, 16]);
  });

  test('randomString resamples a draw in the biased tail, asking only for the characters still missing', () => {
    // 0xFFFFFFFF is refused for an alphabet of 3 (as randomInt refuses it): the second character is drawn again.
    const r = scripted([[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5], [0, 0, 0, 4]]);
    expect(randomString(r, 'abc', 3)).toBe('bcb');
    expect(r.calls).toEqual([12, 4]);
    expect(randomString(scripted([]), 'abc', 0)).toBe('');
    expect(() => randomString(scripted([]), '', 1)).toThrow(RangeError);
    // A long string is drawn 4096 characters (16 KiB) at a time: within what getRandomValues gives per call.
    const long = scripted([]);
    expect(randomString(long, 'abcdefghijklmnopqrstuvwxyz234567', 10_000)).toHaveLength(10_000);
    expect(long.calls).toEqual([16_384, 16_384, 7_232]);
  });

  test('randomString reads the source as randomInt does, one 32-bit draw after another, in the same order', () => {
    for (const alphabet of ['abc', 'abcdefghijklmnopqrstuvwxyz234567', '0123456789']) {
      const bulk = randomString(scripted([]), alphabet, 40);
      const one = scripted([]);
      const each = Array.from({ length: 40 }, () => alphabet[randomInt(one, alphabet.length)]).join('');
      expect(bulk).toBe(each);
    }
  });

  test('randomString is uniform over an alphabet whose size does not divide 2^32', () => {
    const alphabet = '0123456789';
    const counts = new Map<string, number>();
    const total = 100_000;
    for (const ch of randomString((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)), alphabet, total)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe(alphabet);
    const expected = total / alphabet.length;
    const chiSquare = [...counts.values()].reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(χ² > 40) < 1e-5 for a uniform draw. A modulo-biased draw would be detected far beyond that.
    expect(chiSquare).toBeLessThan(40);
  });

  test('a source that returns fewer bytes than asked is refused, never read past its end', () => {
    const short: RandomSource = (n) => new Uint8Array(Math.max(0, n - 1));
    expect(() => randomInt(short, 10)).toThrow(RangeError);
    expect(() => randomString(short, 'abc', 3)).toThrow(RangeError);
    expect(() => randomInt(short, 10)).toThrow('random source returned fewer bytes than asked');
  });

  test('a source that returns more bytes than asked: only the bytes asked for are used', () => {
    const generous: RandomSource = (n) => Uint8Array.from({ length: n + 64 }, (_, i) => (i * 37 + 11) & 255);
    const exact: RandomSource = (n) => generous(n).subarray(0, n);
    for (const length of [1, 3, 40]) {
      expect(randomString(generous, 'abc', length)).toBe(randomString(exact, 'abc', length));
      expect(randomString(generous, 'abc', length)).toHaveLength(length);
    }
    expect(randomInt(generous, 1000)).toBe(randomInt(exact, 1000));
  });
});

describe('secret box (AES-256-GCM with key ids)', () => {
  // Bytes that produce `+` and `/` in base64, so base64 and base64url spellings differ.
  const keyBytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i % 2 ? 0xfb : 0xff)));
  const k1 = keyBytes.toString('base64');
  const k1url = keyBytes.toString('base64url');
  const k2 = Buffer.alloc(32, 7).toString('base64');
  const random: RandomSource = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

  const expectStoreError = async (p: Promise<unknown>, message: RegExp) => {
    const error = await p.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(MfaError);
    expect((error as MfaError).code).toBe('store_unavailable');
    expect((error as MfaError).message).toMatch(message);
    return error as MfaError;
  };

  test('keys may be given as base64 or base64url', async () => {
    expect(hex(decodeKey(k1url))).toBe(keyBytes.toString('hex'));
    const a = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const b = createSecretBox({ current: 'k1', keys: { k1: k1url } }, random);
    expect(await b.open(await a.seal('secret', 'alice:f1'), 'alice:f1')).toEqual({ plaintext: 'secret', stale: false });
    expect(b.currentKeyId).toBe('k1');
    expect(hex(b.keyBytes()!)).toBe(keyBytes.toString('hex'));
    expect(hex(b.keyBytes('k1')!)).toBe(keyBytes.toString('hex'));
    expect(b.keyBytes('k2')).toBeUndefined();
  });

  test('envelope is v1.<key id>.<12-byte IV>.<ciphertext>, with a fresh IV each time', async () => {
    const r = scripted([Array.from({ length: 12 }, () => 1)]);
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, r);
    const e = await box.seal('JBSWY3DPEHPK3PXP', 'alice:f1');
    expect(r.calls).toEqual([12]);
    const [v, id, iv, ct] = e.split('.');
    expect([v, id, iv]).toEqual(['v1', 'k1', Buffer.alloc(12, 1).toString('base64url')]);
    expect(base64UrlDecode(ct!).length).toBe(16 + 16); // plaintext + GCM tag
    const e2 = await box.seal('JBSWY3DPEHPK3PXP', 'alice:f1');
    expect(e2.split('.')[2]).not.toBe(iv);
  });

  test('a secret opens only for its binding (user and factor) and only unaltered', async () => {
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const e = await box.seal('JBSWY3DPEHPK3PXP', 'alice:f1');
    const wrongBinding = await expectStoreError(box.open(e, 'bob:f1'), /failed authentication/);
    expect(wrongBinding.cause).toBeDefined();
    const [v, id, iv, ct] = e.split('.') as [string, string, string, string];
    const flipped = Buffer.from(ct, 'base64url');
    flipped[0] ^= 1;
    await expectStoreError(box.open([v, id, iv, flipped.toString('base64url')].join('.'), 'alice:f1'), /failed authentication/);
  });

  test("envelopes are Web Crypto's AES-GCM (ciphertext then 16-byte tag): either side opens what the other sealed", async () => {
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const webKey = await globalThis.crypto.subtle.importKey('raw', keyBytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const aad = (binding: string) => new TextEncoder().encode(binding);
    const [, , iv, ct] = (await box.seal('JBSWY3DPEHPK3PXP é', 'alice:f1')).split('.') as [string, string, string, string];
    const opened = await globalThis.crypto.subtle.decrypt({ name: 'AES-GCM', iv: base64UrlDecode(iv) as BufferSource, additionalData: aad('alice:f1') }, webKey, base64UrlDecode(ct) as BufferSource);
    expect(new TextDecoder().decode(opened)).toBe('JBSWY3DPEHPK3PXP é');
    const webIv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const sealed = await globalThis.crypto.subtle.encrypt({ name: 'AES-GCM', iv: webIv, additionalData: aad('bob:f2') }, webKey, new TextEncoder().encode('web-sealed'));
    const envelope = `v1.k1.${base64UrlEncode(webIv)}.${base64UrlEncode(new Uint8Array(sealed))}`;
    expect(await box.open(envelope, 'bob:f2')).toEqual({ plaintext: 'web-sealed', stale: false });
    await expectStoreError(box.open(envelope, 'alice:f1'), /failed authentication/);
  });

  test('a cut tag, a missing IV or a ciphertext shorter than a tag fails authentication', async () => {
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const [v, id, iv, ct] = (await box.seal('JBSWY3DPEHPK3PXP', 'alice:f1')).split('.') as [string, string, string, string];
    const sealed = Buffer.from(ct, 'base64url');
    for (const bad of [
      [v, id, iv, sealed.subarray(0, sealed.length - 4).toString('base64url')], // the last 4 tag bytes cut
      [v, id, iv, sealed.subarray(0, 15).toString('base64url')],
      [v, id, iv, ''],
      [v, id, '', ct],
    ]) {
      await expectStoreError(box.open(bad.join('.'), 'alice:f1'), /failed authentication/);
    }
  });

  test('an empty secret (a plugin may keep one) seals to a bare tag and opens again; anything shorter than a tag is refused as such', async () => {
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const e = await box.seal('', 'alice:f1');
    expect(base64UrlDecode(e.split('.')[3]!).length).toBe(16);
    expect(await box.open(e, 'alice:f1')).toEqual({ plaintext: '', stale: false });
    await expectStoreError(box.open(e, 'alice:f2'), /failed authentication/);
    const [v, id, iv, ct] = e.split('.') as [string, string, string, string];
    for (const short of [Buffer.from(ct, 'base64url').subarray(0, 15).toString('base64url'), '']) {
      const error = await expectStoreError(box.open([v, id, iv, short].join('.'), 'alice:f1'), /failed authentication/);
      expect(error.cause).toEqual(new RangeError('ciphertext shorter than its tag'));
    }
  });

  test('malformed envelopes and unknown key ids are store errors that say so', async () => {
    const box = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const [, , iv, ct] = (await box.seal('x', 'b')).split('.') as [string, string, string, string];
    for (const bad of [`v2.k1.${iv}.${ct}`, `v1.k1.${iv}`, `v1.k1.${iv}.${ct}.x`, '', `k1.${iv}.${ct}`]) {
      await expectStoreError(box.open(bad, 'b'), /Malformed/);
    }
    const other = createSecretBox({ current: 'k2', keys: { k2 } }, random);
    await expectStoreError(box.open(await other.seal('x', 'b'), 'b'), /unknown key id "k2"/);
    await expectStoreError(createSecretBox({ current: 'k9', keys: { k1 } }, random).seal('x', 'b'), /unknown key id "k9"/);
  });

  test('after rotation old envelopes open and are reported stale; new ones are not', async () => {
    const old = createSecretBox({ current: 'k1', keys: { k1 } }, random);
    const rotated = createSecretBox({ current: 'k2', keys: { k1, k2 } }, random);
    const e1 = await old.seal('s', 'b');
    expect(await rotated.open(e1, 'b')).toEqual({ plaintext: 's', stale: true });
    expect(await rotated.open(e1, 'b')).toEqual({ plaintext: 's', stale: true }); // the imported key is reused
    const e2 = await rotated.seal('s', 'b');
    expect(e2.split('.')[1]).toBe('k2');
    expect(await rotated.open(e2, 'b')).toEqual({ plaintext: 's', stale: false });
  });
});
