// packages/express/src/handle-async.ts
// Forwards a rejected promise to next(err). Express 5 does this by itself; Express 4 does not,
// and an unforwarded rejection would leave the request hanging (or, in a gate, unanswered).
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export type AsyncHandler = (req: Request, res: Response, next: NextFunction) => unknown;

/** Wraps `fn` so that a throw or a rejection reaches `next(err)`, on Express 4 and 5. */
export function handleAsyncErrors(fn: AsyncHandler): RequestHandler {
  const wrapped: RequestHandler = (req, res, next) => {
    try {
      Promise.resolve(fn(req, res, next)).catch(next);
    } catch (error) {
      next(error);
    }
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  return wrapped;
}
