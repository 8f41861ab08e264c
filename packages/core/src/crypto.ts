// packages/core/src/crypto.ts
// Small primitives on node:crypto and Uint8Array: encodings, hashing, constant-time compare,
// unbiased random choices. Randomness always comes from the injected `RandomSource`.
// Hashes and MACs use Node's synchronous createHash/createHmac: for inputs this small they cost
// a fraction of a Web Crypto call (a thread-pool job and a promise each).
import { createHash, createHmac, randomFillSync } from 'node:crypto';

/** Fills and returns `n` random bytes. Must be a CSPRNG. */
export type RandomSource = (n: number) => Uint8Array;

export const defaultRandom: RandomSource = (n) => randomFillSync(new Uint8Array(n));

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

/** A Buffer's bytes as a plain Uint8Array (same memory, no copy). */
const bytesOf = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  return bytesOf(createHash('sha256').update(data).digest());
}

/** SHA-256 of a high-entropy token, base64url: how tokens are stored (never the token itself). */
export function hashTokenSync(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** `hashTokenSync` for callers that await it. */
export async function hashToken(token: string): Promise<string> {
  return hashTokenSync(token);
}

export function hmacSha256Sync(key: Uint8Array, data: string): Uint8Array {
  return bytesOf(createHmac('sha256', key).update(data, 'utf8').digest());
}

export async function hmacSha256(key: Uint8Array, data: string): Promise<Uint8Array> {
  return hmacSha256Sync(key, data);
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

/** The rejection bound for `max`: 32-bit draws at or above it would bias the result. */
function rejectionLimit(max: number): number {
  if (!Number.isInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError('max out of range');
  return Math.floor(2 ** 32 / max) * max;
}

/** Big-endian 32-bit word at `i`. */
const word = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;

/** Web Crypto's getRandomValues gives at most 64 KiB a call: bulk draws stay well under it. */
const MAX_WORDS_PER_DRAW = 4096;

/** `n` bytes from `random`; a source that returns fewer is a broken source, never padded. */
function draw(random: RandomSource, n: number): Uint8Array {
  const b = random(n);
  if (b.length < n) throw new RangeError('random source returned fewer bytes than asked');
  return b;
}

/** A uniformly random integer in [0, max) without modulo bias. */
export function randomInt(random: RandomSource, max: number): number {
  const limit = rejectionLimit(max);
  for (;;) {
    const n = word(draw(random, 4), 0);
    if (n < limit) return n % max;
  }
}

/**
 * A string of `length` characters drawn uniformly from `alphabet`. Each character takes a 32-bit
 * draw, rejected and drawn again in the biased tail (as `randomInt`); the draws are asked of the
 * source in bulk (one call for all characters still missing, up to 16 KiB), not one call per character.
 */
export function randomString(random: RandomSource, alphabet: string, length: number): string {
  const max = alphabet.length;
  const limit = rejectionLimit(max);
  let out = '';
  let missing = length;
  while (missing > 0) {
    const want = Math.min(missing, MAX_WORDS_PER_DRAW);
    const b = draw(random, 4 * want);
    for (let i = 0; i < want; i++) {
      const n = word(b, 4 * i);
      if (n < limit) {
        out += alphabet[n % max];
        missing--;
      }
    }
  }
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
