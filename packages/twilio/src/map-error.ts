// packages/twilio/src/map-error.ts
// Turns what the Twilio SDK throws into MfaError: a bad destination, or a provider failure (fail closed).
// Messages are fixed text: never the code, never the phone number.
import { MfaError } from '@secondfactor/core';
import { SendTimeoutError } from './deadline';

/** Twilio errors that mean "this number cannot get the SMS": invalid, not mobile, region not enabled, unsubscribed (STOP). */
const PHONE_ERROR_CODES: ReadonlySet<number> = new Set([21211, 21614, 21408, 21610]);
/** Twilio errors that mean "too many requests". */
const RATE_LIMIT_ERROR_CODES: ReadonlySet<number> = new Set([20429, 60212]);

/**
 * A network failure reported by the SDK's HTTP layer, without the request it failed on.
 * The SDK's own error (an AxiosError) carries the request config: the form body with the code
 * and the `Authorization` header with the account SID and auth token, so it is never kept as `cause`.
 */
export class TwilioTransportError extends Error {
  /** `ECONNREFUSED`, `ECONNABORTED`, `ETIMEDOUT`, `ENOTFOUND`, … when known. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'TwilioTransportError';
    this.code = code;
  }
}

interface TwilioApiError {
  status: number;
  code?: unknown;
}

/** RestException and TwilioServiceException (RFC 9457) both carry an HTTP `status` and a Twilio `code`. */
function isTwilioApiError(error: unknown): error is TwilioApiError & Error {
  return error instanceof Error && typeof (error as Partial<TwilioApiError>).status === 'number' && !isHttpLayerError(error);
}

/** An error from the SDK's HTTP client (axios): it holds the request, secrets included. */
function isHttpLayerError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { isAxiosError?: unknown; config?: unknown; request?: unknown };
  return candidate.isAxiosError === true || (typeof candidate.config === 'object' && candidate.config !== null);
}

function isTimeout(code: string | undefined): boolean {
  return code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT';
}

/** The `MfaError` a failed `messages.create` becomes. */
export function toMfaError(error: unknown): MfaError {
  if (error instanceof MfaError) return error;

  if (error instanceof SendTimeoutError) {
    return new MfaError('sms_unavailable', 'The SMS provider did not answer in time', { cause: error });
  }

  if (isTwilioApiError(error)) {
    const code = typeof error.code === 'number' ? error.code : undefined;
    if (code !== undefined && PHONE_ERROR_CODES.has(code)) {
      return new MfaError('invalid_request', 'This phone number cannot receive SMS codes', { field: 'phone', cause: error });
    }
    if (error.status === 429 || (code !== undefined && RATE_LIMIT_ERROR_CODES.has(code))) {
      return new MfaError('sms_unavailable', 'The SMS provider is rate limiting requests; try again later', { cause: error });
    }
    if (error.status >= 500) {
      return new MfaError('sms_unavailable', `The SMS provider failed (HTTP ${error.status})`, { cause: error });
    }
    const detail = code === undefined ? `HTTP ${error.status}` : `HTTP ${error.status}, Twilio error ${code}`;
    return new MfaError('sms_unavailable', `The SMS provider refused the request (${detail})`, { cause: error });
  }

  if (isHttpLayerError(error)) {
    const raw = error as { code?: unknown; message?: unknown };
    const code = typeof raw.code === 'string' ? raw.code : undefined;
    const message = typeof raw.message === 'string' ? raw.message : 'HTTP request failed';
    const cause = new TwilioTransportError(message, code);
    return isTimeout(code)
      ? new MfaError('sms_unavailable', 'The SMS provider did not answer in time', { cause })
      : new MfaError('sms_unavailable', 'The SMS provider could not be reached', { cause });
  }

  return new MfaError('sms_unavailable', 'The SMS provider failed', { cause: error });
}
