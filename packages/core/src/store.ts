// packages/core/src/store.ts
// The storage contract. Every operation that must be atomic is one method here, named by
// its intent, so adapters (memory, knex, redis, a host's own) cannot get atomicity wrong by
// composing reads and writes. Times are epoch milliseconds chosen by core's injected clock;
// `ttlSeconds` arguments are only for physical clean-up (core checks expiry itself).

/** A second factor of a user: an authenticator app (TOTP), a phone (SMS), an email address, a security key. */
export interface FactorRecord {
  id: string;
  userId: string;
  /** Factor type name (the plugin's `type`), e.g. `totp`, `sms`, `email`, or a type from another package. */
  type: string;
  label: string | null;
  status: 'pending' | 'active';
  /** Encrypted secret envelope (`v1.<keyId>.<iv>.<ciphertext>`) for TOTP; null for other types. */
  secret: string | null;
  /** Type-specific data that is not secret: `{algorithm, digits, periodSeconds}`, `{phone}`, `{email}`, a public key. */
  data: Record<string, unknown>;
  /**
   * The highest accepted per-factor counter (replay and clone guard): the last TOTP time step, the
   * last signature counter of a security key. Null when none was recorded yet.
   */
  counter: number | null;
  /**
   * An identifier unique across all users within one factor type (a public-key credential id), or
   * null. The store refuses to activate a second factor with the same type and key.
   */
  lookupKey: string | null;
  createdAt: number;
  confirmedAt: number | null;
  lastUsedAt: number | null;
}

/** One user's current set of backup codes: bcrypt hashes sharing one salt. */
export interface BackupCodeSet {
  /** bcrypt salt shared by the set (`$2b$10$` + 22 chars): one guess costs one hash. */
  salt: string;
  /** bcrypt hashes of the codes that are still unused. */
  hashes: string[];
  createdAt: number;
}

export interface TrustedDeviceRecord {
  id: string;
  userId: string;
  /** SHA-256 (base64url) of the device token; the token itself is never stored. */
  tokenHash: string;
  label: string | null;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute server-side expiry; never extended. */
  expiresAt: number;
}

/** A pending login: the password was right and a second factor is required. */
export interface ChallengeRecord {
  /** SHA-256 (base64url) of the challenge token; the token itself is never stored. */
  id: string;
  userId: string;
  methods: string[];
  createdAt: number;
  expiresAt: number;
  /** Wrong codes entered against this challenge so far. */
  attempts: number;
}

/**
 * State a factor keeps for one verification — a sent code's keyed hash, a security key's challenge —
 * stored under a key that binds it to one login challenge (`login:<challengeId>:<type>`), one
 * pending factor (`enroll:<factorId>`) or one signed-in user (`user:<userId>:<type>`). Single use.
 */
export interface FactorStateRecord {
  /** The factor type that asked for it. */
  type: string;
  /** `login`, `enroll` or `step_up`: state kept for one purpose never serves another. */
  purpose: string;
  userId: string;
  /** The factor it is for, or null when any of the user's factors of this type may answer. */
  factorId: string | null;
  /** What verification compares against: a keyed hash (the code itself is never stored), a challenge to sign. */
  secret: string;
  createdAt: number;
  expiresAt: number;
  attempts: number;
}

/** How a pending factor becomes active (see `DurableStore.activateFactor`). */
export interface FactorActivation {
  confirmedAt: number;
  /** The counter to start from (the TOTP step used to confirm, a signature counter), or null. */
  counter: number | null;
  /** Replaces the factor's data when given. */
  data?: Record<string, unknown>;
  /** Sets the factor's `lookupKey` when given. */
  lookupKey?: string;
}

/** Consecutive second-factor failures of one user from one client (one IP address). */
export interface ClientAttempts {
  /** A hash of the user id and the client's address (never the address itself). */
  key: string;
  failures: number;
  /** Epoch ms before which no verification from this client is evaluated (backoff); 0 when none. */
  blockedUntil: number;
}

/**
 * Consecutive second-factor failures of one user, across factors and challenges: in all (for
 * the lock) and per client (for the backoff), kept together so that one compare-and-set counts
 * an attempt for both.
 */
export interface AttemptState {
  failures: number;
  /**
   * Epoch ms of the host's last unlock or reset of this user (or 1 ms after the previous one, when
   * that is later: each unlock writes a later value, which tells one lock from the next); 0 when never.
   */
  blockedUntil: number;
  /** True once the lock threshold was reached; only the host can unlock. */
  locked: boolean;
  /**
   * The clients with failures since their last success, least recently failed first (core keeps
   * at most 16). Stored and returned as given, in order.
   */
  clients: ClientAttempts[];
  /** Incremented on every successful compare-and-set. */
  version: number;
}

/** A security event as the audit log keeps it: the event, an id and the UTC day it belongs to. */
export interface AuditEventRecord {
  /** Unique, chosen by core (random, 22 characters base64url). */
  id: string;
  /** Epoch ms. */
  at: number;
  /** `Math.floor(at / 86_400_000)`: the UTC day, stored so per-day figures group on an indexed column. */
  day: number;
  type: string;
  userId: string;
  outcome: 'success' | 'failure';
  factorId: string | null;
  factorType: string | null;
  reason: string | null;
  purpose: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Who did it, for admin actions (the host's admin id). */
  actor: string | null;
  /** Free text an admin gave (a reset's reason). Never a secret, code or token. */
  detail: string | null;
}

/** Which events to list: newest first, after a cursor. */
export interface AuditEventQuery {
  userId?: string;
  /** Inclusive lower bound, epoch ms. */
  since?: number;
  /** Exclusive upper bound, epoch ms. */
  until?: number;
  /** Continue after this event (the last one of the previous page): events strictly older in (at, id) order. */
  before?: { at: number; id: string };
  /** At most this many (1–1000). */
  limit: number;
}

/** Events per UTC day, type, factor type and outcome (for the admin figures). */
export interface AuditDayCount {
  day: number;
  type: string;
  factorType: string | null;
  outcome: 'success' | 'failure';
  count: number;
}

/** Long-lived data: factors, backup codes, trusted devices, the audit log. */
export interface DurableStore {
  createFactor(factor: FactorRecord): Promise<void>;
  getFactor(userId: string, factorId: string): Promise<FactorRecord | null>;
  /** All factors of a user (pending and active), oldest first. */
  listFactors(userId: string): Promise<FactorRecord[]>;
  /**
   * Pending → active, atomically, with the activation's counter (and data and lookup key when
   * given). False when it was not pending, or when another factor of the same type already holds
   * `activation.lookupKey` (of any user).
   */
  activateFactor(userId: string, factorId: string, activation: FactorActivation): Promise<boolean>;
  /** Re-encrypted secret after key rotation. */
  updateFactorSecret(userId: string, factorId: string, secret: string): Promise<void>;
  /** Records a use of a factor that has no counter to advance. */
  touchFactor(userId: string, factorId: string, lastUsedAt: number): Promise<void>;
  /**
   * Replay and clone guard: sets `counter` (and `lastUsedAt = usedAt`) only when the stored counter
   * is null or lower. Returns true for exactly one of any number of concurrent callers with the same value.
   */
  advanceFactorCounter(userId: string, factorId: string, counter: number, usedAt: number): Promise<boolean>;
  deleteFactor(userId: string, factorId: string): Promise<boolean>;
  deleteFactors(userId: string): Promise<number>;

  /** Replaces the whole set atomically: after it resolves no code of the old set is accepted. */
  replaceBackupCodes(userId: string, set: BackupCodeSet): Promise<void>;
  /** The current set with its unused hashes, or null. */
  getBackupCodes(userId: string): Promise<BackupCodeSet | null>;
  /** Marks one unused code used. True for exactly one of concurrent callers with the same hash. */
  consumeBackupCode(userId: string, hash: string, usedAt: number): Promise<boolean>;
  deleteBackupCodes(userId: string): Promise<void>;

  createTrustedDevice(device: TrustedDeviceRecord): Promise<void>;
  findTrustedDevice(tokenHash: string): Promise<TrustedDeviceRecord | null>;
  touchTrustedDevice(userId: string, deviceId: string, lastSeenAt: number): Promise<void>;
  listTrustedDevices(userId: string): Promise<TrustedDeviceRecord[]>;
  deleteTrustedDevice(userId: string, deviceId: string): Promise<boolean>;
  deleteTrustedDevices(userId: string): Promise<number>;

  /** Stores one event of the audit log. */
  appendEvent(event: AuditEventRecord): Promise<void>;
  /** Events matching `query`, newest first (by `at`, then `id`), at most `query.limit`. */
  listEvents(query: AuditEventQuery): Promise<AuditEventRecord[]>;
  /** Deletes events older than `before` (epoch ms); how many. */
  purgeEvents(before: number): Promise<number>;
  /** Event counts grouped by day, type, factor type and outcome, for `since <= at < until`; in no particular order. */
  countEventsByDay(query: { since: number; until: number }): Promise<AuditDayCount[]>;
  /** Users with at least one active factor, in all and per factor type (types with none left out; in no particular order). */
  countMfaUsers(): Promise<{ users: number; byType: { type: string; users: number }[] }>;
}

/** Short-lived data: login challenges, factor state (sent codes, security-key challenges), counters, attempt state. */
export interface EphemeralStore {
  createChallenge(challenge: ChallengeRecord, ttlSeconds: number): Promise<void>;
  getChallenge(id: string): Promise<ChallengeRecord | null>;
  /** Adds one wrong attempt atomically; the new count, or null when the challenge is gone. */
  incrementChallengeAttempts(id: string): Promise<number | null>;
  /** Deletes the challenge. True for exactly one of concurrent callers: the one that completes the login. */
  takeChallenge(id: string): Promise<boolean>;

  /** Stores factor state under `key`, replacing (and so invalidating) any earlier one. */
  putFactorState(key: string, state: FactorStateRecord, ttlSeconds: number): Promise<void>;
  getFactorState(key: string): Promise<FactorStateRecord | null>;
  /** Adds one wrong attempt atomically; the new count, or null when no state is stored. */
  incrementFactorStateAttempts(key: string): Promise<number | null>;
  /** Deletes the state only if its `secret` is `secret`. True for exactly one of concurrent callers. */
  consumeFactorState(key: string, secret: string): Promise<boolean>;
  deleteFactorState(key: string): Promise<void>;

  /** Atomic increment of a counter created with a TTL (applied only on creation); returns the new value. */
  incrementCounter(key: string, ttlSeconds: number): Promise<number>;
  /** The current value of a counter; 0 when it does not exist (or expired). */
  getCounter(key: string): Promise<number>;

  /** The user's attempt state, `clients` included (an adapter reads a state stored without them as `[]`). */
  getAttemptState(userId: string): Promise<AttemptState | null>;
  /**
   * Writes `next`, `clients` included (with version `expectedVersion + 1`, or 1 when `expectedVersion` is null and
   * no state exists) only if the stored version still equals `expectedVersion`. True on success.
   */
  compareAndSetAttemptState(
    userId: string,
    expectedVersion: number | null,
    next: Omit<AttemptState, 'version'>,
  ): Promise<boolean>;
}

/** What `createMfa` needs: both halves, possibly from different backends (see `composeStores`). */
export interface MfaStore extends DurableStore, EphemeralStore {}

/**
 * Every method of each half, as objects typed against the interfaces: a method added to an
 * interface and forgotten here fails to compile, so `composeStores` and the store boundary can
 * never silently drop one.
 */
const DURABLE: { readonly [K in keyof DurableStore]-?: true } = {
  createFactor: true, getFactor: true, listFactors: true, activateFactor: true, updateFactorSecret: true, touchFactor: true,
  advanceFactorCounter: true, deleteFactor: true, deleteFactors: true, replaceBackupCodes: true, getBackupCodes: true,
  consumeBackupCode: true, deleteBackupCodes: true, createTrustedDevice: true, findTrustedDevice: true,
  touchTrustedDevice: true, listTrustedDevices: true, deleteTrustedDevice: true, deleteTrustedDevices: true,
  appendEvent: true, listEvents: true, purgeEvents: true, countEventsByDay: true, countMfaUsers: true,
};
const EPHEMERAL: { readonly [K in keyof EphemeralStore]-?: true } = {
  createChallenge: true, getChallenge: true, incrementChallengeAttempts: true, takeChallenge: true, putFactorState: true,
  getFactorState: true, incrementFactorStateAttempts: true, consumeFactorState: true, deleteFactorState: true, incrementCounter: true,
  getCounter: true, getAttemptState: true, compareAndSetAttemptState: true,
};

export const DURABLE_METHODS = Object.freeze(Object.keys(DURABLE)) as readonly (keyof DurableStore)[];
export const EPHEMERAL_METHODS = Object.freeze(Object.keys(EPHEMERAL)) as readonly (keyof EphemeralStore)[];
