// packages/express/src/types.ts
// Public option types of the Express integration, and the typed `req.mfa` set by requireMfa().
import type { NextFunction, Request, Response } from 'express';
import type { MfaPolicy } from '@secondfactor/core';

/**
 * Returns the signed-in host user of this request (from the host's own session or token), or
 * `undefined`/`null` when nobody is signed in. Numbers are accepted and turned into strings.
 */
export type GetUserId = (req: Request, res: Response) => string | number | null | undefined | Promise<string | number | null | undefined>;

/** What `requireMfa()` puts on `req.mfa` after a valid, fresh MFA assertion. */
export interface MfaState {
  /** The `sub` of the assertion: the user who passed the second factor. */
  userId: string;
  /** RFC 8176 authentication methods, e.g. `['otp']`. */
  amr: string[];
  /** When the second factor was verified, epoch milliseconds (`auth_time`). */
  authTime: number;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `requireMfa()` when the request carries a valid, fresh MFA assertion. */
      mfa?: MfaState;
    }
  }
}

/** The trusted-device ("remember this device") cookie. */
export interface TrustedDeviceCookieOptions {
  /**
   * Base name (default `sf_td`). With `secure` the `__Host-` prefix is added, so the default
   * cookie is `__Host-sf_td`.
   */
  name?: string;
  /** `Secure` attribute and `__Host-` prefix (default `true`). Set `false` only for local http. */
  secure?: boolean;
  /** Cookie path (default `/`; must be `/` when `secure`, as `__Host-` requires). */
  path?: string;
  /** `SameSite` attribute (default `lax`). `none` requires `secure`. */
  sameSite?: 'lax' | 'strict' | 'none';
}

/**
 * The HttpOnly cookie that carries the MFA assertion to `requireMfa()` (option `assertionCookie`
 * of `mfaRouter()`, `requireMfa()` and `clearAssertionCookie()`). Give all of them the same value.
 */
export interface AssertionCookieOptions {
  /**
   * Base name (default `sf_mfa`). With `secure` the `__Host-` prefix is added, so the default
   * cookie is `__Host-sf_mfa`.
   */
  name?: string;
  /** `Secure` attribute and `__Host-` prefix (default `true`). Set `false` only for local http. */
  secure?: boolean;
  /** `SameSite` attribute (default `lax`). */
  sameSite?: 'lax' | 'strict';
}

/** What `onLoginComplete` receives after a successful `POST /verify`. */
export interface LoginCompleteInfo {
  userId: string;
  /** RFC 8176 values, e.g. `['mfa', 'otp']`. */
  amr: string[];
  /** The MFA assertion (JWT) and its lifetime in seconds, if the host wants to hand it out. */
  assertion: string;
  expiresIn: number;
  /**
   * When the login completed by enrolling a first factor (the policy required it): the new backup
   * codes, to show once. The default answer includes them.
   */
  backupCodes?: string[];
}

export interface MfaRouterOptions {
  /** The signed-in host user, for enrolment and management routes. Required. */
  getUserId: GetUserId;
  /**
   * Completes a login after `POST /verify` succeeded: issue the host session and send the response.
   * Default: `200 {accessToken, tokenType: 'Bearer', expiresIn}`. The callback owns the response:
   * the router never answers after it, so it may answer later (e.g. inside express-session's
   * `req.session.regenerate(cb)`); it must answer. A thrown error or rejected promise goes to
   * the router's error handler (a problem document). The router's own cookies (trusted device,
   * assertion) go out only with an answer below 400: on an error answer (that problem, or one the
   * callback sends) they are taken off and the trusted device the login created is revoked.
   */
  onLoginComplete?: (req: Request, res: Response, info: LoginCompleteInfo) => void | Promise<void>;
  /** The host's password check, for `allowPasswordToDisable`. */
  verifyPassword?: (req: Request, userId: string, password: string) => boolean | Promise<boolean>;
  /**
   * Off by default: turning MFA off needs a second factor (a current code, a backup code or a
   * recent assertion). When true, `POST /disable {password}` is also accepted, checked by
   * `verifyPassword` and counted by core like a code (a wrong password is a failed attempt and
   * emits `mfa.failed`; refused while the user is locked).
   */
  allowPasswordToDisable?: boolean;
  /** Account name shown in authenticator apps (default: the user id). Must not contain `:`. */
  getAccountName?: (req: Request, userId: string) => string | undefined | Promise<string | undefined>;
  /** The trusted-device cookie; pass the same value to `mfaGate()`. */
  cookie?: TrustedDeviceCookieOptions;
  /**
   * Off by default. When on, `POST /verify` (before `onLoginComplete` runs) and `POST /step-up`
   * also set the MFA assertion as an HttpOnly cookie (`Max-Age` = the assertion's lifetime,
   * `Path=/`), for browser apps guarded by `requireMfa()`. `true` means the defaults
   * (`__Host-sf_mfa`, Secure, SameSite=Lax). Pass the same value to `requireMfa()` and
   * `clearAssertionCookie()`.
   */
  assertionCookie?: boolean | AssertionCookieOptions;
  /** How old an assertion (Bearer or `{assertion}`) may be to count as fresh proof (seconds, default 300, at most 300). */
  maxAgeForProofSeconds?: number;
  /**
   * Called with unexpected errors (answered `500`) and infrastructure failures (`502`/`503`), for
   * logging. Default: one cleaned line on stderr with the error's cause (`describeError`).
   */
  onError?: (error: unknown, req: Request) => void;
}

export interface MfaGateOptions {
  /** The user whose password was just checked (default: `res.locals.userId`). */
  getUserId?: GetUserId;
  /** The trusted-device cookie; the same value as given to `mfaRouter()`. */
  cookie?: TrustedDeviceCookieOptions;
  /**
   * Sends the "second factor required" answer. Default:
   * `200 {mfaRequired: true, challengeToken, methods, expiresAt}` with `Cache-Control: no-store`.
   */
  onChallengeRequired?: (req: Request, res: Response, challenge: MfaChallenge) => void | Promise<void>;
  /**
   * The host's enforcement policy for this user (DESIGN "Enforcement policy"): `{required, graceUntil?,
   * methods?}`. A user it requires MFA of, without a factor it counts, gets an enrolment-only answer
   * (after `graceUntil`); before it, or when not required, the login continues and
   * `res.locals.mfaGate.enrollment` tells the host what to nag about.
   */
  policy?: (userId: string, req: Request) => MfaPolicy | Promise<MfaPolicy>;
  /**
   * Sends the "enrol first" answer. Default:
   * `200 {mfaEnrollmentRequired: true, enrollmentToken, methods, expiresAt}` with `Cache-Control: no-store`.
   */
  onEnrollmentRequired?: (req: Request, res: Response, enrollment: MfaEnrollmentRequired) => void | Promise<void>;
}

/** The answer of the gate for a user who must enrol a factor before signing in. */
export interface MfaEnrollmentRequired {
  mfaEnrollmentRequired: true;
  /** Reaches only `POST /:type/setup` and `/:type/confirm` of `methods` (body field `enrollmentToken`). */
  enrollmentToken: string;
  methods: string[];
  expiresAt: string;
}

/** The login challenge the gate hands out instead of a session. */
export interface MfaChallenge {
  mfaRequired: true;
  challengeToken: string;
  methods: string[];
  expiresAt: string;
}

/** Why `requireMfa()` refused a request (what `onRequired` receives). */
export interface MfaRequiredInfo {
  /**
   * - `missing`: no assertion at all (no Bearer header, no assertion cookie);
   * - `invalid`: not a valid assertion (bad signature, expired, a challenge or host token, …);
   * - `stale`: a valid assertion of this user whose `auth_time` is older than `maxAge`;
   * - `other_user`: a valid assertion of another user than `getUserId` returns.
   *
   * With several tokens (Bearer header and cookie), the one closest to passing decides:
   * `stale`, then `other_user`, then `invalid`.
   */
  reason: 'missing' | 'invalid' | 'stale' | 'other_user';
  /** The `maxAge` option, when set. */
  maxAge?: number;
}

export interface RequireMfaOptions {
  /** Maximum age of the second-factor verification (`auth_time`), in seconds. */
  maxAge?: number;
  /**
   * Required: this request's host user (from your session or token). An assertion of any other
   * user is refused, so a guard cannot be passed with someone else's assertion.
   */
  getUserId: GetUserId;
  /**
   * The assertion cookie to read: the same value as `mfaRouter()`'s `assertionCookie`
   * (`true` reads `__Host-sf_mfa`, `{secure: false}` reads `sf_mfa`, `false` reads no cookie).
   * Without it (and without `cookieName`) both default names, `__Host-sf_mfa` and `sf_mfa`, are
   * read. The `Authorization: Bearer` header is always read.
   */
  assertionCookie?: boolean | AssertionCookieOptions;
  /** The exact name of the cookie to read instead (not together with `assertionCookie`). */
  cookieName?: string;
  /**
   * Answers a refused request instead of the default `401` (RFC 9470 `WWW-Authenticate` and a
   * problem document), for example by redirecting a browser to your step-up page. If it returns
   * (or its promise settles) without answering and without calling `next`, the default `401` is
   * sent. Calling `next()` lets the request through WITHOUT `req.mfa`: do that only on purpose.
   */
  onRequired?: (req: Request, res: Response, next: NextFunction, info: MfaRequiredInfo) => void | Promise<void>;
}
