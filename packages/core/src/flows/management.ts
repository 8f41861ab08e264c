// packages/core/src/flows/management.ts
// A signed-in user's MFA settings: status, the factor list, removing a factor, recovery codes,
// turning MFA off — the changes that weaken protection need fresh proof in the same call.
import type { EngineContext } from '../context';
import { MfaError } from '../errors';
import type { RequestContext } from '../events';
import type { Failure, FactorSummary, FreshProof, MfaStatus } from '../types';
import type { ProofFlow } from './fresh-proof';
import { activeFactors, proofAge, requireUserId, summary } from './shared';

/** How fresh an assertion given as proof must be (seconds, at most and by default 300). */
export interface ProofOptions {
  maxAgeSeconds?: number;
}

export interface ManagementFlow {
  status(userId: string): Promise<MfaStatus>;
  backupCodes: {
    /** A new set of recovery codes (the old one stops working), with fresh proof. */
    regenerate(userId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions): Promise<{ ok: true; backupCodes: string[] } | Failure>;
    remaining(userId: string): Promise<number>;
  };
  factors: {
    list(userId: string): Promise<FactorSummary[]>;
    /** Removes a factor with fresh proof; removing the last one turns MFA off. */
    remove(userId: string, factorId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions): Promise<{ ok: true; mfaDisabled: boolean } | Failure>;
  };
  /** Turns MFA off. Needs a second factor; a `passwordProof()` only with `allowPassword` (the host's opt-in). */
  disable(userId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions & { allowPassword?: boolean }): Promise<{ ok: true } | Failure>;
}

export function managementFlow(e: EngineContext, proofs: ProofFlow): ManagementFlow {
  const { store } = e;
  const remaining = async (userId: string) => (e.registry.recovery ? e.registry.recovery.recovery.remaining(e.factors, { userId }) : 0);

  async function disableAll(userId: string, req?: RequestContext) {
    await store.deleteFactors(userId);
    await store.deleteBackupCodes(userId);
    const revoked = await store.deleteTrustedDevices(userId);
    if (revoked > 0) e.emit({ type: 'device.revoked', userId, outcome: 'success', reason: 'mfa_disabled', purpose: 'management' }, req);
    e.emit({ type: 'mfa.disabled', userId, outcome: 'success', purpose: 'management' }, req);
  }

  return {
    async status(userId) {
      requireUserId(userId);
      const [factors, codes, devices, attempts] = await Promise.all([
        activeFactors(e, userId), remaining(userId), store.listTrustedDevices(userId), store.getAttemptState(userId),
      ]);
      const now = e.now();
      return {
        enabled: factors.length > 0,
        factors: factors.map((f) => summary(e, f)),
        backupCodesRemaining: factors.length > 0 ? codes : 0,
        trustedDevices: devices.filter((d) => d.expiresAt > now).length,
        locked: attempts?.locked ?? false,
      };
    },

    backupCodes: {
      async regenerate(userId, proof, req, opts = {}) {
        const recovery = e.registry.recovery;
        if (!recovery) throw new MfaError('invalid_request', 'Recovery codes are not configured on this server (add backupCodes() to factors)', { field: 'method' });
        const p = await proofs.checkProof(userId, proof, { maxAgeSeconds: proofAge(opts) }, req);
        if (!p.ok) return p;
        if ((await activeFactors(e, userId)).length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
        const backupCodes = await recovery.recovery.issue(e.factors, { userId, ...(req ? { req } : {}) });
        e.emit({ type: 'backup_codes.regenerated', userId, outcome: 'success', purpose: 'management' }, req);
        return { ok: true as const, backupCodes };
      },
      remaining: (userId) => remaining(requireUserId(userId)),
    },

    factors: {
      list: async (userId) => (await activeFactors(e, requireUserId(userId))).map((f) => summary(e, f)),
      async remove(userId, factorId, proof, req, opts = {}) {
        requireUserId(userId);
        if (typeof factorId !== 'string' || factorId.length === 0 || factorId.length > 128) {
          throw new MfaError('invalid_request', 'factorId must be a string', { field: 'factorId' });
        }
        const factor = await store.getFactor(userId, factorId);
        if (!factor) throw new MfaError('not_enrolled', 'No such factor');
        const p = await proofs.checkProof(userId, proof, { maxAgeSeconds: proofAge(opts) }, req);
        if (!p.ok) return p;
        if (!(await store.deleteFactor(userId, factor.id))) throw new MfaError('not_enrolled', 'No such factor');
        e.emit({ type: 'factor.removed', userId, factorId: factor.id, factorType: factor.type, outcome: 'success', purpose: 'management' }, req);
        const revoked = await store.deleteTrustedDevices(userId);
        if (revoked > 0) e.emit({ type: 'device.revoked', userId, outcome: 'success', reason: 'factor_removed', purpose: 'management' }, req);
        if ((await activeFactors(e, userId)).length === 0) {
          await disableAll(userId, req);
          return { ok: true as const, mfaDisabled: true };
        }
        return { ok: true as const, mfaDisabled: false };
      },
    },

    async disable(userId, proof, req, opts = {}) {
      requireUserId(userId);
      if ((await activeFactors(e, userId)).length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
      const p = await proofs.checkProof(userId, proof, { allowPassword: opts.allowPassword === true, maxAgeSeconds: proofAge(opts) }, req);
      if (!p.ok) return p;
      await disableAll(userId, req);
      return { ok: true as const };
    },
  };
}
