// packages/core/src/attempts.ts
// The per-user consecutive-failure limit, shared by every factor and challenge:
// from the Nth failure an exponential backoff (30 s doubling, capped), at the lock threshold
// verification is locked until the host unlocks. Time alone never resets the count.
//
// Each verification *reserves* an attempt before the code is evaluated (compare-and-set on the
// stored state), so N concurrent wrong codes cannot overrun the limit; a success resets it.
import { MfaError } from './errors';
import type { ResolvedOptions } from './options';
import type { AttemptState, EphemeralStore } from './store';

export type Reservation =
  | { ok: true; failures: number; lockedNow: boolean }
  | { ok: false; retryAfter: number; locked: boolean };

const MAX_CAS_ROUNDS = 64;

export function backoffSeconds(failures: number, limits: ResolvedOptions['limits']): number {
  if (failures < limits.backoffAfterFailures) return 0;
  const doublings = Math.min(30, failures - limits.backoffAfterFailures);
  return Math.min(limits.backoffMaxSeconds, limits.backoffBaseSeconds * 2 ** doublings);
}

export function createAttemptLimiter(store: EphemeralStore, limits: ResolvedOptions['limits']) {
  async function update(
    userId: string,
    decide: (current: AttemptState | null) => { next: Omit<AttemptState, 'version'> | null; result: Reservation },
  ): Promise<Reservation> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = await store.getAttemptState(userId);
      const { next, result } = decide(current);
      if (next === null) return result;
      if (await store.compareAndSetAttemptState(userId, current?.version ?? null, next)) return result;
    }
    throw new MfaError('store_unavailable', 'Attempt state is under heavy contention; try again');
  }

  return {
    /** Counts one attempt as a failure up front; refuses when backing off or locked. */
    reserve(userId: string, nowMs: number): Promise<Reservation> {
      return update(userId, (current) => {
        const failures = current?.failures ?? 0;
        if (current?.locked) return { next: null, result: { ok: false, retryAfter: 3600, locked: true } };
        if (current && current.blockedUntil > nowMs) {
          return { next: null, result: { ok: false, retryAfter: Math.ceil((current.blockedUntil - nowMs) / 1000), locked: false } };
        }
        const nextFailures = failures + 1;
        const locked = nextFailures >= limits.lockAfterFailures;
        const wait = backoffSeconds(nextFailures, limits);
        return {
          next: { failures: nextFailures, blockedUntil: wait > 0 ? nowMs + wait * 1000 : 0, locked },
          result: { ok: true, failures: nextFailures, lockedNow: locked },
        };
      });
    },
    /** A successful verification: the consecutive count starts again. */
    async succeed(userId: string): Promise<void> {
      await update(userId, (current) => ({
        next: current && (current.failures > 0 || current.blockedUntil > 0) ? { failures: 0, blockedUntil: 0, locked: false } : null,
        result: { ok: true, failures: 0, lockedNow: false },
      }));
    },
    /** The host's unlock after the lock threshold. */
    async unlock(userId: string): Promise<void> {
      await update(userId, (current) => ({
        next: current ? { failures: 0, blockedUntil: 0, locked: false } : null,
        result: { ok: true, failures: 0, lockedNow: false },
      }));
    },
    async state(userId: string): Promise<AttemptState | null> {
      return store.getAttemptState(userId);
    },
  };
}

export type AttemptLimiter = ReturnType<typeof createAttemptLimiter>;
