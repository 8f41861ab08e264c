// examples/custom-storage/src/transaction.ts
// Runs a function inside one PostgreSQL transaction on one pooled connection: BEGIN, the
// function's statements, COMMIT — or ROLLBACK on any error, so either all of it happened or none.
import type { Pool, PoolClient } from 'pg';

/**
 * `fn` must send every statement through the `client` it is given (not the pool), or they run
 * outside the transaction. The isolation level is pinned to READ COMMITTED, PostgreSQL's default,
 * because the store's reasoning about row locks assumes it (see README: "Isolation level").
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      // The connection itself is in trouble: release(err) makes the pool discard it.
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
