// packages/core/src/flows/enrolment.ts
// Adding a factor, in two steps through its plugin: `enroll` (begin: a pending factor, and what
// to show — a QR code, "code sent to …", security-key options) and `confirm` (finish: the factor
// becomes active). Fresh proof is needed while MFA is on, and is checked again when the factor
// becomes active; the first factor comes with recovery codes.
import type { EngineContext } from '../context';
import { randomId } from '../crypto';
import { MfaError } from '../errors';
import type { RequestContext } from '../events';
import type { EnrollFinish, FactorInput, FactorPlugin } from '../factor-plugin';
import type { FactorRecord } from '../store';
import type { ConfirmResult, FreshProof } from '../types';
import type { ProofFlow } from './fresh-proof';
import { accountNameOf, activeFactors, MAX_FACTORS_PER_USER, optionalLabel, proofAge, requireUserId, summary } from './shared';
import { checkEnrollmentToken } from './policy';
import { keepState, limited, loadState, stateKey } from './verification';

export interface EnrollOptions {
  /** The type's own setup fields: `{phone}` for SMS, `{email}` for email; none for an authenticator app. */
  input?: Record<string, unknown>;
  /** The user's name for this factor (default per type, e.g. "Authenticator app"). */
  label?: string;
  /** The account name shown in an authenticator (default: the user id). */
  accountName?: string;
  /** Fresh proof: required while MFA is already on. */
  proof?: FreshProof;
  /** The login's enrolment token (policy: MFA required, no usable factor): stands for the proof, for the types it allows. */
  enrollmentToken?: string;
}

/** A started enrolment: the pending factor's id and what to show the user (per type). */
export type Enrollment = { factorId: string } & Record<string, unknown>;

/** A started SMS or email enrolment: a code was sent to `sentTo` (masked). */
export interface CodeSentEnrollment {
  factorId: string;
  sentTo: string;
}

/**
 * Confirming a factor while MFA is already on needs fresh proof — checked when the factor
 * becomes active, not only when its setup started: either the setup itself was made with fresh
 * proof (within `enrollment.pendingTtlSeconds`), or `proof` is given here.
 */
export interface ConfirmOptions {
  proof?: FreshProof;
  maxAgeSeconds?: number;
  /** The login's enrolment token: the confirmation completes that login (the token is then spent). */
  enrollmentToken?: string;
  /** Only a pending factor of this type is confirmed (a type's own route); one of another type is `not_enrolled`. */
  type?: string;
}

export interface EnrolmentFlow {
  /** Starts an enrolment of a factor of `type`. With MFA already on, `proof` (fresh proof) is required. */
  enroll(userId: string, type: string, options?: EnrollOptions, req?: RequestContext): Promise<Enrollment>;
  /** Proves the pending factor (`{code}` or `{response}`) and activates it. */
  confirm(userId: string, factorId: string, input: FactorInput, req?: RequestContext, options?: ConfirmOptions): Promise<ConfirmResult>;
}

export function enrolmentFlow(e: EngineContext, proofs: ProofFlow): EnrolmentFlow {
  const { o, store } = e;

  function enrollable(type: unknown): FactorPlugin & Required<Pick<FactorPlugin, 'enroll'>> {
    const plugin = typeof type === 'string' ? e.registry.get(type) : undefined;
    if (!plugin?.enroll) {
      const types = e.registry.all.filter((p) => p.enroll).map((p) => p.type).join(', ');
      throw new MfaError('invalid_request', `type must be one of ${types}`, { field: 'type' });
    }
    return plugin as FactorPlugin & Required<Pick<FactorPlugin, 'enroll'>>;
  }

  /**
   * Adding a factor while MFA is on needs fresh proof (SEC-03, SMS-08). Returns the time to stamp
   * on the pending factor (`data.provenAt`): the proof is then checked again when it becomes
   * active. Null when MFA is off (nothing to prove yet).
   */
  async function proofForNewFactor(userId: string, proof: FreshProof | undefined, req: RequestContext | undefined): Promise<number | null> {
    if ((await activeFactors(e, userId)).length === 0) return null;
    if (proof === undefined) throw new MfaError('mfa_required', 'Adding a factor while two-step verification is on needs fresh proof');
    const p = await proofs.checkProof(userId, proof, {}, req);
    if (!p.ok) throw new MfaError(p.reason === 'too_many_attempts' ? 'too_many_attempts' : 'invalid_code', 'The proof was not accepted', p.retryAfter === undefined ? {} : { retryAfter: p.retryAfter });
    return e.now();
  }

  /** Drops earlier pending setups of this type (and expired ones of any type); enforces the factor cap. */
  async function pruneAndCount(userId: string, type: string): Promise<FactorRecord[]> {
    const all = await store.listFactors(userId);
    const expiredBefore = e.now() - o.enrollment.pendingTtlSeconds * 1000;
    const kept: FactorRecord[] = [];
    for (const f of all) {
      if (f.status === 'pending' && (f.createdAt < expiredBefore || f.type === type)) await store.deleteFactor(userId, f.id);
      else kept.push(f);
    }
    if (kept.filter((f) => f.status === 'active').length >= MAX_FACTORS_PER_USER) {
      throw new MfaError('invalid_request', `A user can have at most ${MAX_FACTORS_PER_USER} factors`, { field: 'factor' });
    }
    return kept;
  }

  return {
    async enroll(userId, type, opts = {}, req) {
      requireUserId(userId);
      const plugin = enrollable(type);
      const label = optionalLabel(opts.label);
      const accountName = accountNameOf(opts.accountName, userId);
      // Checked before the proof, so a typo does not burn the user's current code.
      const input = plugin.enroll.parse(e.factors, opts.input ?? {});
      // An enrolment token stands for the proof (the login's password check, under the policy).
      if (opts.enrollmentToken !== undefined) await tokenFor(opts.enrollmentToken, userId, plugin.type);
      const provenAt = opts.enrollmentToken === undefined ? await proofForNewFactor(userId, opts.proof, req) : e.now();
      const existing = (await pruneAndCount(userId, plugin.type)).filter((f) => f.status === 'active' && f.type === plugin.type);
      const id = randomId(o.random);
      const begun = await plugin.enroll.begin(e.factors, { userId, factorId: id, input, accountName, existing, ...(req ? { req } : {}) });
      const now = e.now();
      await store.createFactor({
        id, userId, type: plugin.type, label: label ?? begun.label, status: 'pending',
        secret: begun.secret === undefined ? null : await e.box.seal(begun.secret, `${userId}:${id}`),
        data: { ...begun.data, ...(provenAt === null ? {} : { provenAt }) }, counter: null, lookupKey: null,
        createdAt: now, confirmedAt: null, lastUsedAt: null,
      });
      if (begun.state) {
        await keepState(e, stateKey.enroll(id), { type: plugin.type, purpose: 'enroll', userId, factorId: id, secret: begun.state.secret, ttlSeconds: begun.state.ttlSeconds });
      }
      e.emit({ type: 'factor.enrolled', userId, factorId: id, factorType: plugin.type, outcome: 'success', purpose: 'enroll' }, req);
      // Not a spread: that would read a lazy field (the TOTP QR code) that nobody may ask for.
      return Object.defineProperties({}, {
        ...Object.getOwnPropertyDescriptors(begun.show),
        factorId: { value: id, enumerable: true, writable: true, configurable: true },
      }) as Enrollment;
    },

    async confirm(userId, factorId, input, req, opts = {}) {
      requireUserId(userId);
      if (typeof factorId !== 'string' || factorId.length === 0 || factorId.length > 128) {
        throw new MfaError('invalid_request', 'factorId must be a string', { field: 'factorId' });
      }
      const factor = await store.getFactor(userId, factorId);
      const plugin = factor ? e.registry.get(factor.type) : undefined;
      const steps = plugin?.enroll;
      if (!factor || !plugin || !steps || (opts.type !== undefined && factor.type !== opts.type)) throw new MfaError('not_enrolled', 'No such factor');
      if (factor.status === 'active') throw new MfaError('already_enrolled', 'This factor is already confirmed');
      if (e.now() - factor.createdAt > o.enrollment.pendingTtlSeconds * 1000) {
        await store.deleteFactor(userId, factor.id);
        throw new MfaError('not_enrolled', 'This setup has expired; start it again');
      }
      const parsed = plugin.parseInput(input ?? {}, [factor]);
      const token = opts.enrollmentToken === undefined ? undefined : await tokenFor(opts.enrollmentToken, userId, plugin.type);
      // Fresh proof is checked when the factor becomes active: a setup started while MFA was off
      // (or by someone holding an old session) cannot be confirmed later without it.
      if (!token && (await activeFactors(e, userId)).length > 0 && typeof factor.data.provenAt !== 'number') {
        if (opts.proof === undefined) throw new MfaError('mfa_required', 'Confirming a factor while two-step verification is on needs fresh proof');
        const p = await proofs.checkProof(userId, opts.proof, { maxAgeSeconds: proofAge(opts) }, req);
        if (!p.ok) return p;
      }
      const key = stateKey.enroll(factor.id);
      const result = await limited<EnrollFinish>(e, userId, 'enroll', req, { factorId: factor.id, factorType: plugin.type }, async () => {
        const loaded = await loadState(e, key, { plugin, purpose: 'enroll', userId });
        if (loaded.exhausted) return { ok: false as const, reason: 'invalid_code' as const, evaluated: false as const };
        const finished = await steps.finish(e.factors, { userId, factor, input: parsed, state: loaded.state, ...(req ? { req } : {}) });
        if (!finished.ok) {
          if (loaded.lastAllowed) await store.deleteFactorState(key);
          return { ok: false as const, reason: finished.reason };
        }
        if (loaded.state && !(await store.consumeFactorState(key, loaded.state.secret))) return { ok: false as const, reason: 'invalid_code' as const };
        return finished;
      });
      if (!result.ok) return result;
      const confirmed = await activate(userId, factor, plugin, result, req);
      // The enrolment completes the login it was required for, once: the token is spent.
      if (token && confirmed.ok && (await store.takeChallenge(token.id))) return { ...confirmed, enrollmentCompleted: true };
      return confirmed;
    },
  };

  /** A live enrolment token of this user that allows `type`. */
  async function tokenFor(token: string, userId: string, type: string) {
    const t = await checkEnrollmentToken(e, token);
    if (t.userId !== userId) throw new MfaError('challenge_expired', 'The enrolment token is not valid (expired or already used); sign in again');
    if (!t.methods.includes(type)) throw new MfaError('invalid_request', `This sign-in may only set up ${t.methods.join(', ')}`, { field: 'method' });
    return t;
  }

  async function activate(userId: string, factor: FactorRecord, plugin: FactorPlugin, finished: EnrollFinish, req?: RequestContext): Promise<ConfirmResult> {
    const firstFactor = (await activeFactors(e, userId)).length === 0;
    const activated = await store.activateFactor(userId, factor.id, {
      confirmedAt: e.now(), counter: finished.counter,
      ...(finished.data ? { data: finished.data } : {}), ...(finished.lookupKey === undefined ? {} : { lookupKey: finished.lookupKey }),
    });
    if (!activated) {
      const now = await store.getFactor(userId, factor.id);
      if (now?.status === 'pending') {
        // Another factor of this type (of any user) holds the same identifier: one owner only.
        await store.deleteFactor(userId, factor.id);
        throw new MfaError('already_enrolled', 'This authenticator is already registered');
      }
      throw new MfaError('already_enrolled', 'This factor is already confirmed');
    }
    // Any other setup still pending was started before this change of protection: drop it.
    for (const f of await store.listFactors(userId)) {
      if (f.status === 'pending' && f.id !== factor.id) await store.deleteFactor(userId, f.id);
    }
    e.emit({ type: 'factor.confirmed', userId, factorId: factor.id, factorType: plugin.type, outcome: 'success', purpose: 'enroll' }, req);
    const active = (await store.getFactor(userId, factor.id))!;
    const amr = finished.amr ?? [];
    const recovery = e.registry.recovery;
    if (!firstFactor || !recovery) return { ok: true, factor: summary(e, active), amr };
    // The first factor comes with recovery codes (shown once).
    const backupCodes = await recovery.recovery.issue(e.factors, { userId, ...(req ? { req } : {}) });
    e.emit({ type: 'backup_codes.regenerated', userId, outcome: 'success', purpose: 'enroll' }, req);
    return { ok: true, factor: summary(e, active), amr, backupCodes };
  }
}
