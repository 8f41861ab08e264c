// packages/core/src/types.ts
// The public result types of the engine. Verification outcomes are values; misuse and
// infrastructure failures throw MfaError.
import type { PasswordProof } from './password-proof';

/** Why a verification failed. Callers show the same generic message for all code failures. */
export type FailureReason = 'invalid_code' | 'challenge_expired' | 'too_many_attempts';

export type Failure = { ok: false; reason: FailureReason; retryAfter?: number };

export interface FactorSummary {
  id: string;
  type: string;
  label: string | null;
  /** NIST 800-63B "restricted" authenticator (SMS). */
  restricted: boolean;
  /** Resists phishing (a security key bound to this site). */
  phishingResistant: boolean;
  /** Masked destination for sms/email factors. */
  destination?: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Further public details a factor type adds (`describe`). */
  [detail: string]: string | boolean | null | undefined;
}

export interface MfaStatus {
  enabled: boolean;
  factors: FactorSummary[];
  backupCodesRemaining: number;
  trustedDevices: number;
  /** True when the user has reached the failure lock and needs the host to unlock. */
  locked: boolean;
}

export type ConfirmResult =
  | {
    ok: true;
    factor: FactorSummary;
    /** RFC 8176 values of the confirmation (what proving the new factor showed). */
    amr: string[];
    /** The first factor's recovery codes, shown once. */
    backupCodes?: string[];
    /** True when the confirmation completed a login that required enrolment (its enrolment token is spent). */
    enrollmentCompleted?: true;
  }
  | Failure;

/**
 * A host's enforcement policy for one user (DESIGN "Enforcement policy"): whether MFA is
 * required, until when a user without it may still sign in (`graceUntil`), and which factor
 * types count (`methods`; recovery codes count whenever the user has a factor of one of them).
 */
export interface MfaPolicy {
  required: boolean;
  graceUntil?: Date | number;
  methods?: string[];
}

/** A login the policy lets through without a second factor, but that should enrol: what to tell the user. */
export interface EnrollmentNotice {
  /** True when the policy requires MFA (within the grace period); false when it is only suggested. */
  required: boolean;
  /** ISO 8601 end of the grace period, or null. */
  graceUntil: string | null;
  /** The factor types the user may enrol. */
  methods: string[];
}

/** The start of a login without a policy: no second step needed, or a challenge. */
export type LoginChallengeStart =
  | { required: false; trustedDevice: boolean; enrollment?: EnrollmentNotice }
  | { required: true; challengeToken: string; methods: string[]; expiresAt: string };

/** The start of a login under a policy: also "enrol first" (an enrolment token instead of a challenge). */
export type LoginStart =
  | LoginChallengeStart
  | { required: true; enrollmentRequired: true; enrollmentToken: string; methods: string[]; expiresAt: string };

export interface LoginSuccess {
  ok: true;
  userId: string;
  amr: string[];
  /** The MFA assertion (JWT) and its lifetime. */
  assertion: string;
  expiresIn: number;
  /** Present when `trustDevice` was asked: the token is returned this once only. */
  trustedDevice?: { id: string; token: string; expiresAt: string; maxAgeSeconds: number };
}

export type LoginVerifyResult = LoginSuccess | Failure;

/**
 * A factor as proof: `{method, code}`, `{method, response}` (a security key), or a bare `{code}`
 * — tried against the user's code factors that need no challenge step (an authenticator app's
 * code, a backup code).
 */
export interface FactorProof {
  method?: string;
  code?: string;
  response?: unknown;
}

/**
 * Fresh proof for sensitive management operations (DESIGN invariant 8): a factor, a recent MFA
 * assertion of the same user, or — where the host opted in — the host's password check wrapped
 * by `passwordProof()` (never plain data).
 */
export type FreshProof =
  | FactorProof
  | { assertion: string }
  | PasswordProof;

export type ProofResult = { ok: true; amr: string[] } | Failure;

export interface TrustedDeviceSummary {
  id: string;
  label: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  current: boolean;
}
