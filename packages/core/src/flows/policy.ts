// packages/core/src/flows/policy.ts
// The host's enforcement policy, checked, and the enrolment token the login hands out when the
// policy requires MFA of a user who has no factor it counts: a token that reaches only the
// setup and confirm of the allowed types, for that user, until it expires or completes a login.
import type { EngineContext } from '../context';
import { hashToken } from '../crypto';
import { MfaError } from '../errors';
import type { MfaPolicy } from '../types';

export interface ResolvedPolicy {
  required: boolean;
  graceUntil: number | null;
  /** The factor types that count, or null for all. */
  methods: string[] | null;
  /** The types the user may enrol under this policy. */
  enrollable: string[];
}

export function resolvePolicy(e: EngineContext, policy: MfaPolicy | undefined): ResolvedPolicy {
  const enrollableTypes = e.registry.all.filter((p) => p.enroll).map((p) => p.type);
  if (policy === undefined) return { required: false, graceUntil: null, methods: null, enrollable: enrollableTypes };
  if (policy === null || typeof policy !== 'object' || typeof policy.required !== 'boolean') {
    throw new MfaError('invalid_request', 'policy must be {required: boolean, graceUntil?, methods?}', { field: 'policy' });
  }
  let graceUntil: number | null = null;
  if (policy.graceUntil !== undefined) {
    graceUntil = policy.graceUntil instanceof Date ? policy.graceUntil.getTime() : policy.graceUntil;
    if (typeof graceUntil !== 'number' || !Number.isFinite(graceUntil)) throw new MfaError('invalid_request', 'policy.graceUntil must be a date', { field: 'policy' });
  }
  let methods: string[] | null = null;
  if (policy.methods !== undefined) {
    if (!Array.isArray(policy.methods) || policy.methods.length === 0 || !policy.methods.every((m) => typeof m === 'string' && e.registry.get(m))) {
      throw new MfaError('invalid_request', `policy.methods must list factor types this server offers (${e.registry.all.map((p) => p.type).join(', ')})`, { field: 'policy' });
    }
    methods = [...policy.methods];
  }
  const enrollable = methods ? enrollableTypes.filter((t) => methods!.includes(t)) : enrollableTypes;
  if (policy.required && enrollable.length === 0) throw new MfaError('invalid_request', 'policy.methods must include a type a user can enrol', { field: 'policy' });
  return { required: policy.required, graceUntil, methods, enrollable };
}

/** Where an enrolment token is kept: apart from login challenges (a token of one kind never passes for the other). */
export const enrollmentTokenId = (token: string) => hashToken(`enrollment\u0000${token}`);

/** The user and allowed types of a live enrolment token; `challenge_expired` otherwise (unknown, expired, used). */
export async function checkEnrollmentToken(e: EngineContext, token: unknown): Promise<{ id: string; userId: string; methods: string[] }> {
  const record = typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token) ? await e.store.getChallenge(await enrollmentTokenId(token)) : null;
  if (!record || record.expiresAt <= e.now()) throw new MfaError('challenge_expired', 'The enrolment token is not valid (expired or already used); sign in again');
  return { id: record.id, userId: record.userId, methods: record.methods };
}
