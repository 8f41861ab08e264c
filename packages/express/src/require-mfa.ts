// packages/express/src/require-mfa.ts
// requireMfa(): the step-up guard for protected routes. Passes a valid MFA assertion (Bearer
// header or cookie) whose auth_time is within maxAge and sets the typed `req.mfa`; otherwise
// answers 401 with the RFC 9470 challenge. Login challenge tokens are never accepted: they are
// not assertions (distinct type and audience).
import type { RequestHandler } from 'express';
import type { Mfa } from '@secondfactor/core';
import { readCookie } from './cookies';
import { bearerToken } from './fresh-proof';
import { handleAsyncErrors } from './handle-async';
import { checkFunction, checkKnownKeys, checkMfa, checkSeconds, configError } from './options';
import { problem, sendProblem } from './problem';
import { resolveUserId } from './request-context';
import type { RequireMfaOptions } from './types';

const WHERE = 'requireMfa()';
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const DESCRIPTION = 'A recent second-factor verification is required';

/**
 * @example
 * app.post('/admin/delete-account', requireMfa(mfa, { maxAge: 300, getUserId: (req) => req.session.userId }), handler);
 */
export function requireMfa(mfa: Mfa, options: RequireMfaOptions = {}): RequestHandler {
  checkMfa(mfa, WHERE);
  checkKnownKeys(options, ['maxAge', 'getUserId', 'cookieName'], `${WHERE} options`);
  checkSeconds(options.maxAge, WHERE, 'maxAge', 1, 86_400);
  checkFunction(options.getUserId, WHERE, 'getUserId');
  const cookieName = options.cookieName ?? 'sf_mfa';
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) throw configError(WHERE, 'cookieName', 'must be a cookie name of token characters');
  const { maxAge, getUserId } = options;
  const verifyOptions = maxAge === undefined ? {} : { maxAgeSeconds: maxAge };
  const wwwAuthenticate = `Bearer error="insufficient_user_authentication", error_description="${DESCRIPTION}"${maxAge === undefined ? '' : `, max_age=${maxAge}`}`;
  const refusal = problem('mfa_required', { status: 401, detail: `${DESCRIPTION}.`, ...(maxAge === undefined ? {} : { maxAge }) });

  return handleAsyncErrors(async function requireMfaMiddleware(req, res, next) {
    const candidates = [bearerToken(req), readCookie(req, cookieName)].filter((t): t is string => t !== undefined);
    let hostUser: string | undefined | null = null;
    for (const token of candidates) {
      const r = await mfa.assertions.verify(token, verifyOptions);
      if (!r.ok) continue;
      if (getUserId) {
        if (hostUser === null) hostUser = await resolveUserId(getUserId, req, res);
        if (hostUser !== r.userId) continue;
      }
      req.mfa = { userId: r.userId, amr: [...r.amr], authTime: r.authTime };
      next();
      return;
    }
    sendProblem(res, refusal, { 'WWW-Authenticate': wwwAuthenticate });
  });
}
