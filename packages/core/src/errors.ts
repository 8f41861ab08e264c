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

/** Errors thrown by a host's own callback inside core: passed on as they are, never `store_unavailable`. */
const hostErrors = new WeakSet<object>();

/** Runs a host callback; what it throws reaches the host unchanged (the operation fails closed). */
export async function hostCall<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error !== null && typeof error === 'object') hostErrors.add(error);
    throw error;
  }
}

/** Runs a store call; any failure becomes `store_unavailable` (fail closed, cause kept for logs). */
export async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof MfaError || (error !== null && typeof error === 'object' && hostErrors.has(error))) throw error;
    throw new MfaError('store_unavailable', 'The MFA store is unavailable', { cause: error });
  }
}
