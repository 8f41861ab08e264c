// packages/knex/src/rows.ts
// Records ↔ table rows: snake_case columns, JSON text for structured fields, and numbers and
// booleans normalized from whatever the driver returns (PostgreSQL bigints arrive as strings).
import type {
  AttemptState, AuditEventRecord, ClientAttempts, ChallengeRecord, FactorRecord, FactorStateRecord, TrustedDeviceRecord,
} from '@secondfactor/core';
import { toBoolean, toNumber, toNumberOrNull } from './dialect';

/** Numbers and booleans are `unknown` as read: their JS type depends on the driver. */
export interface FactorRow {
  user_id: string;
  id: string;
  type: string;
  label: string | null;
  status: string;
  secret: string | null;
  data: string;
  counter: unknown;
  lookup_key: string | null;
  created_at: unknown;
  confirmed_at: unknown;
  last_used_at: unknown;
}

export interface BackupCodeSetRow {
  user_id: string;
  salt: string;
  created_at: unknown;
}

export interface BackupCodeRow {
  user_id: string;
  code_hash: string;
  position: number;
  used_at: unknown;
}

export interface TrustedDeviceRow {
  id: string;
  user_id: string;
  token_hash: string;
  label: string | null;
  created_at: unknown;
  last_seen_at: unknown;
  expires_at: unknown;
}

export interface ChallengeRow {
  id: string;
  user_id: string;
  methods: string;
  created_at: unknown;
  expires_at: unknown;
  attempts: unknown;
  purge_at: unknown;
}

export interface FactorStateRow {
  state_key: string;
  type: string;
  purpose: string;
  user_id: string;
  factor_id: string | null;
  secret: string;
  created_at: unknown;
  expires_at: unknown;
  attempts: unknown;
  purge_at: unknown;
}

export interface CounterRow {
  counter_key: string;
  hits: unknown;
  purge_at: unknown;
}

export interface AttemptStateRow {
  user_id: string;
  failures: unknown;
  blocked_until: unknown;
  locked: unknown;
  /** JSON list of the clients' counts; NULL in rows written before migration 0004. */
  clients: string | null;
  version: unknown;
}

export interface EventRow {
  id: string;
  at: unknown;
  day: unknown;
  type: string;
  user_id: string;
  outcome: string;
  factor_id: string | null;
  factor_type: string | null;
  reason: string | null;
  purpose: string | null;
  ip: string | null;
  user_agent: string | null;
  actor: string | null;
  detail: string | null;
}

export function eventToRow(e: AuditEventRecord): EventRow {
  return {
    id: e.id, at: e.at, day: e.day, type: e.type, user_id: e.userId, outcome: e.outcome, factor_id: e.factorId,
    factor_type: e.factorType, reason: e.reason, purpose: e.purpose, ip: e.ip, user_agent: e.userAgent, actor: e.actor,
    detail: e.detail,
  };
}

export function rowToEvent(r: EventRow): AuditEventRecord {
  return {
    id: r.id, at: toNumber(r.at), day: toNumber(r.day), type: r.type, userId: r.user_id, outcome: toOutcome(r.outcome),
    factorId: r.factor_id, factorType: r.factor_type, reason: r.reason, purpose: r.purpose, ip: r.ip, userAgent: r.user_agent,
    actor: r.actor, detail: r.detail,
  };
}

export function toOutcome(value: string): 'success' | 'failure' {
  return value === 'success' ? 'success' : 'failure';
}

export function factorToRow(f: FactorRecord): FactorRow {
  return {
    user_id: f.userId, id: f.id, type: f.type, label: f.label, status: f.status, secret: f.secret,
    data: JSON.stringify(f.data), counter: f.counter, lookup_key: f.lookupKey, created_at: f.createdAt,
    confirmed_at: f.confirmedAt, last_used_at: f.lastUsedAt,
  };
}

export function rowToFactor(r: FactorRow): FactorRecord {
  return {
    id: r.id, userId: r.user_id, type: r.type, label: r.label, status: r.status === 'active' ? 'active' : 'pending',
    secret: r.secret, data: JSON.parse(r.data) as Record<string, unknown>, counter: toNumberOrNull(r.counter),
    lookupKey: r.lookup_key,
    createdAt: toNumber(r.created_at), confirmedAt: toNumberOrNull(r.confirmed_at), lastUsedAt: toNumberOrNull(r.last_used_at),
  };
}

export function deviceToRow(d: TrustedDeviceRecord): TrustedDeviceRow {
  return {
    id: d.id, user_id: d.userId, token_hash: d.tokenHash, label: d.label, created_at: d.createdAt,
    last_seen_at: d.lastSeenAt, expires_at: d.expiresAt,
  };
}

export function rowToDevice(r: TrustedDeviceRow): TrustedDeviceRecord {
  return {
    id: r.id, userId: r.user_id, tokenHash: r.token_hash, label: r.label, createdAt: toNumber(r.created_at),
    lastSeenAt: toNumber(r.last_seen_at), expiresAt: toNumber(r.expires_at),
  };
}

export function challengeToRow(c: ChallengeRecord, purgeAt: number): ChallengeRow {
  return {
    id: c.id, user_id: c.userId, methods: JSON.stringify(c.methods), created_at: c.createdAt,
    expires_at: c.expiresAt, attempts: c.attempts, purge_at: purgeAt,
  };
}

export function rowToChallenge(r: ChallengeRow): ChallengeRecord {
  return {
    id: r.id, userId: r.user_id, methods: JSON.parse(r.methods) as string[], createdAt: toNumber(r.created_at),
    expiresAt: toNumber(r.expires_at), attempts: toNumber(r.attempts),
  };
}

export function factorStateToRow(key: string, c: FactorStateRecord, purgeAt: number): FactorStateRow {
  return {
    state_key: key, type: c.type, purpose: c.purpose, user_id: c.userId, factor_id: c.factorId, secret: c.secret,
    created_at: c.createdAt, expires_at: c.expiresAt, attempts: c.attempts, purge_at: purgeAt,
  };
}

export function rowToFactorState(r: FactorStateRow): FactorStateRecord {
  return {
    type: r.type, purpose: r.purpose, userId: r.user_id, factorId: r.factor_id, secret: r.secret,
    createdAt: toNumber(r.created_at), expiresAt: toNumber(r.expires_at), attempts: toNumber(r.attempts),
  };
}

export function rowToAttemptState(r: AttemptStateRow): AttemptState {
  return {
    failures: toNumber(r.failures), blockedUntil: toNumber(r.blocked_until), locked: toBoolean(r.locked),
    clients: r.clients === null ? [] : clientsFromJson(r.clients), version: toNumber(r.version),
  };
}

/** The clients' counts as stored: each entry's three fields, nothing else. */
function clientsFromJson(text: string): ClientAttempts[] {
  const list: unknown = JSON.parse(text);
  if (!Array.isArray(list)) throw new Error('attempt state: clients is not a list');
  return list.map((c: { key: unknown; failures: unknown; blockedUntil: unknown }) => {
    if (typeof c?.key !== 'string' || typeof c.failures !== 'number' || typeof c.blockedUntil !== 'number') throw new Error('attempt state: malformed client entry');
    return { key: c.key, failures: c.failures, blockedUntil: c.blockedUntil };
  });
}

/** The clients' counts as the `clients` column keeps them. */
export const clientsToJson = (clients: readonly ClientAttempts[]): string => JSON.stringify(clients.map(({ key, failures, blockedUntil }) => ({ key, failures, blockedUntil })));
