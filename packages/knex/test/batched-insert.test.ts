// The group commit of audit events (batched-insert.ts): rows of one turn of the event loop in one
// statement, each caller settling after it, a refused batch retried row by row.
import { batchedInsert, MAX_BATCH_ROWS } from '../src/batched-insert';

/** A fake database: records each statement's rows; `refuse` decides which rows it rejects. */
function recorder(refuse: (row: number) => boolean = () => false) {
  const statements: number[][] = [];
  const stored: number[] = [];
  const run = async (rows: number[]) => {
    await new Promise((r) => setTimeout(r, 1));
    statements.push(rows);
    if (rows.some(refuse)) throw new Error(`refused ${rows.filter(refuse).join(',')}`);
    stored.push(...rows);
  };
  const insert = batchedInsert<number>(run);
  return { insert, statements, stored };
}

test('rows handed in during one turn of the event loop go in as one statement; each caller settles after it', async () => {
  const db = recorder();
  const settled: number[] = [];
  const all = [1, 2, 3, 4, 5].map((n) => db.insert(n).then(() => settled.push(n)));
  await Promise.resolve();
  expect(db.statements).toEqual([]); // nothing written, nothing settled, before the turn ends
  expect(settled).toEqual([]);
  await Promise.all(all);
  expect(db.statements).toEqual([[1, 2, 3, 4, 5]]);
  expect(settled.sort()).toEqual([1, 2, 3, 4, 5]);
  expect(db.stored).toEqual([1, 2, 3, 4, 5]);
});

test('a lone row is one statement of one row; rows of a later turn go in a later statement', async () => {
  const db = recorder();
  await db.insert(1);
  await Promise.all([db.insert(2), db.insert(3)]);
  expect(db.statements).toEqual([[1], [2, 3]]);
});

test(`more than ${MAX_BATCH_ROWS} rows go in statements of at most ${MAX_BATCH_ROWS}`, async () => {
  const db = recorder();
  const n = MAX_BATCH_ROWS * 2 + 3;
  await Promise.all(Array.from({ length: n }, (_, i) => db.insert(i)));
  expect(db.statements.map((s) => s.length)).toEqual([MAX_BATCH_ROWS, MAX_BATCH_ROWS, 3]);
  expect(db.stored.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
});

test('a refused batch is written again row by row: only the refused row fails, with its own error', async () => {
  const db = recorder((row) => row === 3);
  const results = await Promise.allSettled([1, 2, 3, 4].map((n) => db.insert(n)));
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('refused 3'));
  expect(db.statements).toEqual([[1, 2, 3, 4], [1], [2], [3], [4]]);
  expect(db.stored.sort()).toEqual([1, 2, 4]);
});

test('an insert that throws before returning a promise fails its callers, and the next turn writes again', async () => {
  let calls = 0;
  const insert = batchedInsert<number>((rows) => {
    calls++;
    if (rows.includes(2)) throw new Error(rows.length > 1 ? 'many' : 'one');
    return Promise.resolve();
  });
  const results = await Promise.allSettled([insert(1), insert(2)]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  expect(calls).toBe(3);
  await expect(insert(3)).resolves.toBeUndefined();
});

test("fake timers do not hold a write back: it runs on Node's own setImmediate", async () => {
  jest.useFakeTimers();
  try {
    const written: number[][] = [];
    const insert = batchedInsert<number>(async (rows) => { written.push(rows); });
    await Promise.all([insert(1), insert(2)]);
    expect(written).toEqual([[1, 2]]);
  } finally {
    jest.useRealTimers();
  }
});
