// MFA assertions (assertions.ts) at the edges mutation testing found unasserted (issue #14): what
// each refused signing key is told, every asymmetric algorithm, the size limit of a token, claims
// of the wrong type, the clock-skew bounds, an error that is not a bad token, and the cache of
// verified tokens (signature checked once, bounded, an expired token forgotten).
import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { MfaConfigError } from '../src/errors';
import { ASSERTION_TYPE, createAssertionSigner, resolveSigningKey } from '../src/assertions';

const KEY = 'assertion-signing-key-with-32-chars!!';
const OPTS = { issuer: 'Acme Co', audience: 'secondfactor', ttlSeconds: 300 };
const NOW = 1_700_000_000_000;
const sec = (ms: number) => Math.floor(ms / 1000);
const hs = new TextEncoder().encode(KEY);
const good = { sub: 'alice', iss: 'Acme Co', aud: 'secondfactor', iat: sec(NOW), exp: sec(NOW) + 300, auth_time: sec(NOW), amr: ['otp'] };
const craft = (payload: Record<string, unknown>) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE }).sign(hs);

/** Counts signature checks (jose verifies HS256 and the key pairs through WebCrypto's `verify`). */
function countSignatureChecks() {
  const spy = jest.spyOn(globalThis.crypto.subtle, 'verify');
  return { count: () => spy.mock.calls.length, restore: () => spy.mockRestore() };
}

describe('signing keys', () => {
  test('each refusal names the option and says what is expected', () => {
    expect(() => resolveSigningKey('x'.repeat(31))).toThrow('`signingKey` must be at least 32 characters (HS256 secret)');
    expect(() => resolveSigningKey(new Uint8Array(31))).toThrow('`signingKey` must be at least 32 bytes (HS256 secret)');
    expect(() => resolveSigningKey({ alg: 'HS512' as 'EdDSA', privateKey: hs, publicKey: hs })).toThrow('`signingKey.alg` must be EdDSA, ES256 or RS256');
    const shape = '`signingKey` must be an HS256 secret (string or bytes, ≥ 32) or {alg, privateKey, publicKey}';
    for (const key of [{ alg: 'EdDSA', privateKey: hs }, { alg: 'EdDSA', publicKey: hs }, null, 42, undefined]) {
      expect(() => resolveSigningKey(key as never)).toThrow(shape);
    }
    expect(() => resolveSigningKey({ alg: 'ES256', privateKey: hs, publicKey: hs })).toThrow(
      '`signingKey.privateKey` must be the private half of a P-256 EC key, as a KeyObject (node:crypto) or a CryptoKey — not raw bytes or a string',
    );
  });

  test('an asymmetric pair is checked when the engine is created: each half a key of its algorithm, private and public in their places', async () => {
    const node = (type: string, options: object = {}) => generateKeyPairSync(type as 'ed25519', options as never);
    const good = {
      EdDSA: [await generateKeyPair('EdDSA'), node('ed25519')],
      ES256: [await generateKeyPair('ES256'), node('ec', { namedCurve: 'P-256' })],
      RS256: [await generateKeyPair('RS256'), node('rsa', { modulusLength: 2048 })],
    } as const;
    for (const [alg, pairs] of Object.entries(good) as [keyof typeof good, readonly { privateKey: unknown; publicKey: unknown }[]][]) {
      for (const { privateKey, publicKey } of pairs) {
        expect(resolveSigningKey({ alg, privateKey, publicKey } as never).alg).toBe(alg);
        expect(() => resolveSigningKey({ alg, privateKey: publicKey, publicKey } as never)).toThrow('`signingKey.privateKey` must be the private half of');
        expect(() => resolveSigningKey({ alg, privateKey, publicKey: privateKey } as never)).toThrow('`signingKey.publicKey` must be the public half of');
      }
    }
    // Keys jose would refuse only at the first signature: another curve or algorithm, a short RSA key, a secret, a string.
    const refused: [keyof typeof good, { privateKey: unknown; publicKey: unknown }][] = [
      ['EdDSA', node('ed448')], ['EdDSA', await generateKeyPair('ES256')], ['ES256', node('ec', { namedCurve: 'P-384' })],
      ['ES256', await generateKeyPair('ES384')], ['RS256', node('rsa', { modulusLength: 1024 })], ['RS256', node('rsa-pss', { modulusLength: 2048 })],
      ['RS256', await generateKeyPair('PS256')], ['EdDSA', { privateKey: createSecretKey(hs), publicKey: createSecretKey(hs) }],
      ['EdDSA', { privateKey: '-----BEGIN PRIVATE KEY-----', publicKey: '-----BEGIN PUBLIC KEY-----' }],
    ];
    // WebCrypto keys of the right family but not of the algorithm: ECDH on P-256, RSASSA with SHA-384, a 1024-bit RSASSA key.
    const subtle = globalThis.crypto.subtle;
    const rsa = (hash: string, modulusLength: number) =>
      subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash }, false, ['sign', 'verify']) as Promise<CryptoKeyPair>;
    refused.push(
      ['ES256', (await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits'])) as CryptoKeyPair],
      ['RS256', await rsa('SHA-384', 2048)], ['RS256', await rsa('SHA-256', 1024)],
      // Something shaped like a CryptoKey is not one.
      ['EdDSA', { privateKey: { type: 'private', algorithm: { name: 'Ed25519' } }, publicKey: { type: 'public', algorithm: { name: 'Ed25519' } } }],
    );
    for (const [alg, { privateKey, publicKey }] of refused) {
      expect(() => resolveSigningKey({ alg, privateKey, publicKey } as never)).toThrow('`signingKey.privateKey` must be the private half of');
    }
    expect(resolveSigningKey({ alg: 'RS256', ...(await rsa('SHA-256', 2048)) } as never).alg).toBe('RS256');
    expect(() => resolveSigningKey({ alg: 'RS256', privateKey: hs, publicKey: hs })).toThrow(
      '`signingKey.privateKey` must be the private half of an RSA key of at least 2048 bits (a CryptoKey: RSASSA-PKCS1-v1_5 with SHA-256), as a KeyObject (node:crypto) or a CryptoKey — not raw bytes or a string',
    );
  });

  test.each(['ES256', 'RS256'] as const)('a %s pair signs with the private key and verifies with the public one', async (alg) => {
    const { publicKey, privateKey } = await generateKeyPair(alg);
    const s = createAssertionSigner({ alg, privateKey, publicKey }, OPTS);
    const token = await s.sign({ userId: 'alice', amr: ['hwk'], authTime: NOW }, NOW);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg, typ: ASSERTION_TYPE });
    expect(await s.verify(token, NOW)).toEqual({ ok: true, claims: { userId: 'alice', amr: ['hwk'], authTime: NOW } });
    const other = await generateKeyPair(alg);
    expect(await createAssertionSigner({ alg, privateKey: other.privateKey, publicKey: other.publicKey }, OPTS).verify(token, NOW)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('a key jose cannot use is an error of the configuration, not a refused token: no signer is made', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    expect(() => createAssertionSigner({ alg: 'EdDSA', privateKey, publicKey: 'not a key' as never }, OPTS)).toThrow(MfaConfigError);
    expect(() => createAssertionSigner({ alg: 'EdDSA', privateKey, publicKey: 'not a key' as never }, OPTS)).toThrow(TypeError);
  });
});

describe('tokens', () => {
  test('at most 4096 characters: a correctly signed token one longer is refused', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const sized = async (length: number) => {
      const base = (await craft({ ...good, pad: '' })).length;
      // Base64url of the payload grows 4 characters per 3 bytes: pad in steps of 3, then fine-tune.
      for (let extra = Math.floor(((length - base) * 3) / 4) - 3; ; extra++) {
        const token = await craft({ ...good, pad: 'p'.repeat(extra) });
        if (token.length === length) return token;
        if (token.length > length) throw new Error(`no token of exactly ${length} characters`);
      }
    };
    const at = await sized(4096);
    expect(at).toHaveLength(4096);
    expect(await s.verify(at, NOW)).toMatchObject({ ok: true, claims: { userId: 'alice' } });
    let over: string | undefined;
    for (const length of [4097, 4098, 4099]) over ??= await sized(length).catch(() => undefined);
    expect(over!.length).toBeGreaterThan(4096);
    expect(await s.verify(over!, NOW)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('a subject that is not a string is refused, even correctly signed', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    for (const sub of [42, ['alice'], { id: 'alice' }]) {
      expect(await s.verify(await craft({ ...good, sub }), NOW)).toEqual({ ok: false, reason: 'invalid' });
    }
    expect(await s.verify(await craft({ ...good, amr: [] }), NOW)).toEqual({ ok: true, claims: { userId: 'alice', amr: [], authTime: sec(NOW) * 1000 } });
  });

  test('a verification or an issue time up to 60 s in the future is tolerated, not one second more — each on its own', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const now = sec(NOW);
    const at = (claims: { iat: number; auth_time: number }) => craft({ ...good, ...claims, exp: claims.iat + 300 });
    expect(await s.verify(await at({ iat: now, auth_time: now + 60 }), NOW)).toMatchObject({ ok: true });
    expect(await s.verify(await at({ iat: now, auth_time: now + 61 }), NOW)).toEqual({ ok: false, reason: 'invalid' });
    expect(await s.verify(await at({ iat: now + 60, auth_time: now }), NOW)).toMatchObject({ ok: true });
    expect(await s.verify(await at({ iat: now + 61, auth_time: now }), NOW)).toEqual({ ok: false, reason: 'invalid' });
    // The same bounds hold for a token already verified (served from the cache).
    const later = await at({ iat: now, auth_time: now });
    expect(await s.verify(later, NOW + 30_000)).toMatchObject({ ok: true });
    expect(await s.verify(later, NOW - 60_000)).toMatchObject({ ok: true });
    expect(await s.verify(later, NOW - 61_000)).toEqual({ ok: false, reason: 'invalid' });
    // A verification in the future passes no maxAge check early: it is refused, not "fresh".
    expect(await s.verify(await at({ iat: now, auth_time: now + 120 }), NOW, 300)).toEqual({ ok: false, reason: 'invalid' });
  });
});

describe('the cache of verified tokens', () => {
  afterEach(() => jest.restoreAllMocks());

  test('a token\'s signature is checked once; a refused token is checked every time', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const token = await s.sign({ userId: 'alice', amr: ['otp'], authTime: NOW }, NOW);
    const checks = countSignatureChecks();
    for (let i = 0; i < 3; i++) expect(await s.verify(token, NOW + i * 1000)).toMatchObject({ ok: true });
    expect(checks.count()).toBe(1);
    const forged = await new SignJWT(good).setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE }).sign(new TextEncoder().encode('another-key-with-at-least-32-chars!!'));
    for (let i = 0; i < 2; i++) expect(await s.verify(forged, NOW)).toEqual({ ok: false, reason: 'invalid' });
    expect(checks.count()).toBe(3);
  });

  test('an HS256 secret is imported into a verification key once, for every verify of the signer', async () => {
    const imports = jest.spyOn(globalThis.crypto.subtle, 'importKey');
    const s = createAssertionSigner(KEY, OPTS);
    for (let i = 0; i < 3; i++) {
      const token = await s.sign({ userId: `u${i}`, amr: ['otp'], authTime: NOW }, NOW);
      expect(await s.verify(token, NOW)).toMatchObject({ ok: true });
    }
    // Signing uses node:crypto's HMAC (no Web Crypto key); jose verifies with the one imported key.
    expect(imports.mock.calls.filter(([format]) => format === 'raw')).toHaveLength(1);
  });

  test('an expired token is forgotten: seen again by a clock set back, its signature is checked again', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const token = await s.sign({ userId: 'alice', amr: ['otp'], authTime: NOW }, NOW);
    const checks = countSignatureChecks();
    expect(await s.verify(token, NOW)).toMatchObject({ ok: true });
    expect(await s.verify(token, NOW + 300_000)).toEqual({ ok: false, reason: 'invalid' });
    expect(checks.count()).toBe(1);
    expect(await s.verify(token, NOW + 1_000)).toMatchObject({ ok: true });
    expect(checks.count()).toBe(2);
    expect(await s.verify(token, NOW + 2_000)).toMatchObject({ ok: true });
    expect(checks.count()).toBe(2);
  });

  test('holds 10,000 tokens: the next one pushes out the oldest only', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const tokens: string[] = [];
    for (let i = 0; i <= 10_000; i++) tokens.push(await s.sign({ userId: `u${i}`, amr: ['otp'], authTime: NOW }, NOW));
    for (const t of tokens.slice(0, 10_000)) await s.verify(t, NOW);
    const checks = countSignatureChecks();
    expect(await s.verify(tokens[0]!, NOW)).toMatchObject({ ok: true, claims: { userId: 'u0' } });
    expect(checks.count()).toBe(0); // 10,000 remembered: the first is still there
    expect(await s.verify(tokens[10_000]!, NOW)).toMatchObject({ ok: true, claims: { userId: 'u10000' } });
    expect(checks.count()).toBe(1);
    // The oldest (u0) went out; u1 … u10000 are still remembered.
    expect(await s.verify(tokens[1]!, NOW)).toMatchObject({ ok: true });
    expect(await s.verify(tokens[9_999]!, NOW)).toMatchObject({ ok: true });
    expect(checks.count()).toBe(1);
    expect(await s.verify(tokens[0]!, NOW)).toMatchObject({ ok: true, claims: { userId: 'u0' } });
    expect(checks.count()).toBe(2);
  });

  describe('verifyKnown: the synchronous answer for a token verified before', () => {
    test('nothing for a token not verified yet, however well signed, nor for one that failed; no signature is checked', async () => {
      const s = createAssertionSigner(KEY, OPTS);
      const token = await s.sign({ userId: 'alice', amr: ['otp'], authTime: NOW }, NOW);
      const forged = await new SignJWT(good).setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE }).sign(new TextEncoder().encode('another-key-with-at-least-32-chars!!'));
      const checks = countSignatureChecks();
      expect(s.verifyKnown(token, NOW)).toBeUndefined();
      expect(await s.verify(forged, NOW)).toEqual({ ok: false, reason: 'invalid' });
      for (const other of [forged, 'a.b.c', '', 42, null, undefined, { toString: () => token }]) expect(s.verifyKnown(other, NOW)).toBeUndefined();
      expect(checks.count()).toBe(1); // the forged token's verify only
    });

    test('after a verify: the same answer as verify at any time — maxAge, the clock-skew bound, expiry — without a signature check', async () => {
      const s = createAssertionSigner(KEY, OPTS);
      const token = await s.sign({ userId: 'alice', amr: ['otp', 'mfa'], authTime: NOW }, NOW);
      const verified = await s.verify(token, NOW);
      expect(verified).toEqual({ ok: true, claims: { userId: 'alice', amr: ['otp', 'mfa'], authTime: NOW } });
      const checks = countSignatureChecks();
      expect(s.verifyKnown(token, NOW)).toEqual(verified);
      expect(s.verifyKnown(token, NOW + 60_999, 60)).toEqual(verified);
      expect(s.verifyKnown(token, NOW + 61_000, 60)).toEqual({ ok: false, reason: 'stale' });
      expect(await s.verify(token, NOW + 61_000, 60)).toEqual({ ok: false, reason: 'stale' });
      // A clock far behind the token's times: "in the future", refused as verify refuses it.
      expect(s.verifyKnown(token, NOW - 61_000)).toEqual({ ok: false, reason: 'invalid' });
      expect(await s.verify(token, NOW - 61_000)).toEqual({ ok: false, reason: 'invalid' });
      expect(checks.count()).toBe(0);
      // Expired: refused and forgotten, so that a later verifyKnown knows nothing of it.
      expect(s.verifyKnown(token, NOW + 300_000)).toEqual({ ok: false, reason: 'invalid' });
      expect(s.verifyKnown(token, NOW)).toBeUndefined();
    });

    test('each answer is a copy: changing its amr changes no later answer', async () => {
      const s = createAssertionSigner(KEY, OPTS);
      const token = await s.sign({ userId: 'alice', amr: ['otp'], authTime: NOW }, NOW);
      await s.verify(token, NOW);
      const first = s.verifyKnown(token, NOW);
      if (!first?.ok) throw new Error('expected a known, valid token');
      first.claims.amr.push('pwd');
      expect(s.verifyKnown(token, NOW)).toEqual({ ok: true, claims: { userId: 'alice', amr: ['otp'], authTime: NOW } });
    });
  });
});
