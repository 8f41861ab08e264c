// packages/core/src/flows/fresh-proof.ts
// Proof by a signed-in user — for a step-up (a fresh assertion) and for changes that weaken
// protection (fresh proof): a factor (`{method, code}`, `{method, response}`, or a bare `{code}`
// tried against the user's code factors that need no challenge step), a recent assertion of the
// same user, or — where the host opted in — the host's password check. Every attempt counts.
import type { EngineContext } from '../context';
import { MfaError } from '../errors';
import type { RequestContext } from '../events';
import type { FactorInput, FactorPlugin } from '../factor-plugin';
import { passwordCheckOf } from '../password-proof';
import type { FactorRecord } from '../store';
import type { FreshProof, LoginVerifyResult, ProofResult } from '../types';
import { activeFactors, failure, issueAssertion, MAX_PROOF_AGE_SECONDS, pluginFor, requireUserId } from './shared';
import { evaluate, evaluateAndCommit, keepState, limited, stateKey, type Verified } from './verification';

export interface StepUpFlow {
  /** A factor's step before a step-up or fresh proof (send a code, security-key request options), bound to this user. */
  challenge(userId: string, options: { method: unknown; factorId?: string }, req?: RequestContext): Promise<{ ok: true; factorId: string | null; show: Record<string, unknown> }>;
  /** Verifies the signed-in user again: a fresh assertion. */
  verify(userId: string, input: FactorInput & { method?: unknown }, req?: RequestContext): Promise<LoginVerifyResult>;
}

export interface ProofFlow {
  checkProof(userId: string, proof: FreshProof, opts?: { allowPassword?: boolean; maxAgeSeconds?: number }, req?: RequestContext): Promise<ProofResult>;
  stepUp: StepUpFlow;
}

export function proofFlow(e: EngineContext): ProofFlow {
  /** The plugin a signed-in user's proof is for: the named method, or the code factor whose format the bare code has. */
  function pluginOf(input: FactorInput & { method?: unknown }, factors: FactorRecord[], offered: FactorPlugin[]): FactorPlugin {
    if (input.response !== undefined && input.method === undefined) {
      throw new MfaError('invalid_request', 'method is required with a response: the factor type that produced it', { field: 'method' });
    }
    if (input.method !== undefined) {
      const plugin = pluginFor(e, input.method);
      if (!offered.includes(plugin)) throw new MfaError('invalid_request', `method "${plugin.type}" is not set up for this user`, { field: 'method' });
      return plugin;
    }
    let first: unknown;
    for (const p of offered) {
      if (p.input !== 'code' || p.challenge) continue;
      try {
        p.parseInput(input, factors.filter((f) => f.type === p.type));
        return p;
      } catch (error) {
        first ??= error;
      }
    }
    throw first ?? new MfaError('invalid_request', 'method is required for this proof', { field: 'method' });
  }

  async function offeredTo(userId: string, factors: FactorRecord[]): Promise<FactorPlugin[]> {
    const offered: FactorPlugin[] = [];
    for (const p of e.registry.all) {
      const own = factors.filter((f) => f.type === p.type);
      if (p.offered ? await p.offered(e.factors, { userId, factors: own }) : own.length > 0) offered.push(p);
    }
    return offered;
  }

  async function verifyFactor(userId: string, input: FactorInput & { method?: unknown }, purpose: 'step_up' | 'management', req?: RequestContext): Promise<ProofResult & { factorId?: string | null; factorType?: string }> {
    if (!input || typeof input !== 'object') throw new MfaError('invalid_request', 'code is required', { field: 'code' });
    if (input.code !== undefined && (typeof input.code !== 'string' || input.code.length > 64)) throw new MfaError('invalid_request', 'code must be a string', { field: 'code' });
    const all = await activeFactors(e, userId);
    if (all.length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
    const plugin = pluginOf(input, all, await offeredTo(userId, all));
    const factors = all.filter((f) => f.type === plugin.type);
    const parsed = plugin.parseInput(input, factors);
    const r = await limited<Verified>(e, userId, purpose, req, { factorType: plugin.type }, async () =>
      evaluateAndCommit(await evaluate(e, plugin, {
        userId, factors, input: parsed, purpose, key: plugin.challenge ? stateKey.user(userId, plugin.type) : null, statePurpose: 'step_up', ...(req ? { req } : {}),
      })));
    return r.ok ? { ok: true, amr: r.amr, factorId: r.factorId, factorType: plugin.type } : r;
  }

  async function checkProof(userId: string, proof: FreshProof, opts: { allowPassword?: boolean; maxAgeSeconds?: number } = {}, req?: RequestContext): Promise<ProofResult> {
    requireUserId(userId);
    if (!proof || typeof proof !== 'object') throw new MfaError('invalid_request', 'Fresh proof is required: a current code', { field: 'code' });
    const passwordCheck = passwordCheckOf(proof);
    if (passwordCheck) {
      if (!opts.allowPassword) throw new MfaError('invalid_request', 'A current code is required for this operation', { field: 'code' });
      // Counted like a code: a wrong password is a failed attempt, and nothing passes while locked.
      const r = await limited(e, userId, 'management', req, { factorType: 'password' }, async () =>
        ((await passwordCheck()) === true ? { ok: true as const } : { ok: false as const, reason: 'invalid_code' as const }));
      return r.ok ? { ok: true, amr: ['pwd'] } : r;
    }
    if ('assertion' in proof && proof.assertion !== undefined) {
      const r = await e.signer.verify(String(proof.assertion), e.now(), Math.min(opts.maxAgeSeconds ?? MAX_PROOF_AGE_SECONDS, MAX_PROOF_AGE_SECONDS));
      if (r.ok && r.claims.userId === userId) return { ok: true, amr: r.claims.amr };
      e.emit({ type: 'mfa.failed', userId, outcome: 'failure', reason: 'invalid_assertion', purpose: 'management' }, req);
      return failure('invalid_code');
    }
    if (!('code' in proof) && !('response' in proof)) throw new MfaError('invalid_request', 'Fresh proof is required: a current code', { field: 'code' });
    const r = await verifyFactor(userId, proof as FactorInput & { method?: unknown }, 'management', req);
    return r.ok ? { ok: true, amr: r.amr } : r;
  }

  const stepUp: StepUpFlow = {
    async challenge(userId, opts, req) {
      requireUserId(userId);
      const plugin = pluginFor(e, opts.method);
      if (!plugin.challenge) throw new MfaError('invalid_request', `method "${plugin.type}" needs no challenge step`, { field: 'method' });
      const factors = (await activeFactors(e, userId)).filter((f) => f.type === plugin.type);
      if (factors.length === 0) throw new MfaError('not_enrolled', `No ${plugin.type} factor is set up`);
      const key = stateKey.user(userId, plugin.type);
      const previous = await e.store.getFactorState(key);
      const step = await plugin.challenge(e.factors, {
        userId, factors, purpose: 'step_up', ...(opts.factorId === undefined ? {} : { factorId: opts.factorId }), ...(req ? { req } : {}),
        previous: previous && previous.userId === userId
          ? { factorId: previous.factorId, secret: previous.secret, createdAt: previous.createdAt, expiresAt: previous.expiresAt, attempts: previous.attempts }
          : null,
      });
      await keepState(e, key, { type: plugin.type, purpose: 'step_up', userId, factorId: step.factorId, secret: step.state.secret, ttlSeconds: step.state.ttlSeconds });
      return { ok: true, factorId: step.factorId, show: step.show };
    },
    async verify(userId, input, req) {
      requireUserId(userId);
      const r = await verifyFactor(userId, input, 'step_up', req);
      if (!r.ok) return r;
      const { assertion, expiresIn } = await issueAssertion(e, userId, r.amr);
      e.emit({ type: 'mfa.verified', userId, ...(r.factorId ? { factorId: r.factorId } : {}), factorType: r.factorType, outcome: 'success', purpose: 'step_up' }, req);
      return { ok: true as const, userId, amr: ['mfa', ...r.amr], assertion, expiresIn };
    },
  };

  return { checkProof, stepUp };
}
