// packages/core/src/factor-plugin.ts
// The one interface every factor type implements — TOTP, SMS, email, backup codes, security
// keys (a separate package), and whatever a host writes. `createMfa({ factors: [...] })` receives the plugins; the login
// challenge, enrolment, step-up, fresh proof, attempt limits, events, storage and the router
// work on this interface only. A plugin decides; the flows persist (atomically) and count.
import type { RequestContext } from './events';
import type { FactorRecord, MfaStore } from './store';

/** Why a verification failed. `replayed`: right but already used (a TOTP step, a signature counter that did not advance). */
export type PluginFailureReason = 'invalid_code' | 'replayed';

/** Which flow asks: a login's second step, activating a new factor, a step-up, or fresh proof for a change. */
export type VerifyPurpose = 'login' | 'enroll' | 'step_up' | 'management';

/**
 * What a user sent to prove a factor: a `code` (a string the plugin parses) or a `response`
 * (a JSON object, such as a security key's signed assertion). Which one a plugin takes is
 * its `input`.
 */
export interface FactorInput {
  code?: unknown;
  response?: unknown;
}

/**
 * State a plugin asked the flow to keep between two requests: an enrolment's challenge, a code
 * sent for one login or step-up, a security key's challenge. Kept bound to one login challenge, one pending
 * factor or one signed-in user; single use; it expires with what it is bound to.
 */
export interface PluginState {
  /** The factor it is for, or null when any of the user's factors of this type may answer (any of their security keys). */
  factorId: string | null;
  /** What verification compares against: a keyed hash of a sent code, a random challenge to sign. */
  secret: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number;
  /** Wrong answers against this state so far. */
  attempts: number;
}

/** What a plugin may use from the engine: time, randomness, keyed hashes, the store, events. */
export interface FactorContext {
  /** The `issuer` given to `createMfa`. */
  readonly issuer: string;
  /** Epoch ms from the injected clock. */
  now(): number;
  /** `n` bytes from the injected CSPRNG. */
  randomBytes(n: number): Uint8Array;
  /** A uniform integer in [0, max) from the injected CSPRNG. */
  randomInt(max: number): number;
  /** A keyed MAC of `value` (`<keyId>.<mac>`), bound to `binding`; the key derives from `encryptionKeys`. */
  mac(binding: string, value: string): Promise<string>;
  /** Constant-time check of `value` against a `mac(binding, value)` result (any key still in the ring). */
  checkMac(stored: string, binding: string, value: string): Promise<boolean>;
  /** Short stable hash for counter keys (no raw phone numbers or addresses in keys). */
  keyHash(value: string): Promise<string>;
  /** The factor's secret, decrypted (re-encrypted under the current key when it was sealed under an older one). */
  openSecret(factor: FactorRecord): Promise<string>;
  /** The engine's store (behind the boundary that turns store failures into `store_unavailable`). */
  readonly store: MfaStore;
  /** Emits a security event (`type` is free-form for plugins, e.g. `<type>.clone_warning`). */
  emit(event: { type: string; userId: string; factorId?: string; factorType?: string; outcome: 'success' | 'failure'; reason?: string; purpose?: string }, req?: RequestContext): void;
}

/** The first step of an enrolment: what to store on the pending factor and what to show the user. */
export interface EnrollBegin {
  /** Type-specific data to store on the factor (not secret; shown in no response). */
  data: Record<string, unknown>;
  /** A secret to store encrypted (AES-256-GCM, bound to the user and factor), e.g. a TOTP key. */
  secret?: string;
  /** Public data for the setup response: `{secret, otpauthUri, qrCode}`, `{sentTo}`, `{options}`. */
  show: Record<string, unknown>;
  /** State to keep until the enrolment is confirmed (a sent code's MAC, a challenge to sign). */
  state?: { secret: string; ttlSeconds: number };
  /** Default label when the user gave none. */
  label: string;
}

/** The second step of an enrolment succeeded: what the active factor holds. */
export interface EnrollFinish {
  ok: true;
  /** Replaces the pending factor's data when given (e.g. a registered public-key credential). */
  data?: Record<string, unknown>;
  /** The per-factor counter to start from (the TOTP step used to confirm, the signature counter). */
  counter: number | null;
  /** RFC 8176 values of this confirmation (e.g. `['otp']`). */
  amr?: string[];
  /** An identifier unique across all users for this type (a public-key credential id); the store refuses a second one. */
  lookupKey?: string;
}

/** A successful verification, not yet spent. The flow spends it atomically after taking the challenge. */
export interface VerifySuccess {
  ok: true;
  /** The factor that answered (null for user-level methods such as backup codes). */
  factorId: string | null;
  /** RFC 8176 values for this verification (e.g. `['otp']`, `['hwk', 'user']`). */
  amr: string[];
  /** Advance the factor's counter to this value, only if greater (TOTP step, signature counter). */
  counter?: number;
  /** Spends what the flow cannot (a backup code). True for exactly one of concurrent callers. */
  spend?: () => Promise<boolean>;
}

export interface VerifyFailure {
  ok: false;
  reason: PluginFailureReason;
  /** A security event to emit besides the failure (e.g. `totp.replay_rejected`, a clone warning). */
  warning?: string;
  /** The factor concerned, when known. */
  factorId?: string;
}

export type PluginVerifyResult = VerifySuccess | VerifyFailure;

/** Arguments every step receives. */
interface StepArgs {
  userId: string;
  req?: RequestContext;
}

/**
 * A factor type. Everything optional is a capability: a plugin without `enroll` has no setup
 * routes (backup codes), one without `challenge` needs no per-login step (TOTP).
 */
export interface FactorPlugin {
  /** Route segment and `method` value: `[a-z][a-z0-9_]{1,31}`, unique in a registry. */
  readonly type: string;
  /** What `/verify`, `/step-up`, `/:type/confirm` and fresh proof carry: a `code` string or a `response` object. */
  readonly input: 'code' | 'response';
  /** Resists phishing (a key bound to the verifier's name, such as a security key). Shown in status; policies may require it. */
  readonly phishingResistant: boolean;
  /** NIST SP 800-63B "restricted" authenticator (SMS). */
  readonly restricted: boolean;
  /** Wrong answers allowed against one piece of state (a sent code); at most the engine's `challenge.maxAttempts`. */
  readonly maxAttempts?: number;
  /**
   * Checks what the user sent, strictly and before anything is counted: returns the value
   * `verify`/`finish` receive, or throws `MfaError('invalid_request', …, {field})`. `factors` are
   * the factors it may be checked against (the user's active ones of this type, or the pending one
   * being confirmed), so a code no factor could have produced is bad input, not a failed attempt.
   */
  parseInput(input: FactorInput, factors: FactorRecord[]): unknown;
  /** Whether this method can be offered to a user at login and step-up; default: an active factor of this type. */
  offered?(ctx: FactorContext, args: StepArgs & { factors: FactorRecord[] }): Promise<boolean>;
  /** Extra public fields of a factor in `/status` (a masked phone number). */
  describe?(factor: FactorRecord): Record<string, string>;

  enroll?: {
    /** Validates the setup body (before any proof is spent). Throws `invalid_request` naming the field. */
    parse(ctx: FactorContext, body: Record<string, unknown>): unknown;
    /** Starts an enrolment for a new pending factor `factorId`. May send a code. */
    begin(ctx: FactorContext, args: StepArgs & { factorId: string; input: unknown; accountName: string; existing: FactorRecord[] }): Promise<EnrollBegin>;
    /** Proves the pending factor: a first code, a signed attestation. */
    finish(ctx: FactorContext, args: StepArgs & { factor: FactorRecord; input: unknown; state: PluginState | null }): Promise<EnrollFinish | VerifyFailure>;
  };

  /**
   * A per-verification step before the user answers (send a code; a security key's request options).
   * Its state is kept by the flow, bound to the login challenge (or the signed-in user for
   * step-up and fresh proof), single use.
   */
  challenge?(ctx: FactorContext, args: StepArgs & {
    factors: FactorRecord[];
    /** The factor the user picked (one of several phones), if any. */
    factorId?: string;
    purpose: 'login' | 'step_up';
    /** The state this step will replace, if any (for a resend cooldown). */
    previous: PluginState | null;
  }): Promise<{
    factorId: string | null;
    state: { secret: string; ttlSeconds: number };
    /** The public answer: `{sentTo}`, `{options}`. */
    show: Record<string, unknown>;
  }>;

  /**
   * Verifies `input` (what `parseInput` returned) for a user whose active factors of this type are
   * `factors`. Pure where possible: it returns the counter to advance and the flow persists it.
   */
  verify(ctx: FactorContext, args: StepArgs & { factors: FactorRecord[]; input: unknown; state: PluginState | null; purpose: VerifyPurpose }): Promise<PluginVerifyResult>;

  /**
   * Recovery codes (backup codes): issued with the first factor, regenerated with fresh proof.
   * At most one plugin in a registry has this role.
   */
  recovery?: {
    /** A new set replacing the old one; the plain codes, shown once. */
    issue(ctx: FactorContext, args: StepArgs): Promise<string[]>;
    remaining(ctx: FactorContext, args: StepArgs): Promise<number>;
  };
}
