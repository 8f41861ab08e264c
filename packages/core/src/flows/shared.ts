// packages/core/src/flows/shared.ts
// Small rules every flow applies: argument checks, labels, factor summaries, assertions.
import type { EngineContext } from '../context';
import { MfaError } from '../errors';
import type { FactorPlugin } from '../factor-plugin';
import type { FactorRecord } from '../store';
import type { Failure, FactorSummary } from '../types';

export const MAX_FACTORS_PER_USER = 10;
export const MAX_PROOF_AGE_SECONDS = 300;

export const iso = (ms: number) => new Date(ms).toISOString();

export function failure(reason: Failure['reason'], retryAfter?: number): Failure {
  return retryAfter === undefined ? { ok: false, reason } : { ok: false, reason, retryAfter };
}

export function requireUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 255) {
    throw new MfaError('invalid_request', 'userId must be a non-empty string', { field: 'userId' });
  }
  return userId;
}

/** An assertion given as proof is at most 5 minutes old, or younger if the caller asks. */
export function proofAge(opts: { maxAgeSeconds?: number }): number {
  const age = opts.maxAgeSeconds ?? MAX_PROOF_AGE_SECONDS;
  if (!Number.isInteger(age) || age < 1 || age > MAX_PROOF_AGE_SECONDS) {
    throw new MfaError('invalid_request', `maxAgeSeconds must be an integer from 1 to ${MAX_PROOF_AGE_SECONDS}`, { field: 'maxAgeSeconds' });
  }
  return age;
}

/** Control characters and bidirectional overrides/isolates (a label must not reorder what is shown around it). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are refused.
export const UNSAFE_LABEL_CHARACTERS = /[\u0000-\u001f\u007f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** A user-chosen label, or undefined when none was given. */
export function optionalLabel(label: unknown): string | undefined {
  if (label === undefined || label === null || label === '') return undefined;
  if (typeof label !== 'string' || label.length > 64 || UNSAFE_LABEL_CHARACTERS.test(label)) {
    throw new MfaError('invalid_request', 'label must be a string of at most 64 characters, without control or bidirectional-override characters', { field: 'label' });
  }
  return label.trim();
}

/** The name shown in an authenticator (default: the user id). */
export function accountNameOf(value: unknown, userId: string): string {
  const name = value ?? userId;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128 || UNSAFE_LABEL_CHARACTERS.test(name)) {
    throw new MfaError('invalid_request', 'accountName must be a printable string of at most 128 characters', { field: 'accountName' });
  }
  return name;
}

export async function activeFactors(e: EngineContext, userId: string): Promise<FactorRecord[]> {
  return (await e.store.listFactors(userId)).filter((f) => f.status === 'active');
}

/** The plugin for a `method` given by a caller: `invalid_request` naming the offered ones otherwise. */
export function pluginFor(e: EngineContext, method: unknown, field = 'method'): FactorPlugin {
  const plugin = typeof method === 'string' ? e.registry.get(method) : undefined;
  if (!plugin) throw new MfaError('invalid_request', `${field} must be one of ${e.registry.all.map((p) => p.type).join(', ')}`, { field });
  return plugin;
}

export function summary(e: EngineContext, f: FactorRecord): FactorSummary {
  const plugin = e.registry.get(f.type);
  return {
    id: f.id, type: f.type, label: f.label,
    restricted: plugin?.restricted ?? false, phishingResistant: plugin?.phishingResistant ?? false,
    ...(plugin?.describe ? plugin.describe(f) : {}),
    createdAt: iso(f.createdAt), lastUsedAt: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
  };
}

export async function issueAssertion(e: EngineContext, userId: string, amr: string[]) {
  const now = e.now();
  const assertion = await e.signer.sign({ userId, amr: ['mfa', ...amr.filter((v) => v !== 'mfa')], authTime: now }, now);
  return { assertion, expiresIn: e.signer.ttlSeconds };
}
