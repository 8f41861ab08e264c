// packages/express/src/types.ts
// Public option types of the Express integration, and the typed `req.mfa` set by requireMfa().
import type { Request, Response } from 'express';

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

/** What `onLoginComplete` receives after a successful `POST /verify`. */
export interface LoginCompleteInfo {
  userId: string;
  /** RFC 8176 values, e.g. `['mfa', 'otp']`. */
  amr: string[];
  /** The MFA assertion (JWT) and its lifetime in seconds, if the host wants to hand it out. */
  assertion: string;
  expiresIn: number;
}

export interface MfaRouterOptions {
  /** The signed-in host user, for enrolment and management routes. Required. */
  getUserId: GetUserId;
  /**
   * Completes a login after `POST /verify` succeeded: issue the host session and send the response.
   * Default: `200 {accessToken, tokenType: 'Bearer', expiresIn}`. If it returns without sending
   * anything, the router answers `204`.
   */
  onLoginComplete?: (req: Request, res: Response, info: LoginCompleteInfo) => void | Promise<void>;
  /** The host's password check, accepted as fresh proof by `POST /disable` (`{password}`). */
  verifyPassword?: (req: Request, userId: string, password: string) => boolean | Promise<boolean>;
  /** Account name shown in authenticator apps (default: the user id). Must not contain `:`. */
  getAccountName?: (req: Request, userId: string) => string | undefined | Promise<string | undefined>;
  /** The trusted-device cookie; pass the same value to `mfaGate()`. */
  cookie?: TrustedDeviceCookieOptions;
  /** How old an assertion (Bearer or `{assertion}`) may be to count as fresh proof (seconds, default 300, at most 300). */
  maxAgeForProofSeconds?: number;
  /** Called with unexpected errors (answered `500`) and infrastructure failures (`502`/`503`), for logging. */
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
}

/** The login challenge the gate hands out instead of a session. */
export interface MfaChallenge {
  mfaRequired: true;
  challengeToken: string;
  methods: string[];
  expiresAt: string;
}

export interface RequireMfaOptions {
  /** Maximum age of the second-factor verification (`auth_time`), in seconds. */
  maxAge?: number;
  /** When given, the assertion's user must be this request's host user. */
  getUserId?: GetUserId;
  /** Cookie that may carry the assertion (default `sf_mfa`); the `Authorization: Bearer` header is always read. */
  cookieName?: string;
}
