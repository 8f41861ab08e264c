// packages/webauthn/src/ceremony.ts
// What registration and authentication share: the algorithms offered, fresh challenges, the
// failure value, and the check that a step got the kind of response it answers.
import { type FactorContext, MfaError, type PluginState, type VerifyFailure } from '@secondfactor/core';
import type { ParsedResponse } from './parse-response';

/**
 * COSE algorithms offered and accepted: EdDSA (-8), ES256 (-7), RS256 (-257). Pinned rather than the
 * library's default, which adds ML-DSA-44 on runtimes that support it: a key registered on one Node
 * must verify on every Node this package supports.
 */
export const SUPPORTED_ALGORITHMS = [-8, -7, -257];

/** Challenges are 32 bytes from the engine's CSPRNG. */
export function newChallenge(ctx: FactorContext): Uint8Array<ArrayBuffer> {
  const bytes = ctx.randomBytes(32);
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== 32) throw new Error('secondfactor/webauthn: the random source did not return 32 bytes');
  return new Uint8Array(bytes);
}

/** A wrong, stale or foreign answer: counted like a wrong code. */
export function invalid(factorId?: string): VerifyFailure {
  return factorId === undefined ? { ok: false, reason: 'invalid_code' } : { ok: false, reason: 'invalid_code', factorId };
}

/** The kept challenge, unless it is missing or past its expiry. */
export function liveState(ctx: FactorContext, state: PluginState | null): PluginState | null {
  return state !== null && state.expiresAt > ctx.now() ? state : null;
}

/** `input` as `parseInput` returned it, of the kind this step needs (a registration to confirm, an assertion to verify). */
export function responseOf<K extends ParsedResponse['kind']>(input: unknown, kind: K): Extract<ParsedResponse, { kind: K }> {
  const parsed = input as ParsedResponse | undefined;
  if (parsed?.kind !== kind) {
    const wanted = kind === 'registration' ? 'a registration (navigator.credentials.create)' : 'an authentication (navigator.credentials.get)';
    throw new MfaError('invalid_request', `response must be ${wanted} response`, { field: 'response' });
  }
  return parsed as Extract<ParsedResponse, { kind: K }>;
}
