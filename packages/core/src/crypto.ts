// packages/core/src/crypto.ts
// Small primitives on Web Crypto and Uint8Array: encodings, hashing, constant-time compare,
// unbiased random choices. Randomness always comes from the injected `RandomSource`.

/** Fills and returns `n` random bytes. Must be a CSPRNG. */
export type RandomSource = (n: number) => Uint8Array;

export const defaultRandom: RandomSource = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();

function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (the otpauth `secret` form). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32 decode; padding and case are ignored. Throws on other characters. */
export function base32Decode(text: string): Uint8Array {
  const clean = text.toUpperCase().replace(/=+$/, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new TypeError('invalid base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

export function base64UrlEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function base64UrlDecode(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const input = typeof data === 'string' ? utf8(data) : data;
  return new Uint8Array(await subtle().digest('SHA-256', input as BufferSource));
}

/** SHA-256 of a high-entropy token, base64url: how tokens are stored (never the token itself). */
export async function hashToken(token: string): Promise<string> {
  return base64UrlEncode(await sha256(token));
}

export async function hmacSha256(key: Uint8Array, data: string): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, utf8(data) as BufferSource));
}

/**
 * Constant-time equality of two strings: the time depends only on the length of `b` (the expected
 * value), never on where the strings differ.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = utf8(a);
  const y = utf8(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i % Math.max(1, x.length)] ?? 0) ^ y[i]!;
  return diff === 0;
}

/** A uniformly random integer in [0, max) without modulo bias. */
export function randomInt(random: RandomSource, max: number): number {
  if (!Number.isInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError('max out of range');
  const limit = Math.floor(2 ** 32 / max) * max;
  for (;;) {
    const b = random(4);
    const n = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
    if (n < limit) return n % max;
  }
}

/** A string of `length` characters drawn uniformly from `alphabet`. */
export function randomString(random: RandomSource, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(random, alphabet.length)];
  return out;
}

/** An opaque random identifier (128 bits, base64url). */
export function randomId(random: RandomSource): string {
  return base64UrlEncode(random(16));
}

/** An opaque bearer token of `bytes` random bytes (base64url). */
export function randomToken(random: RandomSource, bytes = 32): string {
  return base64UrlEncode(random(bytes));
}
