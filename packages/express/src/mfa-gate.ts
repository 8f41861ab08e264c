// packages/express/src/mfa-gate.ts
// mfaGate(): holds the host's password login until the second factor passes. After the host's
// password check it either answers with a login challenge (and nothing else: no session, no
// cookie) or — no factor enrolled, or a valid trusted-device cookie of that same user — lets the
// login continue. Deny by default: any error goes to next(err), never to the next handler.
import type { RequestHandler } from 'express';
import type { EnrollmentNotice, Mfa } from '@secondfactor/core';
import { readCookie, resolveTrustedDeviceCookie } from './cookies';
import { handleAsyncErrors } from './handle-async';
import { checkFunction, checkKnownKeys, checkMfa } from './options';
import { contextOf, resolveUserId } from './request-context';
import type { GetUserId, MfaChallenge, MfaEnrollmentRequired, MfaGateOptions } from './types';

const WHERE = 'mfaGate()';

/** What the gate leaves in `res.locals.mfaGate` when it lets a login continue. */
export interface MfaGateResult {
  /** True when the second factor was skipped because of a trusted-device cookie (not an MFA login). */
  trustedDevice: boolean;
  /** With a `policy`: the user has no factor it counts and should enrol (required within a grace period, or suggested). */
  enrollment?: EnrollmentNotice;
}

const fromLocals: GetUserId = (_req, res) => res.locals.userId as string | number | undefined;

/**
 * Put it after your password check, which stores the user id in `res.locals.userId`.
 *
 * @example
 * app.post('/login', checkPassword, mfaGate(mfa), issueSession);
 */
export function mfaGate(mfa: Mfa, options: MfaGateOptions = {}): RequestHandler {
  checkMfa(mfa, WHERE);
  checkKnownKeys(options, ['getUserId', 'cookie', 'onChallengeRequired', 'policy', 'onEnrollmentRequired'], `${WHERE} options`);
  checkFunction(options.getUserId, WHERE, 'getUserId');
  checkFunction(options.onChallengeRequired, WHERE, 'onChallengeRequired');
  checkFunction(options.policy, WHERE, 'policy');
  checkFunction(options.onEnrollmentRequired, WHERE, 'onEnrollmentRequired');
  const getUserId = options.getUserId ?? fromLocals;
  const { onChallengeRequired, onEnrollmentRequired, policy } = options;
  const cookie = resolveTrustedDeviceCookie(options.cookie, WHERE);

  return handleAsyncErrors(async function mfaGateMiddleware(req, res, next) {
    const userId = await resolveUserId(getUserId, req, res);
    if (userId === undefined) {
      throw new Error('secondfactor: mfaGate() found no user id; put the checked user id in res.locals.userId (or pass getUserId)');
    }
    const userPolicy = policy ? await policy(userId, req) : undefined;
    const start = await mfa.login.start(userId, {
      trustedDeviceToken: readCookie(req, cookie.name), context: contextOf(req), policy: userPolicy,
    });
    if (!start.required) {
      const result: MfaGateResult = { trustedDevice: start.trustedDevice, ...(start.enrollment ? { enrollment: start.enrollment } : {}) };
      res.locals.mfaGate = result;
      next();
      return;
    }
    // Nothing but the challenge leaves: drop any cookie an earlier handler set.
    res.removeHeader('Set-Cookie');
    res.setHeader('Cache-Control', 'no-store');
    if ('enrollmentRequired' in start) {
      const enrollment: MfaEnrollmentRequired = { mfaEnrollmentRequired: true, enrollmentToken: start.enrollmentToken, methods: [...start.methods], expiresAt: start.expiresAt };
      if (onEnrollmentRequired) {
        await onEnrollmentRequired(req, res, enrollment);
        return;
      }
      res.status(200).json(enrollment);
      return;
    }
    const challenge: MfaChallenge = { mfaRequired: true, challengeToken: start.challengeToken, methods: [...start.methods], expiresAt: start.expiresAt };
    if (onChallengeRequired) {
      await onChallengeRequired(req, res, challenge);
      return;
    }
    res.status(200).json(challenge);
  });
}
