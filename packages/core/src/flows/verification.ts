// packages/core/src/flows/verification.ts
// How every flow verifies a factor: under the attempt limits, with the plugin's state loaded
// and counted, and spent atomically — the state consumed, the factor's counter advanced only if
// greater, the plugin's own spend — after the flow decided this request may win.
import type { EngineContext } from '../context';
import type { RequestContext } from '../events';
import type { FactorPlugin, PluginState, VerifyPurpose } from '../factor-plugin';
import type { FactorRecord } from '../store';
import type { Failure } from '../types';
import { failure } from './shared';

/** A failure; `evaluated: false` when it was refused before anything was evaluated (a limit was reached). */
export type FailedOutcome = { ok: false; reason: 'invalid_code' | 'replayed'; evaluated?: false };
export type Verified = { ok: true; amr: string[]; factorId: string | null };

/** A decision not yet spent: `commit` spends it and says whether this caller won. */
export type Evaluation = FailedOutcome | (Verified & { commit(): Promise<Verified | FailedOutcome> });

/** Where the state of a verification is kept: bound to one login challenge, one pending factor or one user. */
export const stateKey = {
  login: (challengeId: string, type: string) => `login:${challengeId}:${type}`,
  enroll: (factorId: string) => `enroll:${factorId}`,
  user: (userId: string, type: string) => `user:${userId}:${type}`,
};

/**
 * Runs `verify` under the attempt limits: the per-IP budget across accounts (RL-05), then the
 * per-user-and-client backoff and the per-user lock; events, and reset on success. The IP
 * budget counts evaluated failures only — never successes, never requests a user's backoff or
 * lock refused — so one account in backoff cannot spend the budget of everyone behind its IP.
 */
export async function limited<T extends { ok: true }>(
  e: EngineContext,
  userId: string,
  purpose: string,
  req: RequestContext | undefined,
  meta: { factorId?: string; factorType?: string },
  verify: () => Promise<T | FailedOutcome>,
): Promise<T | Failure> {
  const { o, store } = e;
  const ip = req?.ip;
  const windowMs = o.limits.ipWindowSeconds * 1000;
  const now = e.now();
  const slot = Math.floor(now / windowMs);
  const ipKey = `verify:ip:${ip}:${slot}`;
  if (ip && (await store.getCounter(ipKey)) >= o.limits.perIpPerWindow) {
    e.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: 'ip_rate_limited', purpose }, req);
    return failure('too_many_attempts', Math.max(1, Math.ceil(((slot + 1) * windowMs - now) / 1000)));
  }
  const reservation = await e.limiter.reserve(userId, ip ?? '', now);
  if (!reservation.ok) {
    e.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: 'too_many_attempts', purpose }, req);
    return failure('too_many_attempts', reservation.retryAfter);
  }
  let outcome: T | FailedOutcome;
  try {
    outcome = await verify();
  } catch (error) {
    // Never evaluated (bad input the verifier found late, an outage): the attempt is given back.
    await e.limiter.release(userId, reservation.held).catch(() => {});
    throw error;
  }
  if (outcome.ok) {
    await e.limiter.succeed(userId, reservation.held);
    return outcome;
  }
  const evaluated = outcome.evaluated !== false;
  if (ip && evaluated) await store.incrementCounter(ipKey, o.limits.ipWindowSeconds + 60);
  e.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: evaluated ? outcome.reason : 'challenge_attempts_exhausted', purpose }, req);
  if (reservation.lockedNow) e.emit({ type: 'mfa.locked', userId, outcome: 'failure', reason: 'too_many_attempts', purpose }, req);
  return failure('invalid_code');
}

type LoadedState = { state: PluginState | null; exhausted: boolean; lastAllowed: boolean };

/**
 * The state kept under `key` for this type, purpose and user, with this attempt counted against
 * it (before anything is evaluated, so parallel guesses cannot exceed the limit). Anything else
 * under the key — expired, of another type, purpose or user — is no state at all.
 */
export async function loadState(e: EngineContext, key: string, expect: { plugin: FactorPlugin; purpose: string; userId: string }): Promise<LoadedState> {
  const max = Math.min(expect.plugin.maxAttempts ?? Number.POSITIVE_INFINITY, e.o.challenge.maxAttempts);
  const record = await e.store.getFactorState(key);
  if (!record || record.expiresAt <= e.now() || record.type !== expect.plugin.type || record.purpose !== expect.purpose || record.userId !== expect.userId) {
    return { state: null, exhausted: false, lastAllowed: false };
  }
  const n = await e.store.incrementFactorStateAttempts(key);
  // Past the limit nothing is evaluated; the wrong attempt that reached it already deleted the state.
  if (n === null || n > max) return { state: null, exhausted: true, lastAllowed: false };
  const { factorId, secret, createdAt, expiresAt } = record;
  return { state: { factorId, secret, createdAt, expiresAt, attempts: n }, exhausted: false, lastAllowed: n >= max };
}

/** Keeps a plugin's state under `key` until `ttlSeconds` (never past `notAfter`). */
export async function keepState(
  e: EngineContext,
  key: string,
  args: { type: string; purpose: string; userId: string; factorId: string | null; secret: string; ttlSeconds: number; notAfter?: number },
): Promise<void> {
  const now = e.now();
  const expiresAt = Math.min(now + args.ttlSeconds * 1000, args.notAfter ?? Number.POSITIVE_INFINITY);
  await e.store.putFactorState(key, {
    type: args.type, purpose: args.purpose, userId: args.userId, factorId: args.factorId, secret: args.secret,
    createdAt: now, expiresAt, attempts: 0,
  }, Math.ceil((expiresAt - now) / 1000) + 60);
}

/**
 * Asks `plugin` to verify `input` for `userId` (state under `key`, if the plugin keeps any),
 * without spending anything. The returned `commit` spends atomically: the state is consumed, the
 * factor's counter advanced only if greater (or its last use recorded), the plugin's own spend run.
 */
export async function evaluate(
  e: EngineContext,
  plugin: FactorPlugin,
  args: { userId: string; factors: FactorRecord[]; input: unknown; purpose: VerifyPurpose; key: string | null; statePurpose: string; req?: RequestContext },
): Promise<Evaluation> {
  const { userId, req, purpose, key } = args;
  const loaded: LoadedState = key ? await loadState(e, key, { plugin, purpose: args.statePurpose, userId }) : { state: null, exhausted: false, lastAllowed: false };
  if (loaded.exhausted) return { ok: false, reason: 'invalid_code', evaluated: false };
  const r = await plugin.verify(e.factors, { userId, factors: args.factors, input: args.input, state: loaded.state, purpose, ...(req ? { req } : {}) });
  if (!r.ok) {
    if (r.warning) e.emit({ type: r.warning, userId, ...(r.factorId ? { factorId: r.factorId } : {}), factorType: plugin.type, outcome: 'failure', reason: r.reason, purpose }, req);
    if (key && loaded.lastAllowed) await e.store.deleteFactorState(key);
    return { ok: false, reason: r.reason };
  }
  const verified: Verified = { ok: true, amr: r.amr, factorId: r.factorId };
  return {
    ...verified,
    async commit() {
      const { state } = loaded;
      if (key && state && !(await e.store.consumeFactorState(key, state.secret))) return { ok: false, reason: 'invalid_code' };
      if (r.factorId !== null) {
        const now = e.now();
        if (r.counter === undefined) {
          await e.store.touchFactor(userId, r.factorId, now);
        } else if (!(await e.store.advanceFactorCounter(userId, r.factorId, r.counter, now))) {
          // The atomic compare-and-set: of concurrent requests with this counter value, one wins.
          e.emit({ type: `${plugin.type}.replay_rejected`, userId, factorId: r.factorId, factorType: plugin.type, outcome: 'failure', reason: 'replayed', purpose }, req);
          return { ok: false, reason: 'replayed' };
        }
      }
      if (r.spend && !(await r.spend())) return { ok: false, reason: 'invalid_code' };
      return verified;
    },
  };
}

/** Evaluates and commits at once (step-up, fresh proof: no challenge to take first). */
export async function evaluateAndCommit(evaluation: Evaluation): Promise<Verified | FailedOutcome> {
  return evaluation.ok ? evaluation.commit() : evaluation;
}
