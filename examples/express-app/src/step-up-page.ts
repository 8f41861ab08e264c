// examples/express-app/src/step-up-page.ts
// Browser UX for the step-up guard. requireMfa() answers RFC 9470's `401 insufficient_user_authentication`,
// which is right for API clients; a person opening /admin in a browser should instead land on a page that
// asks for a code. This middleware, placed before requireMfa(), does only that redirect — requireMfa() stays
// the guard that decides.
import type { Request, RequestHandler } from 'express';
import type { Mfa } from '@secondfactor/core';
import { readCookie } from './session';

/** The cookie holding the MFA assertion (the default cookie requireMfa() reads). */
export const MFA_COOKIE = 'sf_mfa';

/** A top-level page load (GET preferring HTML over JSON). */
export const wantsHtml = (req: Request): boolean => req.method === 'GET' && req.accepts(['json', 'html']) === 'html';

export function stepUpPageIfStale(mfa: Mfa, maxAgeSeconds: number): RequestHandler {
  return async function stepUpPageIfStaleMiddleware(req, res, next) {
    if (!wantsHtml(req)) return next();
    const r = await mfa.assertions.verify(readCookie(req, MFA_COOKIE) ?? '', { maxAgeSeconds });
    if (r.ok && r.userId === req.user?.id) return next();
    res.redirect(303, `/step-up?next=${encodeURIComponent(req.originalUrl)}`);
  };
}
