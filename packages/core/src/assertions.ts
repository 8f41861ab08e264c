// packages/core/src/assertions.ts
// MFA assertions: short-lived JWTs (jose) saying "this user passed a second factor at auth_time",
// with `amr` values from RFC 8176. Typed (`typ`) and audience-bound so nothing else — a challenge
// token, a host session token — is ever accepted in their place.
// HS256 assertions are signed with node:crypto's synchronous HMAC (one login, one signature:
// ~4 µs instead of ~45 µs through jose's Web Crypto job); every assertion is verified by jose.
import { createHmac, createSecretKey, type KeyObject as NodeKeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type CryptoKey as JoseCryptoKey, type KeyObject } from 'jose';
import { MfaConfigError } from './errors';

export const ASSERTION_TYPE = 'secondfactor-assertion+jwt';

/** Clock skew tolerated between instances for `auth_time` and `iat` in the future (seconds). */
const MAX_CLOCK_SKEW_SECONDS = 60;

type AnyKey = JoseCryptoKey | KeyObject | Uint8Array;

/** An HS256 secret (≥ 32 bytes), or an asymmetric key pair. */
export type SigningKey =
  | string
  | Uint8Array
  | { alg: 'EdDSA' | 'ES256' | 'RS256'; privateKey: AnyKey; publicKey: AnyKey };

interface AssertionClaims {
  userId: string;
  amr: string[];
  /** Epoch ms of the verification. */
  authTime: number;
}

export type AssertionVerdict = { ok: true; claims: AssertionClaims } | { ok: false; reason: 'invalid' | 'stale' };

export interface AssertionSigner {
  sign(claims: AssertionClaims, nowMs: number): Promise<string>;
  verify(token: string, nowMs: number, maxAgeSeconds?: number): Promise<AssertionVerdict>;
  /**
   * The verdict on a token whose signature this signer verified before (its time claims checked
   * now, as `verify` checks them), without waiting for anything; `undefined` for any other token.
   */
  verifyKnown(token: unknown, nowMs: number, maxAgeSeconds?: number): AssertionVerdict | undefined;
  ttlSeconds: number;
}

export interface AssertionOptions {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export function resolveSigningKey(key: SigningKey): { alg: string; signKey: AnyKey; verifyKey: AnyKey } {
  if (typeof key === 'string') {
    if (key.length < 32) throw new MfaConfigError('signingKey', 'must be at least 32 characters (HS256 secret)');
    const bytes = new TextEncoder().encode(key);
    return { alg: 'HS256', signKey: bytes, verifyKey: bytes };
  }
  if (key instanceof Uint8Array) {
    if (key.length < 32) throw new MfaConfigError('signingKey', 'must be at least 32 bytes (HS256 secret)');
    return { alg: 'HS256', signKey: key, verifyKey: key };
  }
  if (key && typeof key === 'object' && 'privateKey' in key && 'publicKey' in key) {
    if (!Object.hasOwn(KEY_KINDS, key.alg)) throw new MfaConfigError('signingKey.alg', 'must be EdDSA, ES256 or RS256');
    checkKeyOf(key.alg, key.privateKey, 'private');
    checkKeyOf(key.alg, key.publicKey, 'public');
    return { alg: key.alg, signKey: key.privateKey, verifyKey: key.publicKey };
  }
  throw new MfaConfigError('signingKey', 'must be an HS256 secret (string or bytes, ≥ 32) or {alg, privateKey, publicKey}');
}

/** A CryptoKey's `algorithm`, as much of it as is read here. */
type CryptoKeyAlgorithm = { name: string; namedCurve?: string; hash?: { name: string }; modulusLength?: number };

/** The asymmetric algorithms, and what each takes: a node:crypto KeyObject's key type, a CryptoKey's algorithm. */
const KEY_KINDS: Record<string, { keyObject: (k: NodeKeyObject) => boolean; cryptoKey: (a: CryptoKeyAlgorithm) => boolean; what: string }> = {
  EdDSA: { keyObject: (k) => k.asymmetricKeyType === 'ed25519', cryptoKey: (a) => a.name === 'Ed25519', what: 'an Ed25519 key' },
  ES256: {
    keyObject: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1',
    cryptoKey: (a) => a.name === 'ECDSA' && a.namedCurve === 'P-256',
    what: 'a P-256 EC key',
  },
  RS256: {
    keyObject: (k) => k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
    cryptoKey: (a) => a.name === 'RSASSA-PKCS1-v1_5' && a.hash?.name === 'SHA-256' && (a.modulusLength ?? 0) >= 2048,
    what: 'an RSA key of at least 2048 bits (a CryptoKey: RSASSA-PKCS1-v1_5 with SHA-256)',
  },
};

/**
 * Refuses, when the engine is created, an asymmetric key that jose would only refuse at the first
 * login or step-up: raw bytes or a string, a key of another algorithm, a public key given as the
 * private one or the other way round.
 */
function checkKeyOf(alg: string, key: unknown, role: 'private' | 'public'): void {
  const kind = KEY_KINDS[alg]!;
  // By tag, not instanceof: a key made in another realm (a vm context, a test runner) is the same kind of key.
  const tag = Object.prototype.toString.call(key);
  const k = key as NodeKeyObject & { algorithm: CryptoKeyAlgorithm };
  const fits = tag === '[object KeyObject]' ? k.type === role && kind.keyObject(k)
    : tag === '[object CryptoKey]' ? k.type === role && kind.cryptoKey(k.algorithm)
    : false;
  if (!fits) throw new MfaConfigError(`signingKey.${role}Key`, `must be the ${role} half of ${kind.what}, as a KeyObject (node:crypto) or a CryptoKey — not raw bytes or a string`);
}

/** How many verified assertions a signer remembers (each until its `exp`). */
const VERIFIED_CACHE_SIZE = 10_000;

interface VerifiedAssertion {
  claims: AssertionClaims;
  /** Epoch seconds. */
  authTime: number;
  iat: number;
  exp: number;
}

/** HS256 secrets are imported into a CryptoKey once, instead of on every sign and verify. */
function cachedHmacKey(bytes: AnyKey): () => Promise<AnyKey> {
  if (!(bytes instanceof Uint8Array)) return async () => bytes;
  let key: Promise<AnyKey> | undefined;
  return () => (key ??= globalThis.crypto.subtle.importKey('raw', bytes as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']) as Promise<AnyKey>);
}

/** JWS compact serialization of `payload` under HS256 (RFC 7515 §7.1, RFC 7518 §3.2), as jose's SignJWT writes it. */
function signHs256(secret: NodeKeyObject, header: string, payload: Record<string, unknown>): string {
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function createAssertionSigner(key: SigningKey, options: AssertionOptions): AssertionSigner {
  const resolved = resolveSigningKey(key);
  const { alg } = resolved;
  // HS256: the protected header is always the same, and the secret is a KeyObject made once.
  const hs256 = alg === 'HS256' && resolved.signKey instanceof Uint8Array
    ? { secret: createSecretKey(resolved.signKey), header: Buffer.from(JSON.stringify({ alg, typ: ASSERTION_TYPE })).toString('base64url') }
    : null;
  const signKey = cachedHmacKey(resolved.signKey);
  const verifyKey = cachedHmacKey(resolved.verifyKey);
  // Tokens whose signature and fixed claims were verified, until they expire: requireMfa sees the
  // same assertion on every request of a session, and a signature check per request is most of
  // its cost. Bounded (oldest first out); time claims are still checked on every use.
  const verified = new Map<string, VerifiedAssertion>();
  const remember = (token: string, entry: VerifiedAssertion) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(token, entry);
  };
  // Time claims are checked on every use, cached or not (the signature only once per token).
  const judge = (token: string, entry: VerifiedAssertion, nowMs: number, maxAgeSeconds: number | undefined): AssertionVerdict => {
    const now = Math.floor(nowMs / 1000);
    if (entry.exp <= now) {
      verified.delete(token);
      return { ok: false, reason: 'invalid' };
    }
    // A verification "in the future" would pass every maxAge for as long as it lives.
    if (entry.authTime > now + MAX_CLOCK_SKEW_SECONDS || entry.iat > now + MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'invalid' };
    if (maxAgeSeconds !== undefined && now - entry.authTime > maxAgeSeconds) return { ok: false, reason: 'stale' };
    return { ok: true, claims: { ...entry.claims, amr: [...entry.claims.amr] } };
  };
  return {
    ttlSeconds: options.ttlSeconds,
    async sign(claims, nowMs) {
      const iat = Math.floor(nowMs / 1000);
      if (hs256) {
        const authTime = Math.floor(claims.authTime / 1000);
        // What jose's claim setters refuse, refused alike: a non-string subject, a non-finite time.
        if (typeof claims.userId !== 'string') throw new TypeError('"sub" claim must be a string');
        if (!Number.isFinite(iat) || !Number.isFinite(authTime)) throw new TypeError('assertion times must be finite numbers');
        return signHs256(hs256.secret, hs256.header, {
          amr: claims.amr, auth_time: authTime, sub: claims.userId, iss: options.issuer, aud: options.audience, iat, exp: iat + options.ttlSeconds,
        });
      }
      return new SignJWT({ amr: claims.amr, auth_time: Math.floor(claims.authTime / 1000) })
        .setProtectedHeader({ alg, typ: ASSERTION_TYPE })
        .setSubject(claims.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + options.ttlSeconds)
        .sign(await signKey());
    },
    verifyKnown(token, nowMs, maxAgeSeconds) {
      const entry = typeof token === 'string' ? verified.get(token) : undefined;
      return entry === undefined ? undefined : judge(token as string, entry, nowMs, maxAgeSeconds);
    },
    async verify(token, nowMs, maxAgeSeconds) {
      if (typeof token !== 'string') return { ok: false, reason: 'invalid' };
      // A token found here passed every check below once.
      let entry = verified.get(token);
      if (entry === undefined) {
        if (token.length > 4096 || token.split('.').length !== 3) return { ok: false, reason: 'invalid' };
        try {
          const { payload } = await jwtVerify(token, await verifyKey(), {
            issuer: options.issuer, audience: options.audience, algorithms: [alg], typ: ASSERTION_TYPE,
            currentDate: new Date(nowMs), requiredClaims: ['sub', 'exp', 'iat', 'auth_time'],
          });
          const { auth_time: authTime, amr, sub, iat, exp } = payload;
          if (typeof authTime !== 'number' || !Array.isArray(amr) || !amr.every((v) => typeof v === 'string') || typeof sub !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
            return { ok: false, reason: 'invalid' };
          }
          entry = { claims: { userId: sub, amr: amr as string[], authTime: authTime * 1000 }, authTime, iat, exp };
          remember(token, entry);
        } catch (error) {
          if (error instanceof joseErrors.JOSEError) return { ok: false, reason: 'invalid' };
          throw error;
        }
      }
      return judge(token, entry, nowMs, maxAgeSeconds);
    },
  };
}
