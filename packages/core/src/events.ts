// packages/core/src/events.ts
// Security events for the host's audit trail and notifications. Never carry a secret, code or token.

export type MfaEventType =
  | 'factor.enrolled'
  | 'factor.confirmed'
  | 'factor.removed'
  | 'mfa.verified'
  | 'mfa.failed'
  | 'totp.replay_rejected'
  | 'mfa.locked'
  | 'mfa.unlocked'
  | 'backup_code.used'
  | 'backup_codes.regenerated'
  | 'mfa.disabled'
  | 'device.trusted'
  | 'device.revoked'
  | 'code.sent'
  | 'challenge.started'
  | 'enrollment.required'
  | 'mfa.reset';

/** Where a request came from; flows from the HTTP layer into events. */
export interface RequestContext {
  ip?: string;
  userAgent?: string;
}

export interface MfaEvent {
  /** One of `MfaEventType`, or an event a factor plugin emits (`<type>.<what>`, e.g. a clone warning). */
  type: MfaEventType | (string & {});
  userId: string;
  factorId?: string;
  factorType?: string;
  outcome: 'success' | 'failure';
  /** Why a failure failed: `invalid_code`, `replayed`, `too_many_attempts`, … */
  reason?: string;
  /** Which flow: `login`, `enroll`, `step_up`, `management`, `admin`. */
  purpose?: string;
  /** Who did it, for admin actions: the host's id of the admin. */
  actor?: string;
  /** Free text an admin gave (a reset's reason). */
  detail?: string;
  ip?: string;
  userAgent?: string;
  /** Epoch ms from the injected clock. */
  at: number;
}

export type EventSink = (event: MfaEvent) => void | Promise<void>;
