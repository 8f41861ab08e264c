// examples/custom-storage/src/pg-store.ts
// The whole storage contract (MfaStore = DurableStore + EphemeralStore) over a node-postgres
// Pool, with hand-written SQL. The rule that makes it correct: nothing is read into JavaScript,
// decided on, and written back. Every operation that must be atomic is ONE conditional statement
// whose RETURNING rows are the answer, or ONE transaction.
//
// Why one conditional statement is enough in PostgreSQL (READ COMMITTED, the default): an UPDATE
// or DELETE locks each row it is about to change. A concurrent statement aiming at the same row
// waits for that lock, and when the first transaction commits, PostgreSQL re-evaluates the waiting
// statement's WHERE clause against the row as the winner left it (or skips the row if the winner
// deleted it). So a condition like `counter < $3` is true for exactly one of N racing callers.
// INSERT … ON CONFLICT gives the same guarantee for "insert, or update the row that is there".
import type { Pool, QueryResultRow } from 'pg';
import type { MfaStore } from '@secondfactor/core';
import {
  rowToAttemptState, rowToChallenge, rowToDevice, rowToEvent, rowToFactor, rowToFactorState, toNumber,
  type AttemptStateRow, type BackupCodeSetRow, type ChallengeRow, type EventRow, type FactorRow, type FactorStateRow,
  type TrustedDeviceRow,
} from './rows';
import { DEFAULT_SCHEMA, tablesIn } from './tables';
import { inTransaction } from './transaction';

export interface PgStoreOptions {
  /** PostgreSQL schema holding the tables (create it with `createSchema`). Default `secondfactor`. */
  schema?: string;
}

/** An `MfaStore` plus clean-up of rows whose time to live has passed. */
export interface PgMfaStore extends MfaStore {
  /**
   * Deletes expired challenges, factor state and counters (they already read as absent).
   * Returns how many rows went. Call it now and then, e.g. hourly.
   */
  purgeExpired(): Promise<number>;
}

/** PostgreSQL's unique_violation SQLSTATE. */
const UNIQUE_VIOLATION = '23505';

/** Column lists, so every SELECT returns exactly what the row types in rows.ts describe. */
const FACTOR_COLUMNS = 'user_id, id, type, label, status, secret, data, counter, lookup_key, created_at, confirmed_at, last_used_at';
const DEVICE_COLUMNS = 'id, user_id, token_hash, label, created_at, last_seen_at, expires_at';
const CHALLENGE_COLUMNS = 'id, user_id, methods, created_at, expires_at, attempts';
const STATE_COLUMNS = 'type, purpose, user_id, factor_id, secret, created_at, expires_at, attempts';
const EVENT_COLUMNS = 'id, at, day, type, user_id, outcome, factor_id, factor_type, reason, purpose, ip, user_agent, actor, detail';
const DAY_MS = 86_400_000;

/**
 * Durable and ephemeral MFA data in PostgreSQL through a `pg.Pool` you own (the store never ends it).
 *
 * @example
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * await createSchema(pool, 'secondfactor');
 * const mfa = createMfa({ store: pgStore(pool, { schema: 'secondfactor' }), ... });
 */
export function pgStore(pool: Pool, options: PgStoreOptions = {}): PgMfaStore {
  if (pool === null || typeof pool !== 'object' || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
    throw new TypeError('pgStore: the first argument must be a pg.Pool');
  }
  const t = tablesIn(options.schema ?? DEFAULT_SCHEMA);

  /** One statement on any pooled connection. Each statement is its own transaction (autocommit). */
  async function query<R extends QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> {
    return (await pool.query<R>(sql, values)).rows;
  }
  /** Like `query`, for statements whose answer is how many rows they touched. */
  async function count(sql: string, values: unknown[]): Promise<number> {
    return (await pool.query(sql, values)).rowCount ?? 0;
  }
  /**
   * Wall clock (epoch ms) for the physical TTLs of challenges, factor state and counters. Core checks
   * logical expiry with its own clock; this one only decides when a row stops existing. App
   * instances sharing the database should have synchronized clocks (NTP), as for any TTL.
   */
  const physicalNow = () => Date.now();

  return {
    // ===== factors ==============================================================================
    async createFactor(f) {
      // A plain INSERT: the primary key (user_id, id) rejects a duplicate instead of overwriting it.
      await query(
        `INSERT INTO ${t.factors} (${FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [f.userId, f.id, f.type, f.label, f.status, f.secret, JSON.stringify(f.data), f.counter, f.lookupKey, f.createdAt, f.confirmedAt, f.lastUsedAt],
      );
    },

    async getFactor(userId, factorId) {
      const rows = await query<FactorRow>(`SELECT ${FACTOR_COLUMNS} FROM ${t.factors} WHERE user_id = $1 AND id = $2`, [userId, factorId]);
      return rows[0] ? rowToFactor(rows[0]) : null;
    },

    async listFactors(userId) {
      const rows = await query<FactorRow>(
        `SELECT ${FACTOR_COLUMNS} FROM ${t.factors} WHERE user_id = $1 ORDER BY created_at, id`, [userId],
      );
      return rows.map(rowToFactor);
    },

    async activateFactor(userId, factorId, activation) {
      // Atomic: the `status = 'pending'` condition is re-checked under the row lock, so of two
      // racing confirmations one changes the row and the other finds it active and gets no row.
      // A lookup key another factor of this type holds violates the unique index on
      // (type, lookup_key): the statement changes nothing and the answer is false. Of N racing
      // activations with one key, the later ones wait on the first's index entry, then fail.
      const { confirmedAt, counter, data, lookupKey } = activation;
      try {
        const rows = await query(
          `UPDATE ${t.factors}
              SET status = 'active', confirmed_at = $3, last_used_at = $3, counter = $4,
                  data = COALESCE($5::jsonb, data), lookup_key = COALESCE($6, lookup_key)
            WHERE user_id = $1 AND id = $2 AND status = 'pending'
          RETURNING id`,
          [userId, factorId, confirmedAt, counter, data === undefined ? null : JSON.stringify(data), lookupKey ?? null],
        );
        return rows.length === 1;
      } catch (error) {
        if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) return false;
        throw error;
      }
    },

    async updateFactorSecret(userId, factorId, secret) {
      await query(`UPDATE ${t.factors} SET secret = $3 WHERE user_id = $1 AND id = $2`, [userId, factorId, secret]);
    },

    async touchFactor(userId, factorId, lastUsedAt) {
      await query(`UPDATE ${t.factors} SET last_used_at = $3 WHERE user_id = $1 AND id = $2`, [userId, factorId, lastUsedAt]);
    },

    async advanceFactorCounter(userId, factorId, counter, usedAt) {
      // The replay and clone guard. Atomic: N callers with the same value queue on the factor's
      // row lock; the first sets counter = value, and for every later one the re-checked condition
      // `counter < value` is false, so it updates nothing and gets no row back.
      const rows = await query(
        `UPDATE ${t.factors}
            SET counter = $3, last_used_at = $4
          WHERE user_id = $1 AND id = $2 AND (counter IS NULL OR counter < $3)
        RETURNING counter`,
        [userId, factorId, counter, usedAt],
      );
      return rows.length === 1;
    },

    async deleteFactor(userId, factorId) {
      const rows = await query(`DELETE FROM ${t.factors} WHERE user_id = $1 AND id = $2 RETURNING id`, [userId, factorId]);
      return rows.length === 1;
    },

    async deleteFactors(userId) {
      return count(`DELETE FROM ${t.factors} WHERE user_id = $1`, [userId]);
    },

    // ===== backup codes =========================================================================
    async replaceBackupCodes(userId, set) {
      // Atomic: one transaction, so other sessions see the old set or the new one, never a mix.
      // The upsert comes first and locks the user's set row: a concurrent regeneration waits on it
      // and then deletes all of this one's codes. A consumer racing us waits on the code row we
      // delete and then finds it gone; our new rows are not in its statement's snapshot.
      const hashes = [...new Set(set.hashes)];
      await inTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO ${t.backupCodeSets} (user_id, salt, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET salt = excluded.salt, created_at = excluded.created_at`,
          [userId, set.salt, set.createdAt],
        );
        await client.query(`DELETE FROM ${t.backupCodes} WHERE user_id = $1`, [userId]);
        // All codes in one statement, in the order given (position = index in set.hashes).
        await client.query(
          `INSERT INTO ${t.backupCodes} (user_id, code_hash, position)
           SELECT $1, h.code_hash, h.ord - 1 FROM unnest($2::text[]) WITH ORDINALITY AS h(code_hash, ord)`,
          [userId, hashes],
        );
      });
    },

    async getBackupCodes(userId) {
      // One statement, one snapshot: the salt always belongs to the hashes it is returned with.
      const rows = await query<BackupCodeSetRow>(
        `SELECT s.salt, s.created_at,
                COALESCE(array_agg(c.code_hash ORDER BY c.position) FILTER (WHERE c.code_hash IS NOT NULL), '{}') AS hashes
           FROM ${t.backupCodeSets} s
           LEFT JOIN ${t.backupCodes} c ON c.user_id = s.user_id AND c.used_at IS NULL
          WHERE s.user_id = $1
          GROUP BY s.user_id`,
        [userId],
      );
      const row = rows[0];
      return row ? { salt: row.salt, hashes: Array.from(row.hashes), createdAt: toNumber(row.created_at) } : null;
    },

    async consumeBackupCode(userId, hash, usedAt) {
      // Atomic: `used_at IS NULL` is re-checked under the code row's lock, so one of N parallel
      // consumers marks it used and the rest get no row. (The row is kept, with its used_at, until
      // the next regeneration; DELETE … RETURNING would be just as atomic.)
      const rows = await query(
        `UPDATE ${t.backupCodes} SET used_at = $3
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
        RETURNING code_hash`,
        [userId, hash, usedAt],
      );
      return rows.length === 1;
    },

    async deleteBackupCodes(userId) {
      // One statement: ON DELETE CASCADE removes the codes together with the set row.
      await query(`DELETE FROM ${t.backupCodeSets} WHERE user_id = $1`, [userId]);
    },

    // ===== trusted devices ======================================================================
    async createTrustedDevice(d) {
      await query(
        `INSERT INTO ${t.trustedDevices} (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [d.id, d.userId, d.tokenHash, d.label, d.createdAt, d.lastSeenAt, d.expiresAt],
      );
    },

    async findTrustedDevice(tokenHash) {
      const rows = await query<TrustedDeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM ${t.trustedDevices} WHERE token_hash = $1`, [tokenHash]);
      return rows[0] ? rowToDevice(rows[0]) : null;
    },

    async touchTrustedDevice(userId, deviceId, lastSeenAt) {
      // Only last_seen_at: the absolute expires_at is never extended.
      await query(`UPDATE ${t.trustedDevices} SET last_seen_at = $3 WHERE user_id = $1 AND id = $2`, [userId, deviceId, lastSeenAt]);
    },

    async listTrustedDevices(userId) {
      const rows = await query<TrustedDeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM ${t.trustedDevices} WHERE user_id = $1 ORDER BY created_at, id`, [userId],
      );
      return rows.map(rowToDevice);
    },

    async deleteTrustedDevice(userId, deviceId) {
      const rows = await query(`DELETE FROM ${t.trustedDevices} WHERE user_id = $1 AND id = $2 RETURNING id`, [userId, deviceId]);
      return rows.length === 1;
    },

    async deleteTrustedDevices(userId) {
      return count(`DELETE FROM ${t.trustedDevices} WHERE user_id = $1`, [userId]);
    },

    // ===== audit log ============================================================================
    // Append-only: nothing here needs to be atomic beyond one INSERT or one DELETE.
    async appendEvent(e) {
      await query(
        `INSERT INTO ${t.events} (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [e.id, e.at, e.day, e.type, e.userId, e.outcome, e.factorId, e.factorType, e.reason, e.purpose, e.ip, e.userAgent, e.actor, e.detail],
      );
    },

    async listEvents({ userId, since, until, before, limit }) {
      // Each filter is present or a NULL parameter that switches it off. The cursor is "strictly
      // older in (at, id) order": the row value comparison (at, id) < ($5, $6), which PostgreSQL
      // answers from the index; `at <= $5` alone would repeat the cursor's own row.
      // ORDER BY at DESC, id DESC walks events_user_idx (or events_at_idx) backwards and stops
      // after `limit` rows. A plan cached for all-NULL filters would be poor, so the user and
      // no-user cases are two statements.
      const values = [since ?? null, until ?? null, before?.at ?? null, before?.id ?? null, limit];
      const bounds = `($1::bigint IS NULL OR at >= $1) AND ($2::bigint IS NULL OR at < $2)
          AND ($3::bigint IS NULL OR (at, id) < ($3, $4::text))`;
      const rows = userId === undefined
        ? await query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${t.events} WHERE ${bounds} ORDER BY at DESC, id DESC LIMIT $5`, values)
        : await query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM ${t.events} WHERE user_id = $6 AND ${bounds} ORDER BY at DESC, id DESC LIMIT $5`,
          [...values, userId],
        );
      return rows.map(rowToEvent);
    },

    async purgeEvents(before) {
      return count(`DELETE FROM ${t.events} WHERE at < $1`, [before]);
    },

    async countEventsByDay({ since, until }) {
      // The day bounds are a range of events_day_idx, which holds every column read here.
      if (!(until > since)) return [];
      const rows = await query<{ day: number; type: string; factor_type: string | null; outcome: string; n: string }>(
        `SELECT day, type, factor_type, outcome, count(*) AS n FROM ${t.events}
          WHERE day BETWEEN $1 AND $2 AND at >= $3 AND at < $4
          GROUP BY day, type, factor_type, outcome`,
        [Math.floor(since / DAY_MS), Math.floor((until - 1) / DAY_MS), since, until],
      );
      return rows.map((r) => ({
        day: r.day, type: r.type, factorType: r.factor_type, outcome: r.outcome === 'success' ? 'success' : 'failure', count: toNumber(r.n),
      }));
    },

    async countMfaUsers() {
      // Both from factors_status_type_idx alone. GROUPING SETS: the total and the per-type figures
      // in one statement, so they come from one snapshot.
      const rows = await query<{ type: string | null; n: string }>(
        `SELECT type, count(DISTINCT user_id) AS n FROM ${t.factors} WHERE status = 'active' GROUP BY GROUPING SETS ((), (type))`,
        [],
      );
      const total = rows.find((r) => r.type === null);
      return {
        users: total ? toNumber(total.n) : 0,
        byType: rows.filter((r) => r.type !== null).map((r) => ({ type: r.type as string, users: toNumber(r.n) })),
      };
    },

    // ===== login challenges =====================================================================
    async createChallenge(c, ttlSeconds) {
      // Challenge ids are hashes of fresh random tokens: a plain INSERT, a collision is an error.
      await query(
        `INSERT INTO ${t.challenges} (${CHALLENGE_COLUMNS}, purge_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [c.id, c.userId, c.methods, c.createdAt, c.expiresAt, c.attempts, physicalNow() + ttlSeconds * 1000],
      );
    },

    async getChallenge(id) {
      const rows = await query<ChallengeRow>(
        `SELECT ${CHALLENGE_COLUMNS} FROM ${t.challenges} WHERE id = $1 AND purge_at > $2`, [id, physicalNow()],
      );
      return rows[0] ? rowToChallenge(rows[0]) : null;
    },

    async incrementChallengeAttempts(id) {
      // Atomic: `attempts + 1` is computed by the database on the locked row, so N parallel wrong
      // codes yield the counts 1..N, none lost. No row back: the challenge is gone (or expired).
      const rows = await query<{ attempts: number }>(
        `UPDATE ${t.challenges} SET attempts = attempts + 1 WHERE id = $1 AND purge_at > $2 RETURNING attempts`,
        [id, physicalNow()],
      );
      return rows[0] ? rows[0].attempts : null;
    },

    async takeChallenge(id) {
      // Atomic: the first DELETE removes the row; racing DELETEs wait on its lock, then find the
      // row gone and return nothing. Exactly one caller completes the login.
      const rows = await query(`DELETE FROM ${t.challenges} WHERE id = $1 AND purge_at > $2 RETURNING id`, [id, physicalNow()]);
      return rows.length === 1;
    },

    // ===== factor state (sent codes, WebAuthn challenges) =====================================
    async putFactorState(key, c, ttlSeconds) {
      // Atomic replace: INSERT … ON CONFLICT DO UPDATE overwrites every column of earlier state
      // in one statement, so a resend invalidates the old code (its hash is gone) and resets attempts.
      await query(
        `INSERT INTO ${t.factorState} (state_key, ${STATE_COLUMNS}, purge_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (state_key) DO UPDATE SET
           type = excluded.type, purpose = excluded.purpose, user_id = excluded.user_id, factor_id = excluded.factor_id,
           secret = excluded.secret, created_at = excluded.created_at, expires_at = excluded.expires_at,
           attempts = excluded.attempts, purge_at = excluded.purge_at`,
        [key, c.type, c.purpose, c.userId, c.factorId, c.secret, c.createdAt, c.expiresAt, c.attempts, physicalNow() + ttlSeconds * 1000],
      );
    },

    async getFactorState(key) {
      const rows = await query<FactorStateRow>(
        `SELECT ${STATE_COLUMNS} FROM ${t.factorState} WHERE state_key = $1 AND purge_at > $2`, [key, physicalNow()],
      );
      return rows[0] ? rowToFactorState(rows[0]) : null;
    },

    async incrementFactorStateAttempts(key) {
      // Atomic for the same reason as incrementChallengeAttempts.
      const rows = await query<{ attempts: number }>(
        `UPDATE ${t.factorState} SET attempts = attempts + 1 WHERE state_key = $1 AND purge_at > $2 RETURNING attempts`,
        [key, physicalNow()],
      );
      return rows[0] ? rows[0].attempts : null;
    },

    async consumeFactorState(key, secret) {
      // Atomic: a conditional DELETE. Only a row still holding *this* secret is removed, so a stale
      // code never consumes a fresh one, and of N parallel consumers one gets the row back.
      const rows = await query(
        `DELETE FROM ${t.factorState} WHERE state_key = $1 AND secret = $2 AND purge_at > $3 RETURNING state_key`,
        [key, secret, physicalNow()],
      );
      return rows.length === 1;
    },

    async deleteFactorState(key) {
      await query(`DELETE FROM ${t.factorState} WHERE state_key = $1`, [key]);
    },

    // ===== counters (send limits, cooldowns) ====================================================
    async incrementCounter(key, ttlSeconds) {
      // Atomic: one upsert. The first caller inserts hits = 1 with expires_at = now + ttl; every
      // racing caller waits on that row and then takes the DO UPDATE branch on it, so N parallel
      // calls return 1..N. A row whose window has passed restarts at 1 with a new expires_at; a
      // live row keeps its expires_at, so increments never extend the window.
      const now = physicalNow();
      const rows = await query<{ hits: string }>(
        `INSERT INTO ${t.counters} AS c (counter_key, hits, expires_at) VALUES ($1, 1, $2)
         ON CONFLICT (counter_key) DO UPDATE SET
           hits       = CASE WHEN c.expires_at <= $3 THEN 1 ELSE c.hits + 1 END,
           expires_at = CASE WHEN c.expires_at <= $3 THEN excluded.expires_at ELSE c.expires_at END
         RETURNING hits`,
        [key, now + ttlSeconds * 1000, now],
      );
      const row = rows[0];
      if (!row) throw new Error('pgStore: counter upsert returned no row');
      return toNumber(row.hits);
    },

    async getCounter(key) {
      // A counter whose window has passed reads as 0 (the next increment restarts it at 1).
      const rows = await query<{ hits: string }>(`SELECT hits FROM ${t.counters} WHERE counter_key = $1 AND expires_at > $2`, [key, physicalNow()]);
      return rows[0] ? toNumber(rows[0].hits) : 0;
    },

    // ===== attempt state (consecutive failures per user) ========================================
    async getAttemptState(userId) {
      const rows = await query<AttemptStateRow>(
        `SELECT failures, blocked_until, locked, clients, version FROM ${t.attemptState} WHERE user_id = $1`, [userId],
      );
      return rows[0] ? rowToAttemptState(rows[0]) : null;
    },

    async compareAndSetAttemptState(userId, expectedVersion, next) {
      if (expectedVersion === null) {
        // Create-if-absent: ON CONFLICT DO NOTHING returns a row only to the caller whose INSERT
        // went in; concurrent creators wait on the primary key, then do nothing and get no row.
        const rows = await query(
          `INSERT INTO ${t.attemptState} (user_id, failures, blocked_until, locked, clients, version) VALUES ($1, $2, $3, $4, $5::jsonb, 1)
           ON CONFLICT (user_id) DO NOTHING
           RETURNING version`,
          [userId, next.failures, next.blockedUntil, next.locked, JSON.stringify(next.clients)],
        );
        return rows.length === 1;
      }
      // Compare-and-set on version: `version = $5` is re-checked under the row lock, and the
      // winner bumps it, so of N writers holding the same version exactly one succeeds.
      const rows = await query(
        `UPDATE ${t.attemptState}
            SET failures = $2, blocked_until = $3, locked = $4, clients = $6::jsonb, version = version + 1
          WHERE user_id = $1 AND version = $5
        RETURNING version`,
        [userId, next.failures, next.blockedUntil, next.locked, expectedVersion, JSON.stringify(next.clients)],
      );
      return rows.length === 1;
    },

    // ===== housekeeping =========================================================================
    async purgeExpired() {
      // Not atomic and need not be: expired rows already read as absent everywhere above.
      const now = physicalNow();
      return (
        (await count(`DELETE FROM ${t.challenges} WHERE purge_at <= $1`, [now])) +
        (await count(`DELETE FROM ${t.factorState} WHERE purge_at <= $1`, [now])) +
        (await count(`DELETE FROM ${t.counters} WHERE expires_at <= $1`, [now]))
      );
    },
  };
}
