// packages/core/src/attempts.ts
// The consecutive-failure limits, shared by every factor and challenge:
// - per user AND client (the request's IP): from the Nth failure an exponential backoff (30 s
//   doubling, capped). A failure streak from one client never delays the same user on another,
//   so someone who has the password cannot keep the real user out by failing on purpose.
// - per user, across clients: at the lock threshold (NIST 800-63B: 100) verification is locked
//   until the host unlocks. Time alone never resets either count.
//
// Both counts live in one state per user (the clients' counts in a list inside it), so that each
// verification *reserves* its attempt for both with one compare-and-set before the code is
// evaluated — N concurrent wrong codes cannot overrun either limit — and a success resets the
// user's count and this client's with one more. An unlock or a reset empties the list, so it ends
// every client's backoff at once.
//
// The list keeps the clients that failed since their last success, at most MAX_CLIENTS: a new
// client beyond that pushes out the one that failed least recently. That gives the client pushed
// out a fresh count, which is no more than a new address gives anyone; the per-user lock still
// counts every failure.
import { MfaError } from './errors';
import type { ResolvedOptions } from './options';
import type { AttemptState, ClientAttempts, EphemeralStore } from './store';

type Refused = { ok: false; retryAfter: number; locked: boolean };
export type Reservation = { ok: true; failures: number; lockedNow: boolean; held: Held } | Refused;

/** What a reservation wrote, so that a success or a release can follow it up without reading. */
export interface Held {
  clientKey: string;
  /** The version this reservation wrote. */
  version: number;
  /** The state it wrote. */
  written: Next;
  /** The state before it (null: none), so an attempt that was never evaluated can be given back. */
  before: Next | null;
}

/** How many clients' counts one user's state keeps. */
export const MAX_CLIENTS = 16;
const MAX_CAS_ROUNDS = 64;
/** How long a locked user is told to wait: the lock only ends by the host's unlock. */
const LOCKED_RETRY_AFTER = 3600;

export function backoffSeconds(failures: number, limits: ResolvedOptions['limits']): number {
  if (failures < limits.backoffAfterFailures) return 0;
  const doublings = Math.min(30, failures - limits.backoffAfterFailures);
  return Math.min(limits.backoffMaxSeconds, limits.backoffBaseSeconds * 2 ** doublings);
}

type Next = Omit<AttemptState, 'version'>;
const EMPTY: Next = { failures: 0, blockedUntil: 0, locked: false, clients: [] };
const stateOf = (s: AttemptState): Next => ({ failures: s.failures, blockedUntil: s.blockedUntil, locked: s.locked, clients: s.clients });
const without = (clients: ClientAttempts[], key: string) => clients.filter((c) => c.key !== key);

export function createAttemptLimiter(store: EphemeralStore, limits: ResolvedOptions['limits'], clientKey: (userId: string, client: string) => Promise<string>) {
  /**
   * Compare-and-set loop on a user's state: `decide` returns the next state, or null to leave it.
   * Returns the decision's result and, when it wrote, the version and state written.
   */
  async function update<R>(
    userId: string,
    decide: (current: AttemptState | null) => { next: Next | null; result: R },
  ): Promise<{ result: R; written: { version: number; state: Next; before: Next | null } | null }> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = await store.getAttemptState(userId);
      // Fail closed on an adapter written for the contract before `clients`: it would lose every backoff.
      if (current && !Array.isArray(current.clients)) throw new MfaError('store_unavailable', 'The store returned an attempt state without its clients list');
      const { next, result } = decide(current);
      if (next === null) return { result, written: null };
      const expected = current?.version ?? null;
      if (await store.compareAndSetAttemptState(userId, expected, next)) {
        return { result, written: { version: (expected ?? 0) + 1, state: next, before: current && stateOf(current) } };
      }
    }
    throw new MfaError('store_unavailable', 'Attempt state is under heavy contention; try again');
  }

  return {
    /**
     * Counts one attempt as a failure up front, for the user and for this client; refuses
     * (counting nothing) when the user is locked or this client of the user is backing off.
     */
    async reserve(userId: string, client: string, nowMs: number): Promise<Reservation> {
      const key = await clientKey(userId, client);
      type Decision = { next: Next | null; result: Refused | { ok: true; failures: number; lockedNow: boolean } };
      const { result, written } = await update(userId, (current): Decision => {
        if (current?.locked) return { next: null, result: { ok: false, retryAfter: LOCKED_RETRY_AFTER, locked: true } };
        const clients = current ? current.clients : [];
        const mine = clients.find((c) => c.key === key);
        if (mine && mine.blockedUntil > nowMs) {
          return { next: null, result: { ok: false, retryAfter: Math.ceil((mine.blockedUntil - nowMs) / 1000), locked: false } };
        }
        const clientFailures = (mine?.failures ?? 0) + 1;
        const wait = backoffSeconds(clientFailures, limits);
        const others = without(clients, key);
        const kept = others.slice(Math.max(0, others.length - (MAX_CLIENTS - 1)));
        const failures = (current?.failures ?? 0) + 1;
        const locked = failures >= limits.lockAfterFailures;
        return {
          next: {
            failures, blockedUntil: current?.blockedUntil ?? 0, locked,
            clients: [...kept, { key, failures: clientFailures, blockedUntil: wait > 0 ? nowMs + wait * 1000 : 0 }],
          },
          result: { ok: true, failures, lockedNow: locked },
        };
      });
      if (!result.ok) return result;
      // A decision to count always writes: `written` is there.
      return { ...result, held: { clientKey: key, version: written!.version, written: written!.state, before: written!.before } };
    },
    /**
     * A successful verification: the user's and this client's consecutive counts start again.
     * While the state is still the one this reservation wrote, one write; otherwise a
     * read-and-set loop that keeps a lock reached by another request (only the host unlocks).
     * A lock this reservation reached itself ends, as on the fast path (its attempt was no
     * failure): while the state is locked no other attempt is counted, so the lock is still this
     * one as long as no unlock came since — and every unlock writes a later `blockedUntil`.
     */
    async succeed(userId: string, held: Held): Promise<void> {
      const cleared: Next = { ...held.written, failures: 0, locked: false, clients: without(held.written.clients, held.clientKey) };
      if (await store.compareAndSetAttemptState(userId, held.version, cleared)) return;
      await update(userId, (current) => {
        if (!current) return { next: null, result: undefined };
        const clients = without(current.clients, held.clientKey);
        const ownLock = held.written.locked && current.locked && current.blockedUntil === held.written.blockedUntil;
        const resets = ownLock || (!current.locked && current.failures > 0);
        if (!resets && clients.length === current.clients.length) return { next: null, result: undefined };
        return { next: { ...stateOf(current), clients, ...(resets ? { failures: 0, locked: false } : {}) }, result: undefined };
      });
    },
    /**
     * Gives back a reservation whose attempt was never evaluated (the verifier threw: bad input found
     * late, an outage): the state goes back to what it was — only while nobody else changed it
     * since (otherwise the attempt stays counted: failing closed).
     */
    async release(userId: string, held: Held): Promise<void> {
      await store.compareAndSetAttemptState(userId, held.version, held.before ?? EMPTY);
    },
    /** The host's unlock (after the lock threshold) or reset: the user's lock and every client's backoff end. */
    async unlock(userId: string, nowMs: number): Promise<void> {
      // No state, no client counts either (the first reservation writes both): nothing to do.
      // Later than the previous one even within one millisecond: a success tells by it whether the
      // lock it meets is the one its own reservation reached (see succeed).
      await update(userId, (current) => ({
        next: current ? { failures: 0, blockedUntil: Math.max(nowMs, current.blockedUntil + 1), locked: false, clients: [] } : null,
        result: undefined,
      }));
    },
  };
}

export type AttemptLimiter = ReturnType<typeof createAttemptLimiter>;
