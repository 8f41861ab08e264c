// packages/express/src/mfa-router.ts
// mfaRouter(): every route of the HTTP contract (docs/openapi.yaml) over the core engine —
// enrolment, the login challenge and verification, step-up, recovery codes, factor and
// trusted-device management. Identity for management routes comes only from the host's
// getUserId; every answer is `Cache-Control: no-store`; errors are problem+json.
import express, { type Request, type Response, type Router } from 'express';
import { UNSAFE_LABEL_CHARACTERS, type FactorTypeInfo, type Mfa } from '@secondfactor/core';
import { appendSetCookie, readCookie, resolveAssertionCookie, resolveTrustedDeviceCookie, serializeCookie, withdrawSetCookie } from './cookies';
import { optionalBoolean, optionalString, requiredObject, requiredString, routeId } from './fields';
import { CORE_PROOF_MAX_AGE_SECONDS, freshProofOf, optionalProofOf, type ProofSettings } from './fresh-proof';
import { beforeErrorAnswer } from './error-answer';
import { routerErrorHandler } from './error-handler';
import { handleAsyncErrors } from './handle-async';
import { checkFunction, checkKnownKeys, checkMfa, checkSeconds, configError } from './options';
import { logUnexpectedError } from './log-error';
import { failureProblem, invalidRequest, ProblemError } from './problem';
import { readJsonBody, type JsonBody } from './read-body';
import { contextOf, resolveUserId } from './request-context';
import type { LoginCompleteInfo, MfaRouterOptions } from './types';

const WHERE = 'mfaRouter()';
/** Body fields the router reads itself on setup routes; the rest is the factor type's own input. */
const ROUTER_FIELDS = new Set(['label', 'code', 'response', 'method', 'assertion', 'password', 'enrollmentToken']);
const KNOWN_OPTIONS = ['getUserId', 'onLoginComplete', 'verifyPassword', 'allowPasswordToDisable', 'getAccountName', 'cookie', 'assertionCookie', 'maxAgeForProofSeconds', 'onError'];

type RouteHandler = (req: Request, res: Response) => Promise<void>;

/** An optional factor label: printable text only, no bidirectional overrides. */
function labelOf(body: JsonBody): string | undefined {
  const label = optionalString(body, 'label', { allowNull: true });
  if (label !== undefined && UNSAFE_LABEL_CHARACTERS.test(label)) throw invalidRequest('label', 'label must not contain control or bidirectional-override characters');
  return label;
}

/**
 * The MFA routes, to mount under a path of your choice.
 *
 * @example
 * app.use('/mfa', mfaRouter(mfa, {
 *   getUserId: (req) => req.session.userId,
 *   onLoginComplete: (req, res, { userId }) => startSession(req, res, userId),
 *   verifyPassword: (req, userId, password) => users.checkPassword(userId, password),
 * }));
 */
export function mfaRouter(mfa: Mfa, options: MfaRouterOptions): Router {
  checkMfa(mfa, WHERE);
  checkKnownKeys(options, KNOWN_OPTIONS, `${WHERE} options`);
  checkFunction(options.getUserId, WHERE, 'getUserId', true);
  checkFunction(options.onLoginComplete, WHERE, 'onLoginComplete');
  checkFunction(options.verifyPassword, WHERE, 'verifyPassword');
  checkFunction(options.getAccountName, WHERE, 'getAccountName');
  checkFunction(options.onError, WHERE, 'onError');
  checkSeconds(options.maxAgeForProofSeconds, WHERE, 'maxAgeForProofSeconds', 1, CORE_PROOF_MAX_AGE_SECONDS);
  if (options.allowPasswordToDisable !== undefined && typeof options.allowPasswordToDisable !== 'boolean') {
    throw configError(WHERE, 'allowPasswordToDisable', 'must be a boolean');
  }
  if (options.allowPasswordToDisable && !options.verifyPassword) throw configError(WHERE, 'allowPasswordToDisable', 'needs verifyPassword (the host\'s password check)');
  const { getUserId, onLoginComplete, verifyPassword, getAccountName } = options;
  const allowPasswordToDisable = options.allowPasswordToDisable === true;
  // Unexpected errors and outages are logged by default (cleaned: no bound values), so a host that
  // forgot its migrations sees why every request answers 503; the host's onError replaces this.
  const onError = options.onError ?? logUnexpectedError;
  const cookie = resolveTrustedDeviceCookie(options.cookie, WHERE);
  const assertionCookie = resolveAssertionCookie(options.assertionCookie, WHERE);
  const maxAgeSeconds = options.maxAgeForProofSeconds ?? CORE_PROOF_MAX_AGE_SECONDS;
  const proof = (action: string, allowPassword = false): ProofSettings => ({ action, allowPassword, verifyPassword, maxAgeSeconds });

  const router = express.Router();

  /** With `assertionCookie`: the assertion as an HttpOnly cookie that lives as long as the assertion. Returns the header value set. */
  const setAssertionCookie = (res: Response, assertion: string, expiresIn: number): string | undefined => {
    if (!assertionCookie) return undefined;
    const value = serializeCookie(assertionCookie, assertion, expiresIn);
    appendSetCookie(res, value);
    return value;
  };

  /**
   * Hands a completed second step to the host's `onLoginComplete`, which owns the response: it may
   * answer later (express-session's regenerate(cb)), so the router never answers after it; a throw
   * or rejection goes on to the router's error handler. The login's cookies (`cookies`) are already
   * on the response, so that whatever success the host sends carries them. An error answer — the
   * router's problem document for a failed callback, or an error the host sends itself — does not
   * complete the login: the cookies are taken off it and the trusted device this login created is
   * revoked, so a failed login leaves the client no credential and the user no device they never
   * got.
   */
  async function handOverLogin(req: Request, res: Response, complete: NonNullable<MfaRouterOptions['onLoginComplete']>, info: LoginCompleteInfo, cookies: (string | undefined)[], device?: { id: string }) {
    beforeErrorAnswer(res, () => {
      withdrawSetCookie(res, cookies.filter((c) => c !== undefined));
      // The token never leaves, so the device is unreachable: revoking it is tidying, done after
      // the answer; a failure is reported, not answered.
      if (device) mfa.devices.revoke(info.userId, device.id, contextOf(req)).catch((error: unknown) => onError(error, req));
    });
    await complete(req, res, info);
  }

  /** A route: no-store, async errors to the router's error handler; keeps the handler's name. */
  const route = (fn: RouteHandler) => {
    const handler = async (req: Request, res: Response) => {
      res.setHeader('Cache-Control', 'no-store');
      await fn(req, res);
    };
    Object.defineProperty(handler, 'name', { value: fn.name });
    return handleAsyncErrors(handler);
  };

  async function signedInUser(req: Request, res: Response): Promise<string> {
    const userId = await resolveUserId(getUserId, req, res);
    if (userId === undefined) throw new ProblemError('unauthenticated');
    return userId;
  }

  /**
   * Who sets up a factor: the signed-in host user, or — during a login the policy sent to enrol
   * first — the user of the body's `enrollmentToken` (which reaches these routes only).
   */
  async function enrollingUser(req: Request, res: Response, body: JsonBody): Promise<{ userId: string; enrollmentToken?: string }> {
    const enrollmentToken = optionalString(body, 'enrollmentToken');
    if (enrollmentToken === undefined) return { userId: await signedInUser(req, res) };
    const { userId } = await mfa.login.enrollment(enrollmentToken);
    const hostUser = await resolveUserId(getUserId, req, res);
    if (hostUser !== undefined && hostUser !== userId) throw new ProblemError('forbidden', { detail: 'The enrolment token belongs to another user.' });
    return { userId, enrollmentToken };
  }

  /** Completes the login an enrolment was required for, as `/verify` does (the backup codes shown once). */
  async function completeEnrollmentLogin(req: Request, res: Response, userId: string, amr: string[], backupCodes: string[] | undefined, factor: unknown) {
    const { assertion, expiresIn } = await mfa.assertions.issue(userId, amr);
    const full = ['mfa', ...amr.filter((v) => v !== 'mfa')];
    const set = setAssertionCookie(res, assertion, expiresIn);
    if (onLoginComplete) {
      await handOverLogin(req, res, onLoginComplete, { userId, amr: full, assertion, expiresIn, ...(backupCodes ? { backupCodes } : {}) }, [set]);
      return;
    }
    res.status(200).json({ accessToken: assertion, tokenType: 'Bearer', expiresIn, factor, ...(backupCodes ? { backupCodes } : {}) });
  }

  /**
   * Adding a factor when MFA is already on needs fresh proof (SEC-03, SMS-08): at setup a code or
   * an assertion; at confirm an assertion (the body's `code` is the new factor's). Core decides
   * whether it is needed and checks it.
   */
  const proofForNewFactor = (req: Request, userId: string, body: JsonBody, at: 'setup' | 'confirm') =>
    optionalProofOf(mfa, req, userId, body, proof('Adding a factor'), at === 'setup');

  // ---- status and enrolment (host user) ----

  router.get('/status', route(async function getStatus(req, res) {
    const userId = await signedInUser(req, res);
    const s = await mfa.status(userId);
    res.status(200).json({
      enabled: s.enabled, factors: s.factors, backupCodesRemaining: s.backupCodesRemaining, trustedDevices: s.trustedDevices, locked: s.locked,
    });
  }));

  /** A factor as the body carries it: `{code}` or `{response}`, as the type takes it. */
  const factorInputOf = (body: JsonBody, type: FactorTypeInfo | undefined) =>
    type?.input === 'response' ? { response: requiredObject(body, 'response') } : { code: requiredString(body, 'code') };
  const typeOf = (method: string) => mfa.factorTypes.find((t) => t.type === method);

  // ---- enrolment and per-verification steps, mounted from the registry of factor types ----

  for (const type of mfa.factorTypes) {
    if (type.enrollable) {
      router.post(`/${type.type}/setup`, route(async function setupFactor(req, res) {
        const body = await readJsonBody(req);
        const { userId, enrollmentToken } = await enrollingUser(req, res, body);
        const label = labelOf(body);
        // The type's own setup fields (a phone number, an address): everything but the router's.
        const input = Object.fromEntries(Object.entries(body).filter(([k]) => !ROUTER_FIELDS.has(k)));
        const p = enrollmentToken === undefined ? await proofForNewFactor(req, userId, body, 'setup') : undefined;
        const accountName = getAccountName ? await getAccountName(req, userId) : undefined;
        const r = await mfa.enroll(userId, type.type, {
          input, ...(label === undefined ? {} : { label }), ...(accountName === undefined ? {} : { accountName }), ...(p === undefined ? {} : { proof: p }),
          ...(enrollmentToken === undefined ? {} : { enrollmentToken }),
        }, contextOf(req));
        res.status(200).json(r);
      }));

      router.post(`/${type.type}/confirm`, route(async function confirmFactor(req, res) {
        const body = await readJsonBody(req);
        const { userId, enrollmentToken } = await enrollingUser(req, res, body);
        const factorId = requiredString(body, 'factorId');
        const input = factorInputOf(body, type);
        const p = enrollmentToken === undefined ? await proofForNewFactor(req, userId, body, 'confirm') : undefined;
        const r = await mfa.confirm(userId, factorId, input, contextOf(req), {
          maxAgeSeconds, type: type.type, ...(p === undefined ? {} : { proof: p }), ...(enrollmentToken === undefined ? {} : { enrollmentToken }),
        });
        if (!r.ok) throw failureProblem(r);
        if (r.enrollmentCompleted) {
          await completeEnrollmentLogin(req, res, userId, r.amr, r.backupCodes, r.factor);
          return;
        }
        res.status(200).json(r.backupCodes ? { factor: r.factor, backupCodes: r.backupCodes } : { factor: r.factor });
      }));
    }

    if (type.challenge) {
      // With a challenge token: the login's step. Without: the signed-in user's, for a step-up or
      // fresh proof. A code sent answers 202 (accepted for delivery); options to use answer 200.
      router.post(`/challenge/${type.type}`, route(async function factorChallenge(req, res) {
        const body = await readJsonBody(req);
        const challengeToken = optionalString(body, 'challengeToken');
        const factorId = optionalString(body, 'factorId');
        const opts = { method: type.type, ...(factorId === undefined ? {} : { factorId }) };
        let show: Record<string, unknown>;
        if (challengeToken !== undefined) {
          const r = await mfa.login.challenge(challengeToken, opts, contextOf(req));
          if (!r.ok) throw failureProblem(r);
          show = r.show;
        } else {
          const userId = await resolveUserId(getUserId, req, res);
          if (userId === undefined) throw invalidRequest('challengeToken', 'challengeToken is required');
          show = (await mfa.stepUp.challenge(userId, opts, contextOf(req))).show;
        }
        res.status(type.input === 'code' ? 202 : 200).json(show);
      }));
    }
  }

  // ---- login: verify the second factor ----

  router.post('/verify', route(async function verifyLogin(req, res) {
    const body = await readJsonBody(req);
    const challengeToken = requiredString(body, 'challengeToken');
    const method = requiredString(body, 'method');
    const input = factorInputOf(body, typeOf(method));
    const trustDevice = optionalBoolean(body, 'trustDevice');
    const r = await mfa.login.verify(challengeToken, { method, ...input, ...(trustDevice === undefined ? {} : { trustDevice }) }, contextOf(req));
    if (!r.ok) throw failureProblem(r);
    // The cookies are set before the host completes the login, so that whatever success it sends carries them.
    const device = r.trustedDevice ? serializeCookie(cookie, r.trustedDevice.token, r.trustedDevice.maxAgeSeconds) : undefined;
    if (device !== undefined) appendSetCookie(res, device);
    const set = setAssertionCookie(res, r.assertion, r.expiresIn);
    if (onLoginComplete) {
      await handOverLogin(req, res, onLoginComplete, { userId: r.userId, amr: r.amr, assertion: r.assertion, expiresIn: r.expiresIn }, [device, set], r.trustedDevice);
      return;
    }
    res.status(200).json({ accessToken: r.assertion, tokenType: 'Bearer', expiresIn: r.expiresIn });
  }));

  // ---- step-up: a signed-in user verifies again for a fresh assertion ----

  router.post('/step-up', route(async function stepUp(req, res) {
    const userId = await signedInUser(req, res);
    const body = await readJsonBody(req);
    const method = optionalString(body, 'method');
    const input = factorInputOf(body, method === undefined ? undefined : typeOf(method));
    const r = await mfa.stepUp.verify(userId, { ...(method === undefined ? {} : { method }), ...input }, contextOf(req));
    if (!r.ok) throw failureProblem(r);
    setAssertionCookie(res, r.assertion, r.expiresIn);
    res.status(200).json({ accessToken: r.assertion, tokenType: 'Bearer', expiresIn: r.expiresIn });
  }));

  // ---- changes that weaken protection: fresh proof in the same request ----

  router.post('/backup-codes/regenerate', route(async function regenerateBackupCodes(req, res) {
    const userId = await signedInUser(req, res);
    const body = await readJsonBody(req);
    const p = await freshProofOf(mfa, req, userId, body, proof('Regenerating backup codes'));
    const r = await mfa.backupCodes.regenerate(userId, p, contextOf(req), { maxAgeSeconds });
    if (!r.ok) throw failureProblem(r);
    res.status(200).json({ backupCodes: r.backupCodes });
  }));

  router.delete('/factors/:id', route(async function removeFactor(req, res) {
    const userId = await signedInUser(req, res);
    const factorId = routeId(req.params.id);
    const body = await readJsonBody(req);
    const p = await freshProofOf(mfa, req, userId, body, proof('Removing a factor'));
    const r = await mfa.factors.remove(userId, factorId, p, contextOf(req), { maxAgeSeconds });
    if (!r.ok) throw failureProblem(r);
    res.status(204).end();
  }));

  router.post('/disable', route(async function disableMfa(req, res) {
    const userId = await signedInUser(req, res);
    const body = await readJsonBody(req);
    const p = await freshProofOf(mfa, req, userId, body, proof('Turning off two-step verification', allowPasswordToDisable));
    const r = await mfa.disable(userId, p, contextOf(req), { maxAgeSeconds, allowPassword: allowPasswordToDisable });
    if (!r.ok) throw failureProblem(r);
    res.status(204).end();
  }));

  // ---- trusted devices ----

  router.get('/trusted-devices', route(async function listTrustedDevices(req, res) {
    const userId = await signedInUser(req, res);
    const devices = await mfa.devices.list(userId, readCookie(req, cookie.name));
    res.status(200).json({ devices });
  }));

  router.delete('/trusted-devices/:id', route(async function revokeTrustedDevice(req, res) {
    const userId = await signedInUser(req, res);
    const deviceId = routeId(req.params.id);
    if (!(await mfa.devices.revoke(userId, deviceId, contextOf(req)))) throw new ProblemError('not_enrolled', { detail: 'No such trusted device.' });
    res.status(204).end();
  }));

  // Errors of the routes above: problem+json, never a stack trace; unknown errors are a bare 500.
  router.use(routerErrorHandler('mfaRouterErrorHandler', onError));

  return router;
}
