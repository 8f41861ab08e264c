// packages/knex/src/batched-insert.ts
// Group commit for rows nobody reads back at once (the audit log). Every audit event costs one
// INSERT with its own commit, and a commit is the dearest thing a verification asks of the
// database: on SQLite in WAL mode an event's insert took 84 µs of CPU on its own, two thirds of it
// the kernel's work for the commit's writes, where ten rows in one INSERT took 42 µs each
// (issue #13). So the rows handed in during one turn of the event loop — under load, the events
// of every request that emitted one meanwhile — go in as one multi-row INSERT (one statement: one
// commit on every database, all rows or none). Each caller's promise settles only after that
// statement did, so an event is stored before the operation that emitted it answers, as before.
//
// A batch the database refuses is written again row by row, so each caller gets its own row's
// outcome (a duplicate id fails its own event only). A lone row is written as before.
import { setImmediate } from 'node:timers';

interface Pending<Row> {
  row: Row;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Rows per statement, at most: 32 rows of the events table's 14 columns are 448 bound values. */
export const MAX_BATCH_ROWS = 32;

/**
 * Returns an insert of one row that is batched with the other rows handed in during the same turn
 * of the event loop. `insert` writes 1 to `MAX_BATCH_ROWS` rows in one statement.
 */
export function batchedInsert<Row>(insert: (rows: Row[]) => Promise<void>): (row: Row) => Promise<void> {
  let queue: Pending<Row>[] = [];

  async function write(batch: Pending<Row>[]): Promise<void> {
    if (batch.length > 1) {
      try {
        await insert(batch.map((p) => p.row));
        for (const p of batch) p.resolve();
        return;
      } catch {
        // Refused as a whole (one bad row fails the statement): each row alone, below.
      }
    }
    await Promise.all(batch.map(async (p) => {
      try {
        await insert([p.row]);
        p.resolve();
      } catch (error) {
        p.reject(error);
      }
    }));
  }

  function flush(): void {
    const taken = queue;
    queue = [];
    for (let i = 0; i < taken.length; i += MAX_BATCH_ROWS) void write(taken.slice(i, i + MAX_BATCH_ROWS));
  }

  return (row) => new Promise<void>((resolve, reject) => {
    // Node's own setImmediate (from node:timers, not the global a test's fake timers replace):
    // the write must not wait for a fake clock to be advanced.
    if (queue.push({ row, resolve, reject }) === 1) setImmediate(flush);
  });
}
