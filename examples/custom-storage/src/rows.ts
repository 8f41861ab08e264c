// examples/custom-storage/src/rows.ts
// Table rows as node-postgres returns them, and their conversion to the records of the storage
// contract. node-postgres returns `bigint` columns as strings (a JS number cannot hold every
// int8), `integer` as numbers, `boolean` as booleans, `jsonb` parsed and `text[]` as arrays.
// Every time here is epoch milliseconds in a `bigint`, so every time needs converting.
import type {
  AttemptState, AuditEventRecord, ChallengeRecord, FactorRecord, FactorStateRecord, TrustedDeviceRecord,
} from '@secondfactor/core';

/** A `bigint` column value (a decimal string) as a number; throws rather than lose precision. */
export function toNumber(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`pgStore: expected a safe integer, got ${JSON.stringify(value)}`);
  return n;
}

function toNumberOrNull(value: string | number | null): number | null {
  return value === null ? null : toNumber(value);
}

export interface FactorRow {
  user_id: string;
  id: string;
  type: string;
  label: string | null;
  status: string;
  secret: string | null;
  data: Record<string, unknown>;
  counter: string | null;
  lookup_key: string | null;
  created_at: string;
  confirmed_at: string | null;
  last_used_at: string | null;
}

export interface TrustedDeviceRow {
  id: string;
  user_id: string;
  token_hash: string;
  label: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export interface ChallengeRow {
  id: string;
  user_id: string;
  methods: string[];
  created_at: string;
  expires_at: string;
  attempts: number;
}

export interface FactorStateRow {
  type: string;
  purpose: string;
  user_id: string;
  factor_id: string | null;
  secret: string;
  created_at: string;
  expires_at: string;
  attempts: number;
}

export interface AttemptStateRow {
  failures: number;
  blocked_until: string;
  locked: boolean;
  /** jsonb: node-postgres parses it. */
  clients: AttemptState['clients'];
  version: string;
}

/** What `getBackupCodes` selects: the set row with its unused hashes aggregated in position order. */
export interface BackupCodeSetRow {
  salt: string;
  created_at: string;
  hashes: string[];
}

export function rowToFactor(r: FactorRow): FactorRecord {
  return {
    id: r.id,
    userId: r.user_id,
    type: r.type,
    label: r.label,
    status: r.status === 'active' ? 'active' : 'pending',
    secret: r.secret,
    data: r.data,
    counter: toNumberOrNull(r.counter),
    lookupKey: r.lookup_key,
    createdAt: toNumber(r.created_at),
    confirmedAt: toNumberOrNull(r.confirmed_at),
    lastUsedAt: toNumberOrNull(r.last_used_at),
  };
}

export function rowToDevice(r: TrustedDeviceRow): TrustedDeviceRecord {
  return {
    id: r.id,
    userId: r.user_id,
    tokenHash: r.token_hash,
    label: r.label,
    createdAt: toNumber(r.created_at),
    lastSeenAt: toNumber(r.last_seen_at),
    expiresAt: toNumber(r.expires_at),
  };
}

export function rowToChallenge(r: ChallengeRow): ChallengeRecord {
  return {
    id: r.id,
    userId: r.user_id,
    methods: Array.from(r.methods),
    createdAt: toNumber(r.created_at),
    expiresAt: toNumber(r.expires_at),
    attempts: r.attempts,
  };
}

export function rowToFactorState(r: FactorStateRow): FactorStateRecord {
  return {
    type: r.type,
    purpose: r.purpose,
    userId: r.user_id,
    factorId: r.factor_id,
    secret: r.secret,
    createdAt: toNumber(r.created_at),
    expiresAt: toNumber(r.expires_at),
    attempts: r.attempts,
  };
}

export function rowToAttemptState(r: AttemptStateRow): AttemptState {
  return {
    failures: r.failures,
    blockedUntil: toNumber(r.blocked_until),
    locked: r.locked,
    clients: r.clients,
    version: toNumber(r.version),
  };
}

export interface EventRow {
  id: string;
  at: string;
  day: number;
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

export function rowToEvent(r: EventRow): AuditEventRecord {
  return {
    id: r.id,
    at: toNumber(r.at),
    day: r.day,
    type: r.type,
    userId: r.user_id,
    outcome: r.outcome === 'success' ? 'success' : 'failure',
    factorId: r.factor_id,
    factorType: r.factor_type,
    reason: r.reason,
    purpose: r.purpose,
    ip: r.ip,
    userAgent: r.user_agent,
    actor: r.actor,
    detail: r.detail,
  };
}
