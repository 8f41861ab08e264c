// packages/express/src/log-error.ts
// The default `onError`: one line on stderr per unexpected error or outage, with its cause, so a
// host that forgot `migrate()` sees "no such table" instead of a silent 503. Cleaned: SQL text
// and values are cut (drivers put the statement before " - "), nothing from the request is added.
import type { Request } from 'express';

const MAX_MESSAGE = 300;

/** `Name [code]: message` of one error, without the SQL statement knex prefixes to the message. */
/** Error-like: an Error of any realm (drivers' and Jest's differ), or an object with a string message. */
function isErrorLike(value: unknown): value is { name?: unknown; message: string; code?: unknown; cause?: unknown } {
  return value instanceof Error || (value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string');
}

function describeOne(error: unknown): string {
  if (!isErrorLike(error)) return typeof error === 'string' ? 'non-Error value thrown' : `non-Error value (${typeof error}) thrown`;
  const code = error.code;
  const name = typeof error.name === 'string' ? error.name : 'Error';
  let message = error.message;
  const sqlCut = message.lastIndexOf(' - ');
  if (sqlCut >= 0) message = message.slice(sqlCut + 3);
  message = message.replace(/\s+/g, ' ').slice(0, MAX_MESSAGE);
  return `${name}${typeof code === 'string' || typeof code === 'number' ? ` [${code}]` : ''}: ${message}`;
}

/** The error and its causes, outermost first, at most 4 deep. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    parts.push(describeOne(current));
    current = isErrorLike(current) ? current.cause : undefined;
  }
  return parts.join(' <- caused by ');
}

/** Default `onError` of `mfaRouter()`. */
export function logUnexpectedError(error: unknown, req: Request): void {
  console.error(`secondfactor: ${req.method} ${req.baseUrl}${req.route?.path ?? ''} failed: ${describeError(error)}`);
}
