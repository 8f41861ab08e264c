// packages/core/src/flows/admin.ts
// What support and administrators do for a user — reset (every factor, code and trusted device
// gone, the lock cleared), unlock, look — and the figures over all users. Every action names its
// actor and is audited.
import type { EngineContext } from '../context';
import { MfaError } from '../errors';
import type { RequestContext } from '../events';
import type { MfaStatus } from '../types';
import { toMillis } from './audit';
import type { ManagementFlow } from './management';
import { requireUserId, UNSAFE_LABEL_CHARACTERS } from './shared';

/** Figures per UTC day. */
export interface AdminDayStats {
  /** `YYYY-MM-DD` (UTC). */
  day: string;
  verifications: number;
  failures: number;
  locks: number;
  /** Codes sent, per factor type (the out-of-band types). */
  sends: Record<string, number>;
}

export interface AdminStats {
  /** Users with at least one active factor. */
  usersWithMfa: number;
  /** Users with at least one active factor of each type. */
  byFactorType: Record<string, number>;
  since: string;
  until: string;
  days: AdminDayStats[];
}

export interface AdminFlow {
  /** Removes every factor, backup code and trusted device of `userId` and clears the lock; emits `mfa.reset`. */
  reset(userId: string, options: { actor: string; reason?: string }, req?: RequestContext): Promise<void>;
  /** Clears the failure lock of a user (after the lock threshold). */
  unlock(userId: string, options: { actor: string }, req?: RequestContext): Promise<void>;
  /** The user's MFA status, as the user would see it. */
  status(userId: string): Promise<MfaStatus>;
  /** Users with MFA and per-day figures from the audit log, for `since` (default 30 days ago) up to `until` (default now); at most 366 days. */
  stats(options?: { since?: Date | number; until?: Date | number }): Promise<AdminStats>;
}

const DAY_MS = 86_400_000;

function actorOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255 || UNSAFE_LABEL_CHARACTERS.test(value)) {
    throw new MfaError('invalid_request', 'actor must name the admin: a printable string of at most 255 characters', { field: 'actor' });
  }
  return value;
}

function reasonOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 500 || UNSAFE_LABEL_CHARACTERS.test(value)) {
    throw new MfaError('invalid_request', 'reason must be printable text of at most 500 characters', { field: 'reason' });
  }
  return value;
}

export function adminFlow(e: EngineContext, management: ManagementFlow): AdminFlow {
  const { store } = e;
  return {
    async reset(userId, opts, req) {
      requireUserId(userId);
      const actor = actorOf(opts?.actor);
      const reason = reasonOf(opts?.reason);
      const factors = await store.deleteFactors(userId);
      await store.deleteBackupCodes(userId);
      const devices = await store.deleteTrustedDevices(userId);
      await e.limiter.unlock(userId, e.now());
      e.emit({
        type: 'mfa.reset', userId, outcome: 'success', purpose: 'admin', actor,
        reason: `factors:${factors},devices:${devices}`, ...(reason === undefined ? {} : { detail: reason }),
      }, req);
    },
    async unlock(userId, opts, req) {
      requireUserId(userId);
      const actor = actorOf(opts?.actor);
      await e.limiter.unlock(userId, e.now());
      e.emit({ type: 'mfa.unlocked', userId, outcome: 'success', purpose: 'admin', actor }, req);
    },
    status: (userId) => management.status(userId),
    async stats(opts = {}) {
      const until = toMillis(opts.until, 'until') ?? e.now() + 1; // exclusive: events of this very millisecond count
      const since = toMillis(opts.since, 'since') ?? until - 30 * DAY_MS;
      if (since >= until || until - since > 366 * DAY_MS) throw new MfaError('invalid_request', 'since must be before until, at most 366 days apart', { field: 'since' });
      const [users, counts] = await Promise.all([store.countMfaUsers(), store.countEventsByDay({ since, until })]);
      const days = new Map<number, AdminDayStats>();
      for (let d = Math.floor(since / DAY_MS); d <= Math.floor((until - 1) / DAY_MS); d++) {
        days.set(d, { day: new Date(d * DAY_MS).toISOString().slice(0, 10), verifications: 0, failures: 0, locks: 0, sends: {} });
      }
      for (const c of counts) {
        const day = days.get(c.day);
        if (!day) continue;
        if (c.type === 'mfa.verified' && c.outcome === 'success') day.verifications += c.count;
        else if (c.type === 'mfa.failed') day.failures += c.count;
        else if (c.type === 'mfa.locked') day.locks += c.count;
        else if (c.type === 'code.sent' && c.factorType) day.sends[c.factorType] = (day.sends[c.factorType] ?? 0) + c.count;
      }
      return {
        usersWithMfa: users.users,
        byFactorType: Object.fromEntries(users.byType.map((t) => [t.type, t.users])),
        since: new Date(since).toISOString(), until: new Date(until).toISOString(),
        days: [...days.values()],
      };
    },
  };
}
