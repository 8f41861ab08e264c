// packages/knex/src/knex-store.ts
// The storage contract over knex (PostgreSQL, SQLite, MySQL/MariaDB). Every atomic operation
// is one conditional SQL statement checked by its affected-row count, or one transaction;
// nothing is read in JavaScript and then written back. Arrays handed out are built here
// (`Array.from`), never derived from the driver's arrays, so they belong to the caller's realm.
import type { Knex } from 'knex';
import { MfaConfigError, type MfaStore } from '@secondfactor/core';
import { dialectOf, isUniqueViolation, retryOnLockRace, toNumber } from './dialect';
import { tableNames, type KnexStoreOptions } from './options';
import { batchedInsert } from './batched-insert';
import { preparer } from './prepared';
import {
  challengeToRow, clientsToJson, deviceToRow, eventToRow, factorStateToRow, factorToRow, rowToAttemptState, rowToChallenge, rowToDevice,
  rowToEvent, rowToFactor, rowToFactorState, toOutcome,
  type AttemptStateRow, type BackupCodeRow, type BackupCodeSetRow, type ChallengeRow, type CounterRow, type EventRow,
  type FactorRow, type FactorStateRow, type TrustedDeviceRow,
} from './rows';

/** An `MfaStore` in SQL, plus clean-up of rows whose time to live has passed. */
export interface KnexMfaStore extends MfaStore {
  /**
   * Deletes expired challenges, factor state and counters (they already read as absent).
   * Returns how many rows went. Run it now and then, e.g. hourly.
   */
  purgeExpired(): Promise<number>;
}

const DAY_MS = 86_400_000;

/** Every column of a row type, in a fixed order: leaving one out is a type error. */
const columnsOf = <R>() => <const C extends readonly (keyof R & string)[]>(
  columns: C & ([Exclude<keyof R, C[number]>] extends [never] ? unknown : { missingColumns: Exclude<keyof R, C[number]> }),
): C => columns;

/**
 * `query.first(…)` with its `LIMIT 1` written into the SQL instead of bound. SQLite (3.47 and later)
 * plans with the value bound to a LIMIT, so each new binding expires the prepared statement and
 * SQLite prepares it again on every execution (`sqlite3ExprIsInteger` → `sqlite3VdbeSetVarmask`):
 * about 10 µs per read here, four times per login verification (#13). A literal limit keeps the
 * statement prepared once; PostgreSQL and MySQL run the same SQL either way.
 */
const first = (query: Knex.QueryBuilder, ...columns: (string | Knex.Raw)[]): Knex.QueryBuilder =>
  query.first(...(columns as string[])).limit(1, { skipBinding: true });

/** The row shape `getBackupCodes` reads: the set joined with its unused codes. */
interface BackupCodeJoinRow {
  salt: string;
  created_at: unknown;
  code_hash: string | null;
}

/**
 * Durable and ephemeral storage in one SQL database, for hosts with or without Redis.
 * Run `migrate(knex, { tablePrefix })` (or the migration source) first.
 *
 * @example
 * const db = knex({ client: 'pg', connection: process.env.DATABASE_URL });
 * await migrate(db);
 * const mfa = createMfa({ store: knexStore(db), ... });
 */
export function knexStore(knex: Knex, options: KnexStoreOptions = {}): KnexMfaStore {
  if (typeof knex !== 'function' || typeof knex.transaction !== 'function') {
    throw new MfaConfigError('knex', 'must be a knex instance');
  }
  const t = tableNames(options.tablePrefix);
  const dialect = dialectOf(knex);
  const physicalNow = options.physicalNow ?? Date.now;
  if (typeof physicalNow !== 'function') throw new MfaConfigError('physicalNow', 'must be a function returning epoch milliseconds');
  /** PostgreSQL and SQLite (≥ 3.35) return the rows an UPDATE/INSERT changed; MySQL/MariaDB do not. */
  const hasReturning = dialect !== 'mysql';
  const prepare = preparer(knex);
  /** INSERT of one row of `columns` (values in that order), optionally an upsert on `conflict`. */
  const insertRow = (table: string, columns: readonly string[], conflict?: string) => prepare<unknown[], void>('none', (...values) => {
    const insert = knex(table).insert(Object.fromEntries(columns.map((c, i) => [c, values[i]])));
    return conflict ? insert.onConflict(conflict).merge() : insert;
  }, columns.length);
  const valuesOf = <R extends object>(row: R, columns: readonly (keyof R & string)[]) => columns.map((c) => row[c]);
  const EVENT_COLUMNS = columnsOf<EventRow>()(['id', 'at', 'day', 'type', 'user_id', 'outcome', 'factor_id', 'factor_type', 'reason', 'purpose', 'ip', 'user_agent', 'actor', 'detail']);
  const CHALLENGE_COLUMNS = columnsOf<ChallengeRow>()(['id', 'user_id', 'methods', 'created_at', 'expires_at', 'attempts', 'purge_at']);
  const FACTOR_STATE_COLUMNS = columnsOf<FactorStateRow>()(['state_key', 'type', 'purpose', 'user_id', 'factor_id', 'secret', 'created_at', 'expires_at', 'attempts', 'purge_at']);
  const ATTEMPT_COLUMNS = columnsOf<AttemptStateRow>()(['user_id', 'failures', 'blocked_until', 'locked', 'clients', 'version']);

  // The statements of the hot paths (a login's verification, requireMfa's neighbours), built once.
  const sql = {
    getFactor: prepare<[string, string], FactorRow | undefined>('first', (userId, id) => first(knex(t.factors).where({ user_id: userId, id })), 2),
    listFactors: prepare<[string], FactorRow[]>('rows', (userId) => knex(t.factors).where({ user_id: userId }).orderBy([{ column: 'created_at' }, { column: 'id' }]), 1),
    touchFactor: prepare<[string, string, number], number>('count', (userId, id, at) => knex(t.factors).where({ user_id: userId, id }).update({ last_used_at: at }), 3),
    // UPDATE factors SET counter=?, last_used_at=? WHERE user_id=? AND id=? AND (counter IS NULL OR counter < ?)
    advanceFactorCounter: prepare<[string, string, number, number], number>('count', (userId, id, counter, at) => knex(t.factors)
      .where({ user_id: userId, id })
      .andWhere((q) => q.whereNull('counter').orWhere('counter', '<', counter))
      .update({ counter, last_used_at: at }), 4),
    // UPDATE backup_codes SET used_at=? WHERE user_id=? AND code_hash=? AND used_at IS NULL
    consumeBackupCode: prepare<[string, string, number], number>('count', (userId, hash, at) => knex(t.backupCodes)
      .where({ user_id: userId, code_hash: hash }).whereNull('used_at').update({ used_at: at }), 3),
    findTrustedDevice: prepare<[string], TrustedDeviceRow | undefined>('first', (hash) => first(knex(t.trustedDevices).where({ token_hash: hash })), 1),
    touchTrustedDevice: prepare<[string, string, number], number>('count', (userId, id, at) => knex(t.trustedDevices).where({ id, user_id: userId }).update({ last_seen_at: at }), 3),
    createChallenge: insertRow(t.challenges, CHALLENGE_COLUMNS, 'id'),
    getChallenge: prepare<[string, number], ChallengeRow | undefined>('first', (id, now) => first(knex(t.challenges).where({ id }).andWhere('purge_at', '>', now)), 2),
    // DELETE FROM challenges WHERE id=? AND purge_at > ?  — one caller deletes the row.
    takeChallenge: prepare<[string, number], number>('count', (id, now) => knex(t.challenges).where({ id }).andWhere('purge_at', '>', now).del(), 2),
    putFactorState: insertRow(t.factorState, FACTOR_STATE_COLUMNS, 'state_key'),
    getFactorState: prepare<[string, number], FactorStateRow | undefined>('first', (key, now) => first(knex(t.factorState).where({ state_key: key }).andWhere('purge_at', '>', now)), 2),
    // DELETE FROM factor_state WHERE state_key=? AND secret=? AND purge_at > ?
    consumeFactorState: prepare<[string, string, number], number>('count', (key, secret, now) => knex(t.factorState)
      .where({ state_key: key, secret }).andWhere('purge_at', '>', now).del(), 3),
    deleteFactorState: prepare<[string], number>('count', (key) => knex(t.factorState).where({ state_key: key }).del(), 1),
    getCounter: prepare<[string, number], Pick<CounterRow, 'hits'> | undefined>('first', (key, now) => first(knex(t.counters).where({ counter_key: key }).andWhere('purge_at', '>', now), 'hits'), 2),
    getAttemptState: prepare<[string], AttemptStateRow | undefined>('first', (userId) => first(knex(t.attemptState).where({ user_id: userId })), 1),
    createAttemptState: insertRow(t.attemptState, ATTEMPT_COLUMNS),
    // UPDATE attempt_state SET failures=?, blocked_until=?, locked=?, clients=?, version = version + 1 WHERE user_id=? AND version=?
    updateAttemptState: prepare<[string, number, number, number, boolean, string], number>('count', (userId, version, failures, blockedUntil, locked, clients) => knex(t.attemptState)
      .where({ user_id: userId, version })
      .update({ failures, blocked_until: blockedUntil, locked, clients, version: knex.raw('?? + 1', ['version']) }), 6),
    // UPDATE <table> SET attempts = attempts + 1 WHERE <key> = ? AND purge_at > ? RETURNING attempts
    incrementChallengeAttempts: hasReturning ? incrementReturning(t.challenges, 'id') : null,
    incrementFactorStateAttempts: hasReturning ? incrementReturning(t.factorState, 'state_key') : null,
    // INSERT INTO counters (counter_key, hits, purge_at) VALUES (?, 1, ?)
    // ON CONFLICT (counter_key) DO UPDATE SET
    //   hits     = CASE WHEN counters.purge_at <= ? THEN 1 ELSE counters.hits + 1 END,
    //   purge_at = CASE WHEN counters.purge_at <= ? THEN excluded.purge_at ELSE counters.purge_at END
    // RETURNING hits
    incrementCounter: hasReturning
      ? prepare<[string, number, number], Pick<CounterRow, 'hits'>[]>('rows', (key, purgeAt, now) => {
        const expired = knex.raw('?? <= ?', [`${t.counters}.purge_at`, now]);
        return knex(t.counters)
          .insert({ counter_key: key, hits: 1, purge_at: purgeAt })
          .onConflict('counter_key')
          .merge({
            hits: knex.raw('CASE WHEN ? THEN 1 ELSE ?? + 1 END', [expired, `${t.counters}.hits`]),
            purge_at: knex.raw('CASE WHEN ? THEN ?? ELSE ?? END', [expired, 'excluded.purge_at', `${t.counters}.purge_at`]),
          })
          .returning('hits');
      }, 3)
      : null,
  };

  /** INSERTs of 1 to MAX_BATCH_ROWS events in one statement, prepared for each row count when first used. */
  const insertEventsOf: ((...values: unknown[]) => Promise<void>)[] = [];
  const insertEvents = (rows: unknown[][]) => {
    const n = rows.length;
    insertEventsOf[n] ??= prepare<unknown[], void>('none', (...values) => knex(t.events).insert(Array.from({ length: n }, (_, r) => (
      Object.fromEntries(EVENT_COLUMNS.map((c, i) => [c, values[r * EVENT_COLUMNS.length + i]]))
    ))), n * EVENT_COLUMNS.length);
    return insertEventsOf[n](...rows.flat());
  };
  /** One event, written in one statement with the others of the same turn of the event loop. */
  const appendEventRow = batchedInsert<unknown[]>(insertEvents);

  function incrementReturning(table: string, keyColumn: string) {
    return prepare<[string, number], { attempts: unknown }[]>('rows', (key, now) => knex(table)
      .where(keyColumn, key).andWhere('purge_at', '>', now).update({ attempts: knex.raw('?? + 1', ['attempts']) }).returning('attempts'), 2);
  }

  /**
   * `attempts = attempts + 1` on one live row, returning the new count (null when the row is absent
   * or expired). The row lock makes parallel increments queue, so each sees its own count.
   */
  async function incrementAttempts(
    table: string, keyColumn: string, key: string, returning: ((key: string, now: number) => Promise<{ attempts: unknown }[]>) | null,
  ): Promise<number | null> {
    const now = physicalNow();
    if (returning) {
      const rows = await retryOnLockRace(() => returning(key, now));
      return rows[0] ? toNumber(rows[0].attempts) : null;
    }
    const bump = { attempts: knex.raw('?? + 1', ['attempts']) };
    // MySQL: the UPDATE takes the row lock; the SELECT in the same transaction reads our own write.
    return retryOnLockRace(() => knex.transaction(async (trx) => {
      const changed = await trx(table).where(keyColumn, key).andWhere('purge_at', '>', now).update(bump);
      if (changed !== 1) return null;
      const row: { attempts: unknown } | undefined = await first(trx(table).where(keyColumn, key), 'attempts');
      return row ? toNumber(row.attempts) : null;
    }));
  }

  return {
    // ----- factors -------------------------------------------------------------------------
    async createFactor(factor) {
      await knex<FactorRow>(t.factors).insert(factorToRow(factor));
    },
    async getFactor(userId, factorId) {
      const row = await sql.getFactor(userId, factorId);
      return row ? rowToFactor(row) : null;
    },
    async listFactors(userId) {
      return Array.from(await sql.listFactors(userId), rowToFactor);
    },
    async activateFactor(userId, factorId, activation) {
      // UPDATE factors SET status='active', confirmed_at=?, last_used_at=?, counter=?[, data=?][, lookup_key=?]
      //   WHERE user_id=? AND id=? AND status='pending'
      // The unique index on (type, lookup_key) refuses a key another factor of this type holds.
      const { confirmedAt, counter, data, lookupKey } = activation;
      try {
        const changed = await retryOnLockRace(() => knex<FactorRow>(t.factors)
          .where({ user_id: userId, id: factorId, status: 'pending' })
          .update({
            status: 'active', confirmed_at: confirmedAt, last_used_at: confirmedAt, counter,
            ...(data === undefined ? {} : { data: JSON.stringify(data) }),
            ...(lookupKey === undefined ? {} : { lookup_key: lookupKey }),
          }));
        return changed === 1;
      } catch (error) {
        if (lookupKey !== undefined && isUniqueViolation(error)) return false;
        throw error;
      }
    },
    async updateFactorSecret(userId, factorId, secret) {
      await knex<FactorRow>(t.factors).where({ user_id: userId, id: factorId }).update({ secret });
    },
    async touchFactor(userId, factorId, lastUsedAt) {
      await sql.touchFactor(userId, factorId, lastUsedAt);
    },
    async advanceFactorCounter(userId, factorId, counter, usedAt) {
      // Concurrent callers queue on the row lock and re-check the condition: one changes the row.
      return (await retryOnLockRace(() => sql.advanceFactorCounter(userId, factorId, counter, usedAt))) === 1;
    },
    async deleteFactor(userId, factorId) {
      return (await knex<FactorRow>(t.factors).where({ user_id: userId, id: factorId }).del()) === 1;
    },
    async deleteFactors(userId) {
      return knex<FactorRow>(t.factors).where({ user_id: userId }).del();
    },

    // ----- backup codes --------------------------------------------------------------------
    async replaceBackupCodes(userId, set) {
      const hashes = [...new Set(set.hashes)];
      await retryOnLockRace(() => knex.transaction(async (trx) => {
        // Upserting the per-user set row first locks it, so concurrent replacements of one user's
        // set run one after the other and the later one deletes the earlier one's codes.
        await trx<BackupCodeSetRow>(t.backupCodeSets)
          .insert({ user_id: userId, salt: set.salt, created_at: set.createdAt })
          .onConflict('user_id').merge(['salt', 'created_at']);
        await trx<BackupCodeRow>(t.backupCodes).where({ user_id: userId }).del();
        if (hashes.length > 0) {
          await trx<BackupCodeRow>(t.backupCodes)
            .insert(hashes.map((hash, position) => ({ user_id: userId, code_hash: hash, position, used_at: null })));
        }
      }));
    },
    async getBackupCodes(userId) {
      // One statement, so the salt and the hashes come from the same committed set.
      const rows: BackupCodeJoinRow[] = await knex({ s: t.backupCodeSets })
        .leftJoin({ c: t.backupCodes }, (on) => {
          on.on('c.user_id', '=', 's.user_id').andOnNull('c.used_at');
        })
        .where('s.user_id', userId)
        .orderBy('c.position')
        .select('s.salt', 's.created_at', 'c.code_hash');
      const first = rows[0];
      if (!first) return null;
      const hashes: string[] = [];
      for (const r of rows) if (r.code_hash !== null) hashes.push(r.code_hash);
      return { salt: first.salt, hashes, createdAt: toNumber(first.created_at) };
    },
    async consumeBackupCode(userId, hash, usedAt) {
      return (await retryOnLockRace(() => sql.consumeBackupCode(userId, hash, usedAt))) === 1;
    },
    async deleteBackupCodes(userId) {
      await retryOnLockRace(() => knex.transaction(async (trx) => {
        await trx<BackupCodeSetRow>(t.backupCodeSets).where({ user_id: userId }).del();
        await trx<BackupCodeRow>(t.backupCodes).where({ user_id: userId }).del();
      }));
    },

    // ----- trusted devices -----------------------------------------------------------------
    async createTrustedDevice(device) {
      await knex<TrustedDeviceRow>(t.trustedDevices).insert(deviceToRow(device));
    },
    async findTrustedDevice(tokenHash) {
      const row = await sql.findTrustedDevice(tokenHash);
      return row ? rowToDevice(row) : null;
    },
    async touchTrustedDevice(userId, deviceId, lastSeenAt) {
      await sql.touchTrustedDevice(userId, deviceId, lastSeenAt);
    },
    async listTrustedDevices(userId) {
      const rows = await knex<TrustedDeviceRow>(t.trustedDevices).where({ user_id: userId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]);
      return Array.from(rows, rowToDevice);
    },
    async deleteTrustedDevice(userId, deviceId) {
      return (await knex<TrustedDeviceRow>(t.trustedDevices).where({ id: deviceId, user_id: userId }).del()) === 1;
    },
    async deleteTrustedDevices(userId) {
      return knex<TrustedDeviceRow>(t.trustedDevices).where({ user_id: userId }).del();
    },

    // ----- audit log -----------------------------------------------------------------------
    async appendEvent(event) {
      await appendEventRow(valuesOf(eventToRow(event), EVENT_COLUMNS));
    },
    async listEvents({ userId, since, until, before, limit }) {
      // SELECT * FROM events WHERE [user_id = ?] [AND at >= ?] [AND at < ?]
      //   [AND at <= ? AND (at < ? OR (at = ? AND id < ?))] ORDER BY at DESC, id DESC LIMIT ?
      // A walk down the (user_id, at, id) or (at, id) index that stops after `limit` rows. The
      // redundant `at <= ?` gives every database a range to seek to; the OR form of the cursor
      // works on all of them (MySQL does not use an index for a row-value comparison).
      const query = knex<EventRow>(t.events);
      if (userId !== undefined) query.where('user_id', userId);
      if (since !== undefined) query.andWhere('at', '>=', since);
      if (until !== undefined) query.andWhere('at', '<', until);
      if (before !== undefined) {
        query.andWhere('at', '<=', before.at).andWhere((q) => {
          q.where('at', '<', before.at).orWhere((tie) => tie.where('at', '=', before.at).andWhere('id', '<', before.id));
        });
      }
      const rows: EventRow[] = await query.orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit);
      return Array.from(rows, rowToEvent);
    },
    async purgeEvents(before) {
      // DELETE FROM events WHERE at < ?  (a range of the (at, id) index)
      return retryOnLockRace(() => knex<EventRow>(t.events).where('at', '<', before).del());
    },
    async countEventsByDay({ since, until }) {
      // SELECT day, type, factor_type, outcome, COUNT(*) FROM events
      //   WHERE day BETWEEN ? AND ? AND at >= ? AND at < ? GROUP BY day, type, factor_type, outcome
      // The day bounds make it a range of the (day, type, factor_type, outcome, at) index, which
      // holds every column the query reads: an index-only scan, already in group order.
      if (!(until > since)) return [];
      const rows: { day: unknown; type: string; factor_type: string | null; outcome: string; n: unknown }[] = await knex(t.events)
        .whereBetween('day', [Math.floor(since / DAY_MS), Math.floor((until - 1) / DAY_MS)])
        .andWhere('at', '>=', since).andWhere('at', '<', until)
        .groupBy('day', 'type', 'factor_type', 'outcome')
        .select('day', 'type', 'factor_type', 'outcome', knex.raw('COUNT(*) AS ??', ['n']));
      return Array.from(rows, (r) => ({
        day: toNumber(r.day), type: r.type, factorType: r.factor_type, outcome: toOutcome(r.outcome), count: toNumber(r.n),
      }));
    },
    async countMfaUsers() {
      // SELECT COUNT(DISTINCT user_id) FROM factors WHERE status = 'active' [GROUP BY type]
      // Both read only the (status, type, user_id) index.
      const active = () => knex<FactorRow>(t.factors).where('status', 'active');
      const [total, byType] = await Promise.all([
        first(active(), knex.raw('COUNT(DISTINCT ??) AS ??', ['user_id', 'n'])) as Promise<{ n: unknown } | undefined>,
        active().groupBy('type').select('type', knex.raw('COUNT(DISTINCT ??) AS ??', ['user_id', 'n'])) as Promise<{ type: string; n: unknown }[]>,
      ]);
      return {
        users: total ? toNumber(total.n) : 0,
        byType: Array.from(byType, (r) => ({ type: r.type, users: toNumber(r.n) })),
      };
    },

    // ----- challenges ----------------------------------------------------------------------
    async createChallenge(challenge, ttlSeconds) {
      await sql.createChallenge(...valuesOf(challengeToRow(challenge, physicalNow() + ttlSeconds * 1000), CHALLENGE_COLUMNS));
    },
    async getChallenge(id) {
      const row = await sql.getChallenge(id, physicalNow());
      return row ? rowToChallenge(row) : null;
    },
    async incrementChallengeAttempts(id) {
      return incrementAttempts(t.challenges, 'id', id, sql.incrementChallengeAttempts);
    },
    async takeChallenge(id) {
      const now = physicalNow();
      return (await retryOnLockRace(() => sql.takeChallenge(id, now))) === 1;
    },

    // ----- factor state ------------------------------------------------------------------
    async putFactorState(key, state, ttlSeconds) {
      const values = valuesOf(factorStateToRow(key, state, physicalNow() + ttlSeconds * 1000), FACTOR_STATE_COLUMNS);
      await retryOnLockRace(() => sql.putFactorState(...values));
    },
    async getFactorState(key) {
      const row = await sql.getFactorState(key, physicalNow());
      return row ? rowToFactorState(row) : null;
    },
    async incrementFactorStateAttempts(key) {
      return incrementAttempts(t.factorState, 'state_key', key, sql.incrementFactorStateAttempts);
    },
    async consumeFactorState(key, secret) {
      const now = physicalNow();
      return (await retryOnLockRace(() => sql.consumeFactorState(key, secret, now))) === 1;
    },
    async deleteFactorState(key) {
      await sql.deleteFactorState(key);
    },

    // ----- counters ------------------------------------------------------------------------
    async incrementCounter(key, ttlSeconds) {
      const now = physicalNow();
      const purgeAt = now + ttlSeconds * 1000;
      const upsert = sql.incrementCounter;
      if (upsert) {
        const rows = await retryOnLockRace(() => upsert(key, purgeAt, now));
        if (!rows[0]) throw new Error('@secondfactor/knex: counter upsert returned no row');
        return toNumber(rows[0].hits);
      }
      // MySQL/MariaDB evaluate ON DUPLICATE KEY UPDATE assignments left to right, each seeing the
      // previous one's result: `hits` first (reading the old purge_at), then `purge_at` is renewed
      // exactly when hits was reset to 1. The row stays locked until the SELECT has read it.
      return retryOnLockRace(() => knex.transaction(async (trx) => {
        await trx.raw(
          'INSERT INTO ?? (counter_key, hits, purge_at) VALUES (?, 1, ?) ' +
          'ON DUPLICATE KEY UPDATE hits = IF(purge_at <= ?, 1, hits + 1), purge_at = IF(hits = 1, ?, purge_at)',
          [t.counters, key, purgeAt, now, purgeAt],
        );
        const row: { hits: unknown } | undefined = await first(trx(t.counters).where({ counter_key: key }), 'hits');
        if (!row) throw new Error('@secondfactor/knex: counter upsert left no row');
        return toNumber(row.hits);
      }));
    },

    async getCounter(key) {
      const row = await sql.getCounter(key, physicalNow());
      return row ? toNumber(row.hits) : 0;
    },

    // ----- attempt state -------------------------------------------------------------------
    async getAttemptState(userId) {
      const row = await sql.getAttemptState(userId);
      return row ? rowToAttemptState(row) : null;
    },
    async compareAndSetAttemptState(userId, expectedVersion, next) {
      if (expectedVersion === null) {
        // INSERT ... version 1; the primary key lets exactly one of concurrent creators in.
        try {
          await sql.createAttemptState(userId, next.failures, next.blockedUntil, next.locked, clientsToJson(next.clients), 1);
          return true;
        } catch (error) {
          if (isUniqueViolation(error)) return false;
          throw error;
        }
      }
      const clients = clientsToJson(next.clients);
      const changed = await retryOnLockRace(() => sql.updateAttemptState(userId, expectedVersion, next.failures, next.blockedUntil, next.locked, clients));
      return changed === 1;
    },

    // ----- housekeeping --------------------------------------------------------------------
    async purgeExpired() {
      const now = physicalNow();
      let deleted = 0;
      for (const table of [t.challenges, t.factorState, t.counters]) {
        deleted += await retryOnLockRace(() => knex(table).where('purge_at', '<=', now).del());
      }
      return deleted;
    },
  };
}
