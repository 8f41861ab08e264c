// packages/core/src/flows/login.ts
// The login's second step: start a challenge after the host checked the password (or let a
// trusted device through), run a factor's per-login step (send a code, request options), and
// verify — one success per challenge, spending exactly one code however many race on it.
import type { EngineContext } from '../context';
import { hashToken, randomId, randomToken } from '../crypto';
import { deviceLabelFromUserAgent } from '../device-label';
import { MfaError } from '../errors';
import type { RequestContext } from '../events';
import type { FactorInput } from '../factor-plugin';
import type { ChallengeRecord } from '../store';
import type { Failure, LoginChallengeStart, LoginStart, LoginSuccess, LoginVerifyResult, MfaPolicy } from '../types';
import { activeFactors, failure, iso, issueAssertion, pluginFor, requireUserId } from './shared';
import { checkEnrollmentToken, enrollmentTokenId, resolvePolicy } from './policy';
import { evaluate, keepState, limited, stateKey, type Verified } from './verification';
import { checkTrustedDevice } from './devices';

export interface LoginFlow {
  /**
   * After the host checked the password: `{required: false}` when the user has no factor (or
   * `trustedDeviceToken` is a live trusted device of this user), else a challenge token.
   */
  start(userId: string, options?: { trustedDeviceToken?: string; context?: RequestContext }): Promise<LoginChallengeStart>;
  start(userId: string, options: { trustedDeviceToken?: string; context?: RequestContext; policy: MfaPolicy | undefined }): Promise<LoginStart>;
  /** A factor's per-login step for this challenge: send a code (`{sentTo}`), security-key request options (`{options}`). */
  challenge(challengeToken: unknown, options: { method: unknown; factorId?: string }, req?: RequestContext): Promise<{ ok: true; factorId: string | null; show: Record<string, unknown> } | Failure>;
  /** The user and allowed types of a live enrolment token (a login the policy sent to enrol first); `challenge_expired` otherwise. */
  enrollment(enrollmentToken: unknown): Promise<{ userId: string; methods: string[] }>;
  /** The second step: `{method, code}` or `{method, response}`; on success an MFA assertion (and a trusted device when asked). */
  verify(challengeToken: unknown, input: FactorInput & { method: unknown; trustDevice?: boolean }, req?: RequestContext): Promise<LoginVerifyResult>;
}

const challengeIdOf = async (token: unknown): Promise<string | null> =>
  typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token) ? hashToken(token) : null;

export function loginFlow(e: EngineContext): LoginFlow {
  const { o, store } = e;

  /** The live challenge of a token, or null (unknown, malformed and expired look alike). */
  async function liveChallenge(token: unknown): Promise<ChallengeRecord | null> {
    const id = await challengeIdOf(token);
    const challenge = id ? await store.getChallenge(id) : null;
    return challenge && challenge.expiresAt > e.now() ? challenge : null;
  }

  function offeredMethod(challenge: ChallengeRecord, method: string): void {
    if (!challenge.methods.includes(method)) throw new MfaError('invalid_request', `method "${method}" is not available for this login`, { field: 'method' });
  }

  /** Puts back a challenge this request took but could not complete (its code lost a race). */
  async function restoreChallenge(challenge: ChallengeRecord): Promise<void> {
    const ttl = Math.ceil((challenge.expiresAt - e.now()) / 1000);
    if (ttl > 0) await store.createChallenge(challenge, ttl + 60);
  }

  async function start(userId: string, opts: { trustedDeviceToken?: string; context?: RequestContext; policy?: MfaPolicy | undefined } = {}): Promise<LoginStart> {
    requireUserId(userId);
    const req = opts.context;
    const policy = resolvePolicy(e, opts.policy);
    const all = await activeFactors(e, userId);
    // Only the factor types the policy counts (none given: all). A user whose factors all fall
    // outside them has, for a policy that requires MFA, no usable factor: they must enrol one.
    const factors = policy.methods ? all.filter((f) => policy.methods!.includes(f.type)) : all;
    const now = e.now();
    if (factors.length === 0 && (policy.required || all.length === 0)) {
      if (!policy.required) return { required: false, trustedDevice: false, ...(opts.policy ? { enrollment: { required: false, graceUntil: null, methods: policy.enrollable } } : {}) };
      if (policy.graceUntil !== null && policy.graceUntil > now) {
        return { required: false, trustedDevice: false, enrollment: { required: true, graceUntil: iso(policy.graceUntil), methods: policy.enrollable } };
      }
      const token = randomToken(o.random, 32);
      const expiresAt = now + o.enrollment.pendingTtlSeconds * 1000;
      await store.createChallenge({ id: await enrollmentTokenId(token), userId, methods: policy.enrollable, createdAt: now, expiresAt, attempts: 0 }, o.enrollment.pendingTtlSeconds + 60);
      e.emit({ type: 'enrollment.required', userId, outcome: 'success', purpose: 'login' }, req);
      return { required: true, enrollmentRequired: true, enrollmentToken: token, methods: policy.enrollable, expiresAt: iso(expiresAt) };
    }
    const counted = factors.length > 0 ? factors : all;
    if (opts.trustedDeviceToken && (await checkTrustedDevice(e, userId, opts.trustedDeviceToken))) {
      return { required: false, trustedDevice: true };
    }
    const offered: string[] = [];
    for (const p of e.registry.all) {
      const own = counted.filter((f) => f.type === p.type);
      // Recovery codes count whenever the user has a factor the policy counts.
      const allowed = counted === all || !policy.methods || policy.methods.includes(p.type) || p.recovery !== undefined;
      if (allowed && (p.offered ? await p.offered(e.factors, { userId, factors: own }) : own.length > 0)) offered.push(p.type);
    }
    const token = randomToken(o.random, 32);
    const expiresAt = now + o.challenge.ttlSeconds * 1000;
    await store.createChallenge({ id: await hashToken(token), userId, methods: offered, createdAt: now, expiresAt, attempts: 0 }, o.challenge.ttlSeconds + 60);
    e.emit({ type: 'challenge.started', userId, outcome: 'success', purpose: 'login' }, req);
    return { required: true, challengeToken: token, methods: offered, expiresAt: iso(expiresAt) };
  }

  return {
    // One implementation for both overloads: without a policy it never answers "enrol first".
    start: start as LoginFlow['start'],

    async enrollment(enrollmentToken) {
      const { userId, methods } = await checkEnrollmentToken(e, enrollmentToken);
      return { userId, methods };
    },

    async challenge(challengeToken, opts, req) {
      const plugin = pluginFor(e, opts.method);
      if (!plugin.challenge) throw new MfaError('invalid_request', `method "${plugin.type}" needs no challenge step`, { field: 'method' });
      const challenge = await liveChallenge(challengeToken);
      if (!challenge) return failure('challenge_expired');
      offeredMethod(challenge, plugin.type);
      const factors = (await activeFactors(e, challenge.userId)).filter((f) => f.type === plugin.type);
      const key = stateKey.login(challenge.id, plugin.type);
      const previous = await store.getFactorState(key);
      const step = await plugin.challenge(e.factors, {
        userId: challenge.userId, factors, purpose: 'login', ...(opts.factorId === undefined ? {} : { factorId: opts.factorId }), ...(req ? { req } : {}),
        previous: previous && previous.userId === challenge.userId
          ? { factorId: previous.factorId, secret: previous.secret, createdAt: previous.createdAt, expiresAt: previous.expiresAt, attempts: previous.attempts }
          : null,
      });
      // The state lives no longer than the login challenge it belongs to.
      await keepState(e, key, {
        type: plugin.type, purpose: 'login', userId: challenge.userId, factorId: step.factorId, secret: step.state.secret,
        ttlSeconds: step.state.ttlSeconds, notAfter: challenge.expiresAt,
      });
      return { ok: true, factorId: step.factorId, show: step.show };
    },

    async verify(challengeToken, input, req): Promise<LoginVerifyResult> {
      const plugin = pluginFor(e, input.method);
      if (input.trustDevice !== undefined && typeof input.trustDevice !== 'boolean') {
        throw new MfaError('invalid_request', 'trustDevice must be a boolean', { field: 'trustDevice' });
      }
      plugin.parseInput(input, []); // the shape, before anything is looked up
      const id = await challengeIdOf(challengeToken);
      const challenge = id ? await store.getChallenge(id) : null;
      if (!id || !challenge || challenge.expiresAt <= e.now()) return failure('challenge_expired');
      const userId = challenge.userId;
      offeredMethod(challenge, plugin.type);
      const factors = (await activeFactors(e, userId)).filter((f) => f.type === plugin.type);
      const parsed = plugin.parseInput(input, factors);

      let lostRace = false;
      const r = await limited<Verified>(e, userId, 'login', req, { factorType: plugin.type }, async () => {
        // Counted before evaluating, so parallel guesses cannot exceed the per-challenge limit.
        const n = await store.incrementChallengeAttempts(id);
        // Past the limit nothing is evaluated; the wrong attempt that reached it ended the challenge.
        if (n === null || n > o.challenge.maxAttempts) return { ok: false, reason: 'invalid_code', evaluated: false };
        const evaluation = await evaluate(e, plugin, {
          userId, factors, input: parsed, purpose: 'login', key: plugin.challenge ? stateKey.login(id, plugin.type) : null, statePurpose: 'login', ...(req ? { req } : {}),
        });
        if (!evaluation.ok) {
          if (n >= o.challenge.maxAttempts) await store.takeChallenge(id);
          return evaluation;
        }
        // Single use: of concurrent successes only the request that takes the challenge logs in,
        // and only it spends its code — one code per login, however many valid codes race.
        if (!(await store.takeChallenge(id))) {
          lostRace = true;
          return evaluation;
        }
        const committed = await evaluation.commit();
        if (!committed.ok) await restoreChallenge({ ...challenge, attempts: n });
        return committed;
      });
      if (!r.ok) return r;
      if (lostRace) return failure('challenge_expired');
      const { assertion, expiresIn } = await issueAssertion(e, userId, r.amr);
      const result: LoginSuccess = { ok: true, userId, amr: ['mfa', ...r.amr], assertion, expiresIn };
      e.emit({ type: 'mfa.verified', userId, ...(r.factorId ? { factorId: r.factorId } : {}), factorType: plugin.type, outcome: 'success', purpose: 'login' }, req);
      if (input.trustDevice === true) {
        const now = e.now();
        const token = randomToken(o.random, 32);
        const device = {
          id: randomId(o.random), userId, tokenHash: await hashToken(token), label: deviceLabelFromUserAgent(req?.userAgent),
          createdAt: now, lastSeenAt: now, expiresAt: now + o.trustedDevices.ttlSeconds * 1000,
        };
        await store.createTrustedDevice(device);
        e.emit({ type: 'device.trusted', userId, outcome: 'success', purpose: 'login' }, req);
        result.trustedDevice = { id: device.id, token, expiresAt: iso(device.expiresAt), maxAgeSeconds: o.trustedDevices.ttlSeconds };
      }
      return result;
    },
  };
}
