// packages/knex/src/prepared.ts
// Statements compiled once. Building and compiling a knex query costs more CPU than SQLite takes
// to run it (issue #13: about half of a verification's CPU went to knex's builder, compiler and
// runner, and to SQLite re-preparing the same text). A prepared statement is written with knex's
// query builder as before — the builder stays the one definition of the SQL, quoting and dialect
// included — but built once, with placeholders for its arguments; each call then hands the
// compiled SQL and its bindings to knex's client on a pooled connection. That is the path knex's
// own runner takes after compiling (same pool, same `query` events, same error messages, same
// response shapes), minus the per-call building. On better-sqlite3 the SQLite statement is also
// prepared once per connection.
//
// A client without the hooks this relies on (a future knex) runs the builder on every call, as
// before: the same SQL either way.
import { setImmediate } from 'node:timers';
import type { Knex } from 'knex';

/** What a statement returns: the first row, all rows, the number of rows changed, or nothing. */
type ResultKind = 'first' | 'rows' | 'count' | 'none';

interface CompiledQuery {
  method: string;
  sql: string;
  bindings: readonly unknown[];
  returning?: unknown;
  options?: unknown;
  output?: unknown;
}

/** The parts of knex's Client (v3) its Runner uses after compiling a query. */
interface ClientHooks {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown> | unknown;
  query(connection: unknown, query: Record<string, unknown>): Promise<unknown>;
  processResponse(response: unknown, runner: unknown): unknown;
  postProcessResponse(response: unknown, queryContext: unknown): unknown;
  driverName?: string;
  emit(event: string, ...args: unknown[]): boolean;
}

/** better-sqlite3's statement, as much of it as is used here. */
interface SqliteStatement {
  reader: boolean;
  /** False for a statement that writes (`UPDATE … RETURNING` too, which is also a reader). */
  readonly: boolean;
  all(bindings: unknown[]): unknown[];
  get(bindings: unknown[]): unknown;
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
/** tarn's pool (knex 3), as much of it as is read here. */
interface TarnPool {
  free?: { resource: unknown; timestamp?: number }[];
  pendingAcquires?: unknown[];
  emitter?: { listenerCount(event: string): number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  /** Whether a transaction is open on the connection. */
  inTransaction: boolean;
  __knexUid?: unknown;
}

/** A write waiting for the next group commit, and its caller. */
interface PendingWrite {
  query: CompiledQuery;
  values: unknown[];
  resolve(response: unknown): void;
  reject(error: unknown): void;
}

function hooksOf(knex: Knex): ClientHooks | null {
  const client = knex.client as Partial<ClientHooks> | undefined;
  const names = ['acquireConnection', 'releaseConnection', 'query', 'processResponse', 'postProcessResponse', 'emit'] as const;
  return client && names.every((n) => typeof client[n] === 'function') ? (client as ClientHooks) : null;
}

/** A placeholder no real argument can equal (a fresh object per argument position). */
class Argument {
  constructor(readonly index: number) {}
}

/**
 * Binds every argument (or constant) of a compiled query: `undefined` (an absent optional
 * column) is bound as NULL, as knex's `useNullAsDefault` inserts do.
 */
type Binding = { arg: number } | { constant: unknown };

export type Prepare = <A extends unknown[], R>(kind: ResultKind, build: (...args: A) => Knex.QueryBuilder | Knex.Raw, arity: A['length']) => (...args: A) => Promise<R>;

/** A function that prepares statements on `knex`. */
export function preparer(knex: Knex): Prepare {
  const client = hooksOf(knex);
  const isBetterSqlite = client?.driverName === 'better-sqlite3';
  /**
   * Whether an idle connection may be used where it lies (see idleSqliteConnection): better-sqlite3,
   * and a pool that validates no more than better-sqlite3's own check (no connection-config
   * provider, no `validate` hook of the host). Fixed for the knex instance, so decided once.
   */
  const mayUseIdle = isBetterSqlite && !(knex.client as { connectionConfigProvider?: unknown }).connectionConfigProvider
    && typeof (knex.client as { config?: { pool?: { validate?: unknown } } }).config?.pool?.validate !== 'function';
  /** better-sqlite3 statements by connection and SQL text. */
  const sqliteStatements = new WeakMap<object, Map<string, SqliteStatement>>();
  /** Writes waiting for the next group commit (see groupCommitted). */
  let pendingWrites: PendingWrite[] = [];

  function compile(build: (...args: unknown[]) => Knex.QueryBuilder | Knex.Raw, arity: number): { query: CompiledQuery; bindings: Binding[] } | null {
    const placeholders = Array.from({ length: arity }, (_, i) => new Argument(i));
    const compiled = build(...placeholders).toSQL() as unknown as CompiledQuery | CompiledQuery[];
    // One statement whose response knex shapes without its runner; anything else keeps the builder.
    if (Array.isArray(compiled) || compiled.output !== undefined || 'statementsProducer' in compiled) return null;
    const bindings = compiled.bindings.map((b): Binding => (b instanceof Argument ? { arg: b.index } : { constant: b }));
    const { method, sql, returning, options } = compiled;
    return { query: { method, sql, bindings: [], returning, options }, bindings };
  }

  return <A extends unknown[], R>(kind: ResultKind, build: (...args: A) => Knex.QueryBuilder | Knex.Raw, arity: A['length']) => {
    const compiled = client ? compile(build as unknown as (...args: unknown[]) => Knex.QueryBuilder | Knex.Raw, arity) : null;
    if (!client || !compiled) {
      return async (...args: A) => shape(kind, await build(...args)) as R;
    }
    const { query, bindings } = compiled;
    return async (...args: A): Promise<R> => {
      const values = bindings.map((b) => {
        const v = 'arg' in b ? args[b.arg] : b.constant;
        return v === undefined ? null : v;
      });
      if (mayUseIdle) {
        const idle = idleSqliteConnection();
        if (idle) {
          const statement = statementOf(idle, query.sql);
          const response = statement.readonly ? runSqlite(idle, query, values, statement) : await groupCommitted(query, values);
          return shape(kind, client.postProcessResponse(response, undefined)) as R;
        }
      }
      const connection = await client.acquireConnection();
      try {
        let response: unknown;
        if (isBetterSqlite) response = runSqlite(connection as SqliteConnection, query, values);
        else response = client.processResponse(await client.query(connection, { ...query, bindings: values }), null);
        return shape(kind, client.postProcessResponse(response, undefined)) as R;
      } finally {
        await client.releaseConnection(connection);
      }
    };
  };

  /**
   * The connection the pool holds idle, when taking it would be a formality: nobody waits for a
   * connection, and the pool would hand this one over without asking anything of it (knex 3's
   * validation: not disposed, no lifetime limit, no connection-config provider, no `validate`
   * hook of the host; better-sqlite3's own check is that it is open), and nobody listens to the
   * pool's acquire and release events. better-sqlite3 runs a statement synchronously, so running
   * it on that connection where it lies is the same as acquiring and releasing it around the call
   * — nothing else can run in between, and a transaction holds its connection as used, so it is
   * never found here — without the pool's promises and acquire timer per statement (a quarter of
   * a verification's CPU in process, issue #13). Anything else: null, and the pool is asked.
   */
  function idleSqliteConnection(): SqliteConnection | null {
    const pool = (knex.client as { pool?: TarnPool }).pool;
    if (!pool || !Array.isArray(pool.free) || !Array.isArray(pool.pendingAcquires) || pool.pendingAcquires.length !== 0 || typeof pool.emitter?.listenerCount !== 'function') return null;
    const entry = pool.free[pool.free.length - 1];
    const connection = entry?.resource as (SqliteConnection & Record<string, unknown>) | undefined;
    if (connection?.open !== true || connection.__knex__disposed || connection.__knexLifetimeLimit) return null;
    if (pool.emitter.listenerCount('acquireRequest') + pool.emitter.listenerCount('acquireSuccess') + pool.emitter.listenerCount('release') !== 0) return null;
    // As a release would: the connection was in use now (the pool's idle reaper reads this).
    if (typeof entry!.timestamp === 'number') entry!.timestamp = Date.now();
    return connection;
  }

  /** The connection's better-sqlite3 statement for `sql`, prepared on first use (a failure to prepare names `sql`). */
  function statementOf(connection: SqliteConnection, sql: string): SqliteStatement {
    let statements = sqliteStatements.get(connection);
    if (!statements) {
      statements = new Map();
      sqliteStatements.set(connection, statements);
    }
    let statement = statements.get(sql);
    if (!statement) {
      try {
        statement = connection.prepare(sql);
      } catch (error) {
        throw named(error, sql);
      }
      statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * knex's better-sqlite3 `_query` + `processResponse`, with the statement prepared once per
   * connection (`prepared`: the connection's statement for `query.sql`, when the caller has it).
   */
  function runSqlite(connection: SqliteConnection, query: CompiledQuery, values: unknown[], prepared?: SqliteStatement): unknown {
    client!.emit('query', { __knexUid: connection.__knexUid, ...query, bindings: values });
    const statement = prepared ?? statementOf(connection, query.sql);
    // As knex binds: dates as epoch milliseconds, booleans as 0/1.
    const bound = values.map((v) => (typeof v === 'boolean' ? Number(v) : v instanceof Date ? v.valueOf() : v));
    try {
      // `get` for a first row: it stops at that row and builds no array (1–2 µs a read here).
      if (statement.reader) return query.method === 'first' ? statement.get(bound) : statement.all(bound);
      const { changes, lastInsertRowid } = statement.run(bound);
      return query.method === 'insert' ? [lastInsertRowid] : changes;
    } catch (error) {
      throw named(error, query.sql);
    }
  }

  /**
   * A better-sqlite3 error, whether `sql` failed to run or to be prepared (a table that is not
   * there), with the message knex gives — the SQL, then the driver's message; its code is kept.
   */
  function named(error: unknown, sql: string): unknown {
    // (Not `instanceof Error`: better-sqlite3's errors may come from another realm, e.g. under Jest.)
    if (typeof error === 'object' && error !== null && typeof (error as Error).message === 'string') (error as Error).message = `${sql} - ${(error as Error).message}`;
    return error;
  }

  /**
   * Group commit (better-sqlite3): a write waits for the end of this turn of the event loop and
   * runs there with every other write handed in meanwhile, in one transaction, in the order they
   * came; each caller gets its statement's result only once that transaction committed. A commit
   * is the dearest part of a write (its WAL frames written by the kernel), and under load a turn
   * holds the writes of many requests: one commit for all of them instead of one each (issue #13).
   *
   * It changes nothing a caller can see but the moment its answer comes: every statement still
   * runs alone (the batch runs synchronously, so nothing runs in between) and sees every write
   * answered before it, a write is answered only once it is committed, and a read runs at once,
   * outside any batch, so it never sees a write that might not be committed.
   */
  function groupCommitted(query: CompiledQuery, values: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // Node's own setImmediate (node:timers), which a test's fake timers leave alone.
      if (pendingWrites.push({ query, values, resolve, reject }) === 1) setImmediate(flushWrites);
    });
  }

  function flushWrites(): void {
    const batch = pendingWrites;
    pendingWrites = [];
    const idle = idleSqliteConnection();
    if (idle) {
      commitBatch(idle, batch);
      return;
    }
    // A transaction of the host (or the store's own) holds the connection: wait for it, as any statement does.
    void (async () => {
      let connection: unknown;
      try {
        connection = await client!.acquireConnection();
      } catch (error) {
        for (const w of batch) w.reject(error);
        return;
      }
      try {
        commitBatch(connection as SqliteConnection, batch);
      } finally {
        // Every write is answered by now; a pool that fails to take its connection back is the pool's error, not theirs.
        await Promise.resolve(client!.releaseConnection(connection)).catch(() => {});
      }
    })();
  }

  /** BEGIN IMMEDIATE, COMMIT or ROLLBACK, announced as a knex `query` event as knex's own transactions announce theirs. */
  function control(connection: SqliteConnection, sql: 'BEGIN IMMEDIATE' | 'COMMIT' | 'ROLLBACK'): void {
    client!.emit('query', { __knexUid: connection.__knexUid, method: 'raw', sql, bindings: [] });
    statementOf(connection, sql).run([]);
  }

  /** Runs `batch` in one transaction (a lone write on its own) and answers each write once it is committed. */
  function commitBatch(connection: SqliteConnection, batch: PendingWrite[]): void {
    if (batch.length === 1) {
      const [w] = batch as [PendingWrite];
      try {
        w.resolve(runSqlite(connection, w.query, w.values));
      } catch (error) {
        w.reject(error);
      }
      return;
    }
    let done: { w: PendingWrite; response: unknown }[] = [];
    /** Fails every write of the open transaction, which SQLite rolled back (or will not commit). */
    const failDone = (error: unknown) => {
      for (const d of done) d.w.reject(error);
      done = [];
    };
    for (let i = 0; i < batch.length; i++) {
      if (!connection.inTransaction) {
        try {
          control(connection, 'BEGIN IMMEDIATE');
        } catch (error) {
          for (const w of batch.slice(i)) w.reject(error);
          break;
        }
      }
      const w = batch[i]!;
      try {
        done.push({ w, response: runSqlite(connection, w.query, w.values) });
      } catch (error) {
        // A statement SQLite refused alone (a constraint) leaves the transaction open and takes
        // nothing else with it; one that ended the transaction (I/O, a full disk) took every write
        // before it in the transaction too.
        w.reject(error);
        if (!connection.inTransaction) failDone(error);
      }
    }
    if (!connection.inTransaction) return;
    try {
      control(connection, 'COMMIT');
    } catch (error) {
      if (connection.inTransaction) {
        try {
          control(connection, 'ROLLBACK');
        } catch {
          // Nothing more to undo: the writes are answered as failed either way.
        }
      }
      failDone(error);
      return;
    }
    for (const d of done) d.w.resolve(d.response);
  }
}

/** Normalises what knex returned to the statement's kind (e.g. an UPDATE … RETURNING's rows). */
function shape(kind: ResultKind, response: unknown): unknown {
  switch (kind) {
    case 'count':
      return typeof response === 'number' ? response : Array.isArray(response) ? response.length : 0;
    case 'none':
      return undefined;
    default:
      return response;
  }
}
