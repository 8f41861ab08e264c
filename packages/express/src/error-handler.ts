// packages/express/src/error-handler.ts
// The host-level error handler: turns secondfactor errors (for example a store outage reported
// by mfaGate through next(err)) and express.json() body errors into problem+json answers.
// Anything else is passed on to the host's own error handler.
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { problemForError, ProblemError, sendProblem } from './problem';

export interface MfaErrorHandlerOptions {
  /** Called for the errors this handler answers with a 5xx (store or provider outage), for logging. */
  onError?: (error: unknown, req: Request) => void;
}

/**
 * Mount after your routes: `app.use(mfaErrorHandler())`. Never sends a stack trace.
 *
 * @example
 * app.post('/login', checkPassword, mfaGate(mfa), issueSession);
 * app.use(mfaErrorHandler());
 */
export function mfaErrorHandler(options: MfaErrorHandlerOptions = {}): ErrorRequestHandler {
  if (options === null || typeof options !== 'object') throw new TypeError('secondfactor: mfaErrorHandler(options) expects an object');
  const { onError } = options;
  if (onError !== undefined && typeof onError !== 'function') throw new TypeError('secondfactor: mfaErrorHandler option `onError` must be a function');
  return function mfaErrorHandlerMiddleware(error, req, res, next) {
    const p = problemForError(error);
    if (!p || res.headersSent) {
      next(error);
      return;
    }
    if (p.problem.status >= 500 && onError) {
      try {
        onError(error, req);
      } catch {
        // A logging failure must not change the answer.
      }
    }
    sendProblem(res, p);
  };
}

/**
 * The error handler of secondfactor's own routers: every error is answered as problem+json
 * (unknown ones as a bare `500 internal_error`, never a stack trace); 5xx answers are reported
 * to `onError` first.
 */
export function routerErrorHandler(name: string, onError: (error: unknown, req: Request) => void): ErrorRequestHandler {
  const handler = (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const p = problemForError(error) ?? new ProblemError('internal_error');
    if (p.problem.status >= 500) {
      try {
        onError(error, req);
      } catch {
        // A logging failure must not change the answer.
      }
    }
    sendProblem(res, p);
  };
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}
