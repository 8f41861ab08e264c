// packages/express/src/problem.ts
// RFC 9457 problem details: one document per stable error code, built from MfaError, from
// core's failure values, or from ProblemError thrown inside the integration.
import type { Response } from 'express';
import { isMfaError, type Failure, type MfaErrorCode } from '@secondfactor/core';

/** Every `code` a problem document can carry. */
export type ProblemCode = MfaErrorCode | 'unauthenticated' | 'forbidden' | 'unsupported_media_type' | 'internal_error';

export interface ProblemDocument {
  /** `urn:secondfactor:problem:<code>` */
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail?: string;
  /** The offending input field, for `invalid_request`. */
  field?: string;
  /** For `mfa_required` from `requireMfa()`: the required freshness in seconds. */
  maxAge?: number;
}

interface CodeInfo {
  status: number;
  title: string;
  detail: string;
}

const CODES: Record<ProblemCode, CodeInfo> = {
  invalid_request: { status: 400, title: 'Invalid request', detail: 'The request is not valid.' },
  invalid_code: { status: 401, title: 'Verification failed', detail: 'The code is not valid.' },
  challenge_expired: { status: 401, title: 'Challenge expired', detail: 'The sign-in challenge is no longer valid; sign in again.' },
  unauthenticated: { status: 401, title: 'Not signed in', detail: 'Sign in first.' },
  mfa_required: { status: 403, title: 'Second factor required', detail: 'A current second factor is required for this request.' },
  forbidden: { status: 403, title: 'Forbidden', detail: 'You are not allowed to do this.' },
  not_enrolled: { status: 404, title: 'Not enrolled', detail: 'No such factor.' },
  already_enrolled: { status: 409, title: 'Already enrolled', detail: 'This factor is already enrolled.' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', detail: 'The request body must be JSON (Content-Type: application/json).' },
  too_many_attempts: { status: 429, title: 'Too many attempts', detail: 'Too many attempts; try again later.' },
  internal_error: { status: 500, title: 'Internal error', detail: 'The request could not be completed.' },
  sms_unavailable: { status: 502, title: 'SMS unavailable', detail: 'The SMS provider could not send the code.' },
  email_unavailable: { status: 502, title: 'Email unavailable', detail: 'The email provider could not send the code.' },
  store_unavailable: { status: 503, title: 'Service unavailable', detail: 'The MFA service is temporarily unavailable.' },
};

/** The HTTP status of each problem code (`mfa_required` is 403 on management routes, 401 from requireMfa). */
export const PROBLEM_STATUS: Readonly<Record<ProblemCode, number>> = Object.freeze(
  Object.fromEntries(Object.entries(CODES).map(([code, info]) => [code, info.status])) as Record<ProblemCode, number>,
);

export interface ProblemInit {
  detail?: string;
  field?: string;
  status?: number;
  maxAge?: number;
  /** Seconds, sent as the `Retry-After` header. */
  retryAfter?: number;
}

/** Builds the problem document for `code`. Without `detail`, the code's fixed text is used. */
export function problem(code: ProblemCode, init: ProblemInit = {}): ProblemDocument {
  const info = CODES[code];
  const doc: ProblemDocument = {
    type: `urn:secondfactor:problem:${code}`,
    title: info.title,
    status: init.status ?? info.status,
    code,
    detail: init.detail ?? info.detail,
  };
  if (init.field !== undefined) doc.field = init.field;
  if (init.maxAge !== undefined) doc.maxAge = init.maxAge;
  return doc;
}

/** Thrown inside handlers to answer with a problem document. */
export class ProblemError extends Error {
  readonly problem: ProblemDocument;
  readonly retryAfter: number | undefined;
  constructor(code: ProblemCode, init: ProblemInit = {}) {
    const doc = problem(code, init);
    super(doc.detail);
    this.name = 'ProblemError';
    this.problem = doc;
    this.retryAfter = init.retryAfter;
  }
}

/** `invalid_request` naming `field`. */
export function invalidRequest(field: string, detail: string): ProblemError {
  return new ProblemError('invalid_request', { field, detail });
}

/**
 * The problem for one of core's failure results (`{ok: false, reason, retryAfter?}`), exactly as
 * the router answers it: throw it (with `mfaErrorHandler()` installed) or `sendProblem(res, it)`.
 *
 * @example
 * const r = await mfa.stepUp.verify(userId, { code }, { ip: req.ip });
 * if (!r.ok) return sendProblem(res, failureProblem(r)); // e.g. 401 invalid_code, 429 with Retry-After
 */
export function failureProblem(f: Failure): ProblemError {
  const reason = (f as { reason?: unknown } | null)?.reason;
  if (typeof reason !== 'string' || !Object.hasOwn(CODES, reason)) {
    throw new TypeError('secondfactor: failureProblem() expects a failure result of core ({ok: false, reason})');
  }
  return new ProblemError(f.reason, f.retryAfter === undefined ? {} : { retryAfter: f.retryAfter });
}

/**
 * Errors raised by body-parser (express.json()) for a bad body: `entity.parse.failed`, too large,
 * … (a `type`), or a body that claims a `Content-Encoding` it does not have: zlib's or brotli's
 * decoder error (a string `code` and a numeric `errno`, e.g. `Z_DATA_ERROR`,
 * `ERR__ERROR_FORMAT_PADDING_2`) made a 400, without a `type`.
 */
function isBodyParserError(error: unknown): error is { type?: string; status: number } {
  if (!error || typeof error !== 'object') return false;
  const e = error as { type?: unknown; status?: unknown; expose?: unknown; code?: unknown; errno?: unknown };
  if (typeof e.status !== 'number' || e.status < 400 || e.status >= 500 || e.expose !== true) return false;
  return typeof e.type === 'string' || (e.status === 400 && typeof e.code === 'string' && typeof e.errno === 'number');
}

/** Express's router could not percent-decode a path parameter (`/factors/%FF`): a URIError with status 400. */
function isBadPathParameter(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { name?: unknown; status?: unknown };
  return e.name === 'URIError' && e.status === 400;
}

/**
 * The problem for a thrown error, or `null` when it is not one this package knows (then the
 * caller decides: the router answers 500, `mfaErrorHandler()` passes it on).
 */
export function problemForError(error: unknown): ProblemError | null {
  if (error instanceof ProblemError) return error;
  if (isMfaError(error)) {
    if (error.code === 'invalid_request') return new ProblemError('invalid_request', { detail: error.message, ...(error.field ? { field: error.field } : {}) });
    if (error.code === 'too_many_attempts') {
      return new ProblemError('too_many_attempts', error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter });
    }
    return new ProblemError(error.code);
  }
  if (isBadPathParameter(error)) return new ProblemError('invalid_request', { field: 'id', detail: 'The id in the path is not valid.' });
  if (isBodyParserError(error)) {
    const detail = error.type === 'entity.too.large' ? 'The request body is too large.' : 'The request body is not valid JSON.';
    return new ProblemError('invalid_request', { field: 'body', detail });
  }
  return null;
}

/** Sends `p` as `application/problem+json` (with `Retry-After` when given) and `Cache-Control: no-store`. */
export function sendProblem(res: Response, p: ProblemDocument | ProblemError, headers: Record<string, string> = {}): void {
  const doc = p instanceof ProblemError ? p.problem : p;
  if (p instanceof ProblemError && p.retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(p.retryAfter))));
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  res.status(doc.status);
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.end(JSON.stringify(doc));
}
