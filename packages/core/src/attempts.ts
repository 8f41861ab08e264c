// packages/core/src/attempts.ts
// The consecutive-failure limits, shared by every factor and challenge:
// - per user AND client (the request's IP): from the Nth failure an exponential backoff (30 s
//   doubling, capped). A failure streak from one client never delays the same user on another,
//   so someone who has the password cannot keep the real user out by failing on purpose.
// - per user, across clients: at the lock threshold (NIST 800-63B: 100) verification is locked
//   until the host unlocks. Time alone never resets either count.
//
// Each verification *reserves* an attempt before the code is evaluated (compare-and-set on the
// stored state), so N concurrent wrong codes cannot overrun the limits; a success resets both.
//
// The per-user state has no backoff of its own, so its `blockedUntil` holds the time of the host's
// last unlock or reset instead: the per-client states are keyed by it, so an unlock or a reset
// also ends every client's backoff at once (client keys cannot be listed: they are hashes).
import { MfaError } from './errors';
import type { ResolvedOptions } from './options';
import type { AttemptState, EphemeralStore } from './store';

export type Reservation =
  | { ok: true; failures: number; lockedNow: boolean; held: Held }
  | { ok: false; retryAfter: number; locked: boolean };

/** The states a reservation wrote (key and version), so a success can clear them without reading. */
export interface Held {
  clientKey: string;
  clientVersion: number;
  userVersion: number;
  /** The user's unlock time the client key was derived from. */
  epoch: number;
  /** The states before this reservation (null: none), so an attempt that was never evaluated can be given back. */
  clientBefore: Next | null;
  userBefore: Next | null;
}

const MAX_CAS_ROUNDS = 64;
/** How long a locked user is told to wait: the lock only ends by the host's unlock. */
const LOCKED_RETRY_AFTER = 3600;

export function backoffSeconds(failures: number, limits: ResolvedOptions['limits']): number {
  if (failures < limits.backoffAfterFailures) return 0;
  const doublings = Math.min(30, failures - limits.backoffAfterFailures);
  return Math.min(limits.backoffMaxSeconds, limits.backoffBaseSeconds * 2 ** doublings);
}

type Next = Omit<AttemptState, 'version'>;
const CLEAR: Next = { failures: 0, blockedUntil: 0, locked: false };
/** A user's state with no failures, keeping its unlock time. */
const clearUser = (epoch: number): Next => ({ failures: 0, blockedUntil: epoch, locked: false });

export function createAttemptLimiter(store: EphemeralStore, limits: ResolvedOptions['limits'], clientKey: (userId: string, client: string) => Promise<string>) {
  /**
   * Compare-and-set loop on one state: `decide` returns the next state, or null to leave it.
   * `known` is a state already read, used for the first round. Returns the version written.
   */
  async function update<R>(
    key: string,
    decide: (current: AttemptState | null) => { next: Next | null; result: R },
    known?: AttemptState | null,
  ): Promise<{ result: R; version: number | null }> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = round === 0 && known !== undefined ? known : await store.getAttemptState(key);
      const { next, result } = decide(current);
      if (next === null) return { result, version: null };
      const expected = current?.version ?? null;
      if (await store.compareAndSetAttemptState(key, expected, next)) return { result, version: (expected ?? 0) + 1 };
    }
    throw new MfaError('store_unavailable', 'Attempt state is under heavy contention; try again');
  }

  const clear = (key: string) => update(key, (current) => ({
    next: current && (current.failures > 0 || current.blockedUntil > 0 || current.locked) ? CLEAR : null,
    result: undefined,
  }));

  return {
    /**
     * Counts one attempt as a failure up front, for the user and for this client; refuses
     * (counting nothing) when the user is locked or this client of the user is backing off.
     */
    async reserve(userId: string, client: string, nowMs: number): Promise<Reservation> {
      const user = await store.getAttemptState(userId);
      if (user?.locked) return { ok: false, retryAfter: LOCKED_RETRY_AFTER, locked: true };
      const epoch = user?.blockedUntil ?? 0;
      const ck = await clientKey(userId, epoch === 0 ? client : `${client}\u0000${epoch}`);
      let clientBefore: Next | null = null;
      let userBefore: Next | null = null;
      const backoff = await update(ck, (current): { next: Next | null; result: Reservation | null } => {
        clientBefore = current && { failures: current.failures, blockedUntil: current.blockedUntil, locked: current.locked };
        if (current && current.blockedUntil > nowMs) {
          return { next: null, result: { ok: false, retryAfter: Math.ceil((current.blockedUntil - nowMs) / 1000), locked: false } };
        }
        const failures = (current?.failures ?? 0) + 1;
        const wait = backoffSeconds(failures, limits);
        return { next: { failures, blockedUntil: wait > 0 ? nowMs + wait * 1000 : 0, locked: false }, result: null };
      });
      if (backoff.result) return backoff.result;
      const counted = await update(userId, (current) => {
        userBefore = current && { failures: current.failures, blockedUntil: current.blockedUntil, locked: current.locked };
        if (current?.locked) return { next: null, result: null };
        const failures = (current?.failures ?? 0) + 1;
        const locked = failures >= limits.lockAfterFailures;
        return { next: { failures, blockedUntil: current?.blockedUntil ?? 0, locked }, result: { failures, lockedNow: locked } };
      }, user);
      if (!counted.result) return { ok: false, retryAfter: LOCKED_RETRY_AFTER, locked: true };
      return { ok: true, ...counted.result, held: { clientKey: ck, clientVersion: backoff.version!, userVersion: counted.version!, epoch, clientBefore, userBefore } };
    },
    /**
     * A successful verification: the user's and this client's consecutive counts start again.
     * While the states are still the ones this reservation wrote, one write each; otherwise a
     * read-and-set loop that keeps a lock reached by another request (only the host unlocks).
     */
    async succeed(userId: string, held: Held): Promise<void> {
      if (!(await store.compareAndSetAttemptState(held.clientKey, held.clientVersion, CLEAR))) await clear(held.clientKey);
      if (await store.compareAndSetAttemptState(userId, held.userVersion, clearUser(held.epoch))) return;
      await update(userId, (current) => ({
        next: current && !current.locked && current.failures > 0 ? clearUser(current.blockedUntil) : null,
        result: undefined,
      }));
    },
    /**
     * Gives back a reservation whose attempt was never evaluated (the verifier threw: bad input found
     * late, an outage): the states go back to what they were — only while nobody else changed them
     * since (otherwise the attempt stays counted: failing closed).
     */
    async release(userId: string, held: Held): Promise<void> {
      await store.compareAndSetAttemptState(held.clientKey, held.clientVersion, held.clientBefore ?? CLEAR);
      await store.compareAndSetAttemptState(userId, held.userVersion, held.userBefore ?? clearUser(held.epoch));
    },
    /** The host's unlock (after the lock threshold) or reset: the user's lock and every client's backoff end. */
    async unlock(userId: string, nowMs: number): Promise<void> {
      // No state, no client state either (both are written by the first reservation): nothing to do.
      await update(userId, (current) => ({ next: current ? clearUser(Math.max(nowMs, current.blockedUntil + 1)) : null, result: undefined }));
    },
  };
}

export type AttemptLimiter = ReturnType<typeof createAttemptLimiter>;
