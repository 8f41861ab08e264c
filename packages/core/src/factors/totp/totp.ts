// packages/core/src/factors/totp/totp.ts
// TOTP (RFC 6238) over otplib 13: secrets, provisioning URIs, QR codes and a verifier that
// evaluates every window candidate (no early return) and reports the matched time step.
// The verifier computes its candidates with node:crypto's HMAC (RFC 4226 §5.3, a few lines):
// otplib's per-call option handling cost ~4× the HMAC itself on every login. The exported
// generators stay on otplib, and the tests hold the two to the same codes.
import { createHmac } from 'node:crypto';
import { generate } from 'otplib';
import { renderQrCode } from './qr-code';
import { base32Decode, base32Encode, constantTimeEqual, type RandomSource } from '../../crypto';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParameters {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  periodSeconds: number;
}

export interface TotpWindow {
  /** Accepted steps before the current one (delay). */
  pastSteps: number;
  /** Accepted steps after the current one (client clock ahead). */
  futureSteps: number;
}

/** A random TOTP secret (default 20 bytes = 160 bits, RFC 4226 R6), base32 without padding. */
export function generateTotpSecret(random: RandomSource, bytes = 20): string {
  return base32Encode(random(bytes));
}

/** RFC 6238 T = floor((now − T0) / X) with T0 = 0. */
export function timeStepAt(nowMs: number, periodSeconds: number): number {
  return Math.floor(Math.floor(nowMs / 1000) / periodSeconds);
}

const otplibAlgorithm = (a: TotpAlgorithm) => a.toLowerCase() as 'sha1' | 'sha256' | 'sha512';

/** HOTP (RFC 4226) value for `counter`. `secret` is base32 or raw bytes. */
export async function generateHotp(secret: string | Uint8Array, counter: number, params: Omit<TotpParameters, 'periodSeconds'>): Promise<string> {
  return generate({ strategy: 'hotp', secret, counter, digits: params.digits, algorithm: otplibAlgorithm(params.algorithm) } as Parameters<typeof generate>[0]);
}

/** The TOTP code for time step `step`. */
export async function generateTotpForStep(secret: string | Uint8Array, step: number, params: TotpParameters): Promise<string> {
  return generate({
    secret, epoch: step * params.periodSeconds, period: params.periodSeconds, digits: params.digits,
    algorithm: otplibAlgorithm(params.algorithm),
  } as Parameters<typeof generate>[0]);
}

/** The TOTP code at wall time `nowMs`. */
export async function generateTotp(secret: string | Uint8Array, nowMs: number, params: TotpParameters): Promise<string> {
  return generateTotpForStep(secret, timeStepAt(nowMs, params.periodSeconds), params);
}

const HMAC_ALGORITHMS: Record<TotpAlgorithm, string> = { SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };
/** otplib's guardrails on a secret's size (RFC 4226 R6 asks for at least 128 bits). */
const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 64;

/** The HMAC key of a base32 (or raw) secret, refused outside the sizes otplib accepts. */
function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === 'string' ? base32Decode(secret) : secret;
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) throw new RangeError(`TOTP secret must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`);
  return key;
}

/** RFC 4226 §5.3: HMAC of the 8-byte big-endian counter, dynamic truncation, the low `digits` decimal digits. */
function hotpCode(key: Uint8Array, counter: number, hmacAlgorithm: string, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  message.writeUInt32BE(counter >>> 0, 4);
  const hmac = createHmac(hmacAlgorithm, key).update(message).digest();
  const offset = hmac[hmac.length - 1]! & 0x0f;
  const binary = hmac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export interface VerifyTotpOptions extends TotpParameters {
  secret: string | Uint8Array;
  code: string;
  nowMs: number;
  window: TotpWindow;
  /** Steps ≤ this are never accepted (replay guard); null when none was used yet. */
  afterStep: number | null;
}

export type VerifyTotpResult =
  | { ok: true; step: number }
  | { ok: false; reason: 'invalid_code' | 'replayed' };

/**
 * Checks `code` against every step of the window. All candidates are computed and compared in
 * constant time before deciding. A code that only matches an already used step is `replayed`.
 */
export async function verifyTotp(options: VerifyTotpOptions): Promise<VerifyTotpResult> {
  const { code, nowMs, window, afterStep } = options;
  if (!new RegExp(`^\\d{${options.digits}}$`).test(code)) return { ok: false, reason: 'invalid_code' };
  // What otplib refused before computing anything, refused alike.
  if (!Object.hasOwn(HMAC_ALGORITHMS, options.algorithm)) throw new TypeError(`unsupported TOTP algorithm ${String(options.algorithm)}`);
  if (!Number.isSafeInteger(options.periodSeconds) || options.periodSeconds < 1 || options.periodSeconds > 3600) throw new RangeError('TOTP period must be 1 to 3600 seconds');
  const hmacAlgorithm = HMAC_ALGORITHMS[options.algorithm];
  const key = secretKey(options.secret);
  const current = timeStepAt(nowMs, options.periodSeconds);
  let fresh: number | null = null;
  let replayed = false;
  for (let step = current - window.pastSteps; step <= current + window.futureSteps; step++) {
    if (step < 0) continue;
    const candidate = hotpCode(key, step, hmacAlgorithm, options.digits);
    const match = constantTimeEqual(code, candidate);
    const used = afterStep !== null && step <= afterStep;
    if (match && used) replayed = true;
    if (match && !used && fresh === null) fresh = step;
  }
  if (fresh !== null) return { ok: true, step: fresh };
  return { ok: false, reason: replayed ? 'replayed' : 'invalid_code' };
}

export interface TotpKeyUriOptions extends TotpParameters {
  issuer: string;
  accountName: string;
  secret: string;
}

/**
 * `otpauth://totp/Issuer:account?secret=…&issuer=…` per the Key Uri Format: label parts and the
 * issuer are percent-encoded (spaces as `%20`, never `+`), padding is omitted, and non-default
 * algorithm/digits/period are emitted only when set.
 */
export function createTotpKeyUri(options: TotpKeyUriOptions): string {
  if (options.issuer.includes(':')) throw new TypeError('issuer must not contain ":"');
  if (options.accountName.includes(':')) throw new TypeError('accountName must not contain ":"');
  const enc = encodeURIComponent;
  const params = [`secret=${options.secret.replace(/=+$/, '')}`, `issuer=${enc(options.issuer)}`];
  if (options.algorithm !== 'SHA1') params.push(`algorithm=${options.algorithm}`);
  if (options.digits !== 6) params.push(`digits=${options.digits}`);
  if (options.periodSeconds !== 30) params.push(`period=${options.periodSeconds}`);
  return `otpauth://totp/${enc(options.issuer)}:${enc(options.accountName)}?${params.join('&')}`;
}

/** The URI as a QR code, rendered locally (never by a third-party service): PNG data URL and SVG. */
export async function createQrCode(uri: string): Promise<{ png: string; svg: string }> {
  return renderQrCode(uri);
}
