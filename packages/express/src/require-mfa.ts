// packages/express/src/require-mfa.ts
// requireMfa(): the step-up guard for protected routes. Passes a valid MFA assertion (Bearer
// header or cookie) whose auth_time is within maxAge and sets the typed `req.mfa`; otherwise
// answers 401 with the RFC 9470 challenge, or hands the refusal to the host's `onRequired`.
// Login challenge tokens are never accepted: they are not assertions (distinct type and audience).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Mfa } from '@secondfactor/core';
import { DEFAULT_ASSERTION_COOKIE_NAMES, readCookies, resolveAssertionCookie } from './cookies';
import { bearerToken } from './fresh-proof';
import { checkFunction, checkKnownKeys, checkMfa, checkSeconds, configError } from './options';
import { problem, sendProblem } from './problem';
import { userIdOf } from './request-context';
import type { MfaRequiredInfo, RequireMfaOptions } from './types';

const WHERE = 'requireMfa()';
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const DESCRIPTION = 'A recent second-factor verification is required';
type Reason = MfaRequiredInfo['reason'];
/** With several tokens, the reason of the one closest to passing is reported. */
const RANK: Record<Reason, number> = { missing: 0, invalid: 1, other_user: 2, stale: 3 };

/** The cookie names to read: `cookieName`, the resolved `assertionCookie`, or both default names. */
function cookieNamesOf(options: RequireMfaOptions): readonly string[] {
  if (options.cookieName !== undefined) {
    if (options.assertionCookie !== undefined) throw configError(WHERE, 'cookieName', 'cannot be combined with assertionCookie (give one of them)');
    if (typeof options.cookieName !== 'string' || !COOKIE_NAME.test(options.cookieName)) throw configError(WHERE, 'cookieName', 'must be a cookie name of token characters');
    return [options.cookieName];
  }
  if (options.assertionCookie === undefined) return DEFAULT_ASSERTION_COOKIE_NAMES;
  const cookie = resolveAssertionCookie(options.assertionCookie, WHERE);
  return cookie ? [cookie.name] : [];
}

/**
 * @example
 * app.post('/admin/delete-account', requireMfa(mfa, { maxAge: 300, getUserId: (req) => req.session.userId }), handler);
 */
export function requireMfa(mfa: Mfa, options: RequireMfaOptions): RequestHandler {
  checkMfa(mfa, WHERE);
  if (options === undefined) throw new TypeError('secondfactor: requireMfa() needs options with getUserId (the request\'s host user), e.g. requireMfa(mfa, { maxAge: 300, getUserId: (req) => req.session.userId })');
  checkKnownKeys(options, ['maxAge', 'getUserId', 'assertionCookie', 'cookieName', 'onRequired'], `${WHERE} options`);
  checkSeconds(options.maxAge, WHERE, 'maxAge', 1, 86_400);
  // Without it the guard could not tell whose session it protects: any user's assertion would pass.
  checkFunction(options.getUserId, WHERE, 'getUserId', true);
  checkFunction(options.onRequired, WHERE, 'onRequired');
  const cookieNames = cookieNamesOf(options);
  const { maxAge, getUserId, onRequired } = options;
  const verifyOptions = maxAge === undefined ? {} : { maxAgeSeconds: maxAge };
  const wwwAuthenticate = `Bearer error="insufficient_user_authentication", error_description="${DESCRIPTION}"${maxAge === undefined ? '' : `, max_age=${maxAge}`}`;
  const refusal = problem('mfa_required', { status: 401, detail: `${DESCRIPTION}.`, ...(maxAge === undefined ? {} : { maxAge }) });

  /** The Bearer token, then the cookies' (each token once). */
  const tokensOf = (req: Request): string[] => {
    const bearer = bearerToken(req);
    const tokens = bearer === undefined ? [] : [bearer];
    for (const value of readCookies(req, cookieNames)) if (!tokens.includes(value)) tokens.push(value);
    return tokens;
  };

  // Every token in turn, waiting for what needs waiting for: a first-seen assertion's signature, an
  // asynchronous getUserId, the host's onRequired. `host` is getUserId's answer when already asked.
  const checkAll = async (req: Request, res: Response, next: NextFunction, host: { value: unknown } | undefined) => {
    const tokens = tokensOf(req);
    let hostUser: string | undefined | null = null; // null: not asked yet
    const isHostUser = async (userId: string) => {
      if (hostUser === null) {
        // getUserId is asked once per request; no await for one that answers synchronously.
        const value = host ? host.value : getUserId(req, res);
        hostUser = userIdOf(isThenable(value) ? await value : value);
      }
      return hostUser === userId;
    };
    let reason: Reason = 'missing';
    const note = (r: Reason) => {
      if (RANK[r] > RANK[reason]) reason = r;
    };
    for (const token of tokens) {
      const r = await mfa.assertions.verify(token, verifyOptions);
      if (r.ok) {
        if (await isHostUser(r.userId)) {
          req.mfa = { userId: r.userId, amr: [...r.amr], authTime: r.authTime };
          next();
          return;
        }
        note('other_user');
      } else if (r.reason === 'stale') {
        // Whose is it? A stale assertion of another user is `other_user`, not `stale`.
        const any = await mfa.assertions.verify(token);
        note(any.ok && !(await isHostUser(any.userId)) ? 'other_user' : 'stale');
      } else {
        note('invalid');
      }
    }

    if (onRequired) {
      let passedOn = false;
      const onward = ((error?: unknown) => {
        passedOn = true;
        next(error);
      }) as NextFunction;
      await onRequired(req, res, onward, { reason, ...(maxAge === undefined ? {} : { maxAge }) });
      // Fail closed: a hook that neither answered nor passed the request on gets the default answer.
      if (passedOn || res.headersSent || res.writableEnded) return;
    }
    sendProblem(res, refusal, { 'WWW-Authenticate': wwwAuthenticate });
  };

  // The common case answers synchronously: its first token is an assertion this instance verified
  // before, of the user getUserId names at once. Passing the request on from a later microtask
  // instead costs a fast route about a tenth of its throughput (docs/benchmarks.md).
  const guard: RequestHandler = (req, res, next) => {
    let host: { value: unknown } | undefined;
    let passed = false;
    try {
      // The first token: the Bearer one, else the first cookie's (no cookie read behind a Bearer token).
      const first = bearerToken(req) ?? readCookies(req, cookieNames)[0];
      const known = first === undefined ? undefined : mfa.assertions.verifyKnown(first, verifyOptions);
      if (known?.ok) {
        const value = getUserId(req, res);
        if (isThenable(value)) {
          // Awaited below; marked handled here, so a rejection is never an unhandled one.
          const answer = Promise.resolve(value);
          answer.catch(() => {});
          host = { value: answer };
        } else if (userIdOf(value) === known.userId) {
          req.mfa = { userId: known.userId, amr: known.amr, authTime: known.authTime }; // amr: a copy of its own
          passed = true;
        } else {
          host = { value };
        }
      }
    } catch (error) {
      next(error);
      return;
    }
    if (passed) next();
    else checkAll(req, res, next, host).catch(next);
  };
  Object.defineProperty(guard, 'name', { value: 'requireMfaMiddleware' });
  return guard;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';
