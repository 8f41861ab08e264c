// examples/custom-storage/src/schema.ts
// Creates and drops the store's PostgreSQL schema and tables. Plain DDL, safe to run on every
// start; a real host would more likely paste these statements into its own migration tool.
import type { Pool } from 'pg';
import { DEFAULT_SCHEMA, tablesIn } from './tables';
import { inTransaction } from './transaction';

/** The DDL for one schema. Times are epoch milliseconds in `bigint`: core's clock may lie far ahead. */
export function schemaStatements(schema: string = DEFAULT_SCHEMA): string[] {
  const t = tablesIn(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${t.schema}`,

    // ----- durable: factors, backup codes, trusted devices -----
    `CREATE TABLE IF NOT EXISTS ${t.factors} (
      user_id      text    NOT NULL,
      id           text    NOT NULL,
      type         text    NOT NULL,
      label        text,
      status       text    NOT NULL CHECK (status IN ('pending', 'active')),
      secret       text,                -- encrypted envelope, never the plain secret
      data         jsonb   NOT NULL,
      counter      bigint,              -- replay and clone guard: TOTP time step, WebAuthn signature counter
      lookup_key   text,                -- unique per type (a WebAuthn credential id), or NULL
      created_at   bigint  NOT NULL,
      confirmed_at bigint,
      last_used_at bigint,
      PRIMARY KEY (user_id, id)         -- also the index for per-user lookups
    )`,
    // One row per user with a current set. Its row lock serializes regenerations of one user's set.
    // NULLs are distinct: any number of factors without a lookup key.
    `CREATE UNIQUE INDEX IF NOT EXISTS factors_lookup_uq ON ${t.factors} (type, lookup_key)`,
    `CREATE TABLE IF NOT EXISTS ${t.backupCodeSets} (
      user_id    text   PRIMARY KEY,
      salt       text   NOT NULL,
      created_at bigint NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.backupCodes} (
      user_id   text    NOT NULL REFERENCES ${t.backupCodeSets} (user_id) ON DELETE CASCADE,
      code_hash text    NOT NULL,
      position  integer NOT NULL,
      used_at   bigint,                 -- set when consumed; the row stays until the next regeneration
      PRIMARY KEY (user_id, code_hash)
    )`,
    `CREATE TABLE IF NOT EXISTS ${t.trustedDevices} (
      id           text   PRIMARY KEY,
      user_id      text   NOT NULL,
      token_hash   text   NOT NULL UNIQUE,
      label        text,
      created_at   bigint NOT NULL,
      last_seen_at bigint NOT NULL,
      expires_at   bigint NOT NULL      -- absolute; never extended
    )`,
    `CREATE INDEX IF NOT EXISTS trusted_devices_user_idx ON ${t.trustedDevices} (user_id)`,
    // Users with an active factor, in all and per type, counted from this index alone.
    `CREATE INDEX IF NOT EXISTS factors_status_type_idx ON ${t.factors} (status, type, user_id)`,

    // ----- durable: the audit log (added with #11; an older schema gains it on the next createSchema) -----
    `CREATE TABLE IF NOT EXISTS ${t.events} (
      id          text    PRIMARY KEY,  -- random, chosen by core
      at          bigint  NOT NULL,
      day         integer NOT NULL,     -- floor(at / 86400000): the UTC day
      type        text    NOT NULL,
      user_id     text    NOT NULL,
      outcome     text    NOT NULL CHECK (outcome IN ('success', 'failure')),
      factor_id   text,
      factor_type text,
      reason      text,
      purpose     text,
      ip          text,
      user_agent  text,
      actor       text,                 -- the admin who acted, for admin actions
      detail      text                  -- free text an admin gave; never a secret, code or token
    )`,
    // One user's events newest first, paged: a backward walk of this index that stops at the limit.
    `CREATE INDEX IF NOT EXISTS events_user_idx ON ${t.events} (user_id, at, id)`,
    // Everyone's events newest first, paged; the retention purge.
    `CREATE INDEX IF NOT EXISTS events_at_idx ON ${t.events} (at, id)`,
    // Per-day figures from the index alone (an index-only scan, in group order).
    `CREATE INDEX IF NOT EXISTS events_day_idx ON ${t.events} (day, type, factor_type, outcome, at)`,

    // ----- ephemeral: challenges, factor state, counters, attempt state -----
    // expires_at is core's logical expiry (core checks it); purge_at is the wall-clock end of
    // ttlSeconds, after which the row reads as absent and purgeExpired() may delete it.
    `CREATE TABLE IF NOT EXISTS ${t.challenges} (
      id         text    PRIMARY KEY,   -- SHA-256 of the challenge token
      user_id    text    NOT NULL,
      methods    text[]  NOT NULL,
      created_at bigint  NOT NULL,
      expires_at bigint  NOT NULL,
      attempts   integer NOT NULL DEFAULT 0,
      purge_at   bigint  NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS challenges_purge_idx ON ${t.challenges} (purge_at)`,
    `CREATE TABLE IF NOT EXISTS ${t.factorState} (
      state_key  text    PRIMARY KEY,   -- login:<challenge>:<type>, enroll:<factor>, user:<user>:<type>
      type       text    NOT NULL,
      purpose    text    NOT NULL,      -- login, enroll, step_up
      user_id    text    NOT NULL,
      factor_id  text,                  -- NULL: any of the user's factors of this type may answer
      secret     text    NOT NULL,      -- a sent code's keyed hash, a WebAuthn challenge
      created_at bigint  NOT NULL,
      expires_at bigint  NOT NULL,
      attempts   integer NOT NULL DEFAULT 0,
      purge_at   bigint  NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS factor_state_purge_idx ON ${t.factorState} (purge_at)`,
    // A counter has no logical expiry: its expires_at is the wall-clock end of its window.
    `CREATE TABLE IF NOT EXISTS ${t.counters} (
      counter_key text   PRIMARY KEY,
      hits        bigint NOT NULL,
      expires_at  bigint NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS counters_expires_idx ON ${t.counters} (expires_at)`,
    // No TTL: consecutive failures never reset with time, only on success or by the host.
    `CREATE TABLE IF NOT EXISTS ${t.attemptState} (
      user_id       text    PRIMARY KEY,
      failures      integer NOT NULL,
      blocked_until bigint  NOT NULL,
      locked        boolean NOT NULL,
      clients       jsonb   NOT NULL DEFAULT '[]',
      version       bigint  NOT NULL
    )`,
    // The per-client counts (a list, in order), for a schema created before they were part of the state.
    `ALTER TABLE ${t.attemptState} ADD COLUMN IF NOT EXISTS clients jsonb NOT NULL DEFAULT '[]'`,
  ];
}

/**
 * Creates the schema and its tables unless they exist, in one transaction. An advisory lock on
 * the schema name makes app instances starting at once run it one after another (IF NOT EXISTS
 * alone still races on the system catalogs).
 */
export async function createSchema(pool: Pool, schema: string = DEFAULT_SCHEMA): Promise<void> {
  const statements = schemaStatements(schema);
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`secondfactor-schema:${schema}`]);
    for (const sql of statements) await client.query(sql);
  });
}

/** Drops the schema with every table in it: ALL MFA DATA of that schema is gone. */
export async function dropSchema(pool: Pool, schema: string = DEFAULT_SCHEMA): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${tablesIn(schema).schema} CASCADE`);
}
