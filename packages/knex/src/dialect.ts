// packages/knex/src/dialect.ts
// What differs between the supported databases: which one a knex instance talks to, how each
// reports a duplicate key or a lost lock race, and how each returns numbers.
import type { Knex } from 'knex';
import { MfaConfigError } from '@secondfactor/core';

export type Dialect = 'postgres' | 'sqlite' | 'mysql';

/** The dialect of a knex instance (or transaction); throws for databases we do not test against. */
export function dialectOf(knex: Knex): Dialect {
  const client: unknown = knex.client;
  const name = typeof client === 'object' && client !== null ? (client as { dialect?: unknown }).dialect : undefined;
  switch (name) {
    case 'postgresql':
      return 'postgres';
    case 'sqlite3':
      return 'sqlite';
    case 'mysql':
      return 'mysql';
    default:
      throw new MfaConfigError(
        'knex',
        `uses the ${JSON.stringify(name)} dialect; @secondfactor/knex supports PostgreSQL (pg), SQLite (better-sqlite3, sqlite3) and MySQL/MariaDB (mysql2, mysql)`,
      );
  }
}

function errorField(error: unknown, field: 'code' | 'errno'): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[field] : undefined;
}

/** A primary-key or unique-index violation, in any supported dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const code = errorField(error, 'code');
  return (
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' || errorField(error, 'errno') === 1062 || // MySQL / MariaDB
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/**
 * A statement or transaction the database aborted as a whole because of a lock race (deadlock,
 * serialization failure, busy file). Nothing of it was applied, so running it again is safe.
 */
function isRetryable(error: unknown): boolean {
  const code = errorField(error, 'code');
  return (
    code === '40P01' || code === '40001' || // PostgreSQL deadlock_detected, serialization_failure
    code === 'ER_LOCK_DEADLOCK' || errorField(error, 'errno') === 1213 ||
    code === 'SQLITE_BUSY'
  );
}

const MAX_ATTEMPTS = 5;

/** Runs `fn` (one statement or one whole transaction) again when the database aborted it for a lock race. */
export async function retryOnLockRace<T>(fn: () => PromiseLike<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
      // Jitter (not security-relevant) so the racers do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** Numbers come back as numbers (SQLite, mysql2) or as strings (PostgreSQL bigint). */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || typeof value === 'bigint') {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new TypeError(`@secondfactor/knex: expected an integer column value, got ${typeof value}`);
}

export function toNumberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/** Booleans come back as booleans (PostgreSQL) or as 0/1 (SQLite, MySQL `tinyint(1)`). */
export function toBoolean(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 1n;
}
