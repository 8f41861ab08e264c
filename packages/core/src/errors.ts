// packages/core/src/errors.ts
// One error class for misuse and infrastructure failures, with stable codes.
// Verification outcomes (wrong code, expired challenge) are *values*, never thrown.

/** Stable error codes. They are also the `code` of the HTTP problem documents. */
export type MfaErrorCode =
  | 'invalid_request'
  | 'invalid_code'
  | 'challenge_expired'
  | 'too_many_attempts'
  | 'mfa_required'
  | 'not_enrolled'
  | 'already_enrolled'
  | 'sms_unavailable'
  | 'email_unavailable'
  | 'store_unavailable';

export interface MfaErrorOptions {
  cause?: unknown;
  /** The offending input field, for `invalid_request`. */
  field?: string;
  /** Seconds until a retry may succeed, for `too_many_attempts`. */
  retryAfter?: number;
}

export class MfaError extends Error {
  readonly code: MfaErrorCode;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: MfaErrorCode, message: string, options: MfaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MfaError';
    this.code = code;
    this.field = options.field;
    this.retryAfter = options.retryAfter;
  }
}

/** Thrown by `createMfa` and other factories for a bad option; names the option. */
export class MfaConfigError extends TypeError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`secondfactor: option \`${option}\` ${message}`);
    this.name = 'MfaConfigError';
    this.option = option;
  }
}

export function isMfaError(value: unknown): value is MfaError {
  return value instanceof MfaError;
}
