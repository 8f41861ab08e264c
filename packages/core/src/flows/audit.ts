// packages/core/src/flows/audit.ts
// The durable audit log as the host reads it: events per user and time range, newest first,
// with an opaque cursor; and the retention purge (core keeps no timer: the host calls it).
import { base64UrlDecode, base64UrlEncode } from '../crypto';
import type { EngineContext } from '../context';
import { MfaError } from '../errors';
import type { AuditEventRecord } from '../store';
import { iso, requireUserId } from './shared';

/** An event of the audit log as the API shows it. */
export interface AuditEvent {
  id: string;
  /** ISO 8601. */
  at: string;
  type: string;
  userId: string;
  outcome: 'success' | 'failure';
  factorId: string | null;
  factorType: string | null;
  reason: string | null;
  purpose: string | null;
  ip: string | null;
  userAgent: string | null;
  actor: string | null;
  detail: string | null;
}

export interface AuditQuery {
  userId?: string;
  since?: Date | number;
  until?: Date | number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** Page size, 1–200 (default 50). */
  limit?: number;
}

export interface AuditFlow {
  /** Events newest first; `nextCursor` is null on the last page. */
  list(query?: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor: string | null }>;
  /** Deletes events older than `olderThanDays` (at least 1); how many. */
  purge(options: { olderThanDays: number }): Promise<number>;
}

const DAY_MS = 86_400_000;

export function toMillis(value: Date | number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new MfaError('invalid_request', `${field} must be a date`, { field });
  return ms;
}

function encodeCursor(e: AuditEventRecord): string {
  return base64UrlEncode(new TextEncoder().encode(`${e.at}.${e.id}`));
}

function decodeCursor(cursor: unknown): { at: number; id: string } {
  const text = typeof cursor === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? new TextDecoder().decode(base64UrlDecode(cursor)) : '';
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{1,64})$/.exec(text);
  if (!match) throw new MfaError('invalid_request', 'cursor is not a cursor this server gave', { field: 'cursor' });
  return { at: Number(match[1]), id: match[2]! };
}

function publicEvent(e: AuditEventRecord): AuditEvent {
  return {
    id: e.id, at: iso(e.at), type: e.type, userId: e.userId, outcome: e.outcome, factorId: e.factorId, factorType: e.factorType,
    reason: e.reason, purpose: e.purpose, ip: e.ip, userAgent: e.userAgent, actor: e.actor, detail: e.detail,
  };
}

export function auditFlow(e: EngineContext): AuditFlow {
  return {
    async list(query = {}) {
      const limit = query.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new MfaError('invalid_request', 'limit must be an integer from 1 to 200', { field: 'limit' });
      const since = toMillis(query.since, 'since');
      const until = toMillis(query.until, 'until');
      const rows = await e.store.listEvents({
        ...(query.userId === undefined ? {} : { userId: requireUserId(query.userId) }),
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until }),
        ...(query.cursor === undefined ? {} : { before: decodeCursor(query.cursor) }),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { events: page.map(publicEvent), nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!) : null };
    },
    async purge({ olderThanDays }) {
      if (!Number.isInteger(olderThanDays) || olderThanDays < 1 || olderThanDays > 36_500) {
        throw new MfaError('invalid_request', 'olderThanDays must be an integer from 1 to 36500', { field: 'olderThanDays' });
      }
      return e.store.purgeEvents(e.now() - olderThanDays * DAY_MS);
    },
  };
}
