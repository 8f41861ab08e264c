// The attempt limiter's slow paths, found unasserted by mutation testing (issue #14): a success or
// a give-back after another request changed the state, a lock reached meanwhile, a state the store
// lost, an unlock repeated within the same millisecond, what an uncontested attempt costs, and the
// bound on how many clients' counts one user's state keeps.
import { memoryStore, type AttemptState, type EphemeralStore } from '@secondfactor/core';
import { createAttemptLimiter, MAX_CLIENTS } from '../src/attempts';

const LIMITS = { backoffAfterFailures: 3, backoffBaseSeconds: 30, backoffMaxSeconds: 3600, lockAfterFailures: 6, perIpPerWindow: 300, ipWindowSeconds: 900 };
const T0 = 1_700_000_000_000;
const clientKey = async (userId: string, client: string) => `${userId}|${client}`;

function limiter(store: EphemeralStore = memoryStore(), limits = LIMITS) {
  return { store, l: createAttemptLimiter(store, limits, clientKey) };
}

async function reserved(l: ReturnType<typeof limiter>['l'], client: string, now = T0) {
  const r = await l.reserve('u', client, now);
  if (!r.ok) throw new Error('expected a reservation');
  return r;
}

/** One client's counts in the user's state (undefined: none kept). */
async function clientOf(store: EphemeralStore, client: string, userId = 'u') {
  return (await store.getAttemptState(userId))?.clients.find((c) => c.key === `${userId}|${client}`);
}

/** A memory store whose calls are recorded. */
function recorded() {
  const inner = memoryStore();
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { inner, store, calls };
}

describe('a success after other requests changed the state', () => {
  test("another reservation slipped in: the user's and the client's counts still start again", async () => {
    const { store, l } = limiter();
    const first = await reserved(l, 'ip1');
    await reserved(l, 'ip1');
    await reserved(l, 'ip2');
    await l.succeed('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false, version: 4 });
    expect(await clientOf(store, 'ip1')).toBeUndefined();
    // The other client's own streak is its own.
    expect(await clientOf(store, 'ip2')).toEqual({ key: 'u|ip2', failures: 1, blockedUntil: 0 });
  });

  test('a lock another request reached meanwhile stays: only the host unlocks (the client still starts again)', async () => {
    const { store, l } = limiter();
    const early = await reserved(l, 'c0');
    for (let i = 1; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
    await l.succeed('u', early.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
    expect(await clientOf(store, 'c0')).toBeUndefined();
    expect(await clientOf(store, 'c1')).toMatchObject({ failures: 1 });
    expect(await l.reserve('u', 'c0', T0)).toEqual({ ok: false, retryAfter: 3600, locked: true });
  });

  test('a success whose state was already reset by another leaves it as it is', async () => {
    const { store, l } = limiter();
    const a = await reserved(l, 'ip1');
    const b = await reserved(l, 'ip2');
    await l.succeed('u', b.held);
    await l.succeed('u', a.held);
    const after = await store.getAttemptState('u');
    expect(after).toMatchObject({ failures: 0, clients: [] });
    // Nothing left to change: no write.
    await l.succeed('u', a.held);
    expect(await store.getAttemptState('u')).toEqual(after);
  });

  test('after an unlock, the unlock time is kept and the clients start again', async () => {
    const { store, l } = limiter();
    for (let i = 0; i < 3; i++) await reserved(l, 'ip1');
    await l.unlock('u', T0 + 5_000);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: T0 + 5_000, clients: [] });
    const first = await reserved(l, 'ip1', T0 + 6_000);
    await reserved(l, 'ip2', T0 + 6_000);
    await l.succeed('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: T0 + 5_000, locked: false });
    expect(await l.reserve('u', 'ip1', T0 + 7_000)).toMatchObject({ ok: true, failures: 1 });
  });
});

test("a success after the store lost the user's state (evicted, or deleted by hand) writes nothing and does not fail", async () => {
  // A store whose attempt states can be dropped, as a Redis under memory pressure may.
  const inner = memoryStore();
  const states = new Map<string, AttemptState>();
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'getAttemptState') {
        return async (userId: string) => {
          calls.push('getAttemptState');
          const s = states.get(userId);
          return s ? structuredClone(s) : null;
        };
      }
      if (prop === 'compareAndSetAttemptState') {
        return async (userId: string, expected: number | null, next: Omit<AttemptState, 'version'>) => {
          calls.push('compareAndSetAttemptState');
          if ((states.get(userId)?.version ?? null) !== expected) return false;
          states.set(userId, structuredClone({ ...next, version: (expected ?? 0) + 1 }));
          return true;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const { l } = limiter(store);
  const r = await reserved(l, 'ip1');
  states.delete('u');
  calls.length = 0;
  await expect(l.succeed('u', r.held)).resolves.toBeUndefined();
  // Its own write finds no state of its version; the read that follows finds none: nothing to reset.
  expect(calls).toEqual(['compareAndSetAttemptState', 'getAttemptState']);
  expect(states.has('u')).toBe(false);
  expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: true, failures: 1 });
});

test('an uncontested attempt reads the state once and writes it once; its success writes once more and reads nothing', async () => {
  const { inner, store, calls } = recorded();
  const { l } = limiter(store);
  const r = await reserved(l, 'ip1');
  await reserved(l, 'ip1');
  calls.length = 0;
  const again = await reserved(l, 'ip1');
  expect(calls).toEqual(['getAttemptState', 'compareAndSetAttemptState']);
  calls.length = 0;
  await l.succeed('u', again.held);
  expect(calls).toEqual(['compareAndSetAttemptState']);
  expect(await inner.getAttemptState('u')).toMatchObject({ failures: 0, clients: [], version: 4 });
  expect(r.held).toMatchObject({ version: 1, before: null });
  expect(again.held).toMatchObject({
    clientKey: 'u|ip1', version: 3,
    written: { failures: 3, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip1', failures: 3, blockedUntil: T0 + 30_000 }] },
    before: { failures: 2, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip1', failures: 2, blockedUntil: 0 }] },
  });
});

describe('giving an attempt back', () => {
  test('the state returns to what it was before it', async () => {
    const { store, l } = limiter();
    await reserved(l, 'ip1');
    const second = await reserved(l, 'ip1');
    await l.release('u', second.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 1, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip1', failures: 1, blockedUntil: 0 }] });
    const first = await reserved(l, 'ip9');
    expect(first.held.before).toMatchObject({ failures: 1 });
    await l.release('u', first.held);
    expect(await clientOf(store, 'ip9')).toBeUndefined();
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 1 });
  });

  test('unless another request changed it since: then the attempt stays counted', async () => {
    const { store, l } = limiter();
    const first = await reserved(l, 'ip1');
    await reserved(l, 'ip1');
    await l.release('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 2 });
    expect(await clientOf(store, 'ip1')).toMatchObject({ failures: 2 });
  });
});

test('an unlock repeated within the same millisecond still ends the backoffs started in between', async () => {
  const { store, l } = limiter();
  await l.reserve('u', 'ip1', T0);
  await l.unlock('u', T0);
  for (let i = 0; i < 3; i++) await reserved(l, 'ip1');
  expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: false, locked: false });
  await l.unlock('u', T0);
  // Each unlock records a later time than the one before, even within one millisecond (a success
  // tells by it whether a lock is its own); the clients' counts are emptied.
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: T0 + 1, locked: false, clients: [] });
  expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: true, failures: 1 });
});

test('a valid code on the attempt that reached the lock threshold ends the lock: that attempt was no failure', async () => {
  const { store, l } = limiter();
  for (let i = 1; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
  const last = await reserved(l, 'c0');
  expect(last).toMatchObject({ failures: 6, lockedNow: true });
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
  await l.succeed('u', last.held);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, locked: false });
  expect(await clientOf(store, 'c1')).toMatchObject({ failures: 1 });
  expect(await l.reserve('u', 'c0', T0)).toMatchObject({ ok: true, failures: 1 });
});

test('a valid code on the attempt that reached the lock ends it even when another success wrote first', async () => {
  // Concurrent right codes (parallel confirms of one code): every reservation counts up front, the
  // one that reaches the threshold locks, and an earlier success's write makes its fast path miss.
  const { store, l } = limiter();
  const early = await reserved(l, 'c0');
  for (let i = 1; i < LIMITS.lockAfterFailures - 1; i++) await reserved(l, `c${i}`);
  const last = await reserved(l, 'c9');
  expect(last).toMatchObject({ failures: 6, lockedNow: true });
  await l.succeed('u', early.held);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
  await l.succeed('u', last.held);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, locked: false });
  expect(await clientOf(store, 'c9')).toBeUndefined();
  expect(await clientOf(store, 'c1')).toMatchObject({ failures: 1 });
  expect(await l.reserve('u', 'c0', T0)).toMatchObject({ ok: true, failures: 1 });
});

test('but not a lock reached again after an unlock since the reservation, even within the same millisecond', async () => {
  const { store, l } = limiter();
  await reserved(l, 'c0');
  await l.unlock('u', T0);
  for (let i = 1; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
  const last = await reserved(l, 'c0');
  expect(last).toMatchObject({ lockedNow: true });
  // The host unlocks again within the same millisecond, and six wrong codes lock the user again.
  await l.unlock('u', T0);
  for (let i = 0; i < LIMITS.lockAfterFailures; i++) await reserved(l, `d${i}`);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
  await l.succeed('u', last.held);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
});

test('an unlock of a user with no state writes nothing', async () => {
  const { store, calls } = recorded();
  await limiter(store).l.unlock('nobody', T0);
  expect(calls).toEqual(['getAttemptState']);
  expect(await store.getAttemptState('nobody')).toBeNull();
});

describe('a reservation racing another request', () => {
  /** A store on which another request writes the user's state just before this one's first write to it. */
  function racing(write: (current: AttemptState | null) => Omit<AttemptState, 'version'>) {
    const inner = memoryStore();
    const reads: string[] = [];
    let raced = false;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'getAttemptState') return async (key: string) => { reads.push(key); return inner.getAttemptState(key); };
        if (prop === 'compareAndSetAttemptState') {
          return async (key: string, expected: number | null, next: Parameters<typeof inner.compareAndSetAttemptState>[2]) => {
            if (key === 'u' && !raced) {
              raced = true;
              const current = await inner.getAttemptState('u');
              await inner.compareAndSetAttemptState('u', current?.version ?? null, write(current));
            }
            return inner.compareAndSetAttemptState(key, expected, next);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    return { inner, store, reads };
  }

  test('reads the user state once when nothing races it', async () => {
    const { store, reads } = racing((c) => ({ failures: c?.failures ?? 0, blockedUntil: 0, locked: false, clients: [] }));
    const { l } = limiter(store);
    reads.length = 0;
    await l.reserve('v', 'ip1', T0);
    expect(reads).toEqual(['v']);
  });

  test('a failure counted meanwhile: it reads again and counts on top of it, its own and the other client\'s', async () => {
    const { inner, store, reads } = racing((c) => ({ failures: (c?.failures ?? 0) + 1, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip2', failures: 1, blockedUntil: 0 }] }));
    const { l } = limiter(store);
    expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: true, failures: 2, lockedNow: false });
    expect(reads).toEqual(['u', 'u']);
    expect(await inner.getAttemptState('u')).toMatchObject({
      failures: 2, clients: [{ key: 'u|ip2', failures: 1, blockedUntil: 0 }, { key: 'u|ip1', failures: 1, blockedUntil: 0 }],
    });
  });

  test('a backoff of this client started meanwhile: refused with its wait, nothing counted', async () => {
    const { inner, store } = racing(() => ({ failures: 3, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip1', failures: 3, blockedUntil: T0 + 30_000 }] }));
    const { l } = limiter(store);
    expect(await l.reserve('u', 'ip1', T0 + 10_000)).toEqual({ ok: false, retryAfter: 20, locked: false });
    expect(await inner.getAttemptState('u')).toMatchObject({ failures: 3, version: 1 });
  });

  test('a lock reached meanwhile: refused as locked, nothing counted', async () => {
    const { inner, store } = racing(() => ({ failures: 6, blockedUntil: 0, locked: true, clients: [] }));
    const { l } = limiter(store);
    expect(await l.reserve('u', 'ip1', T0)).toEqual({ ok: false, retryAfter: 3600, locked: true });
    expect(await inner.getAttemptState('u')).toMatchObject({ failures: 6, locked: true, clients: [] });
  });

  test('endless contention ends in store_unavailable that says so', async () => {
    const inner = memoryStore();
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'compareAndSetAttemptState') return async () => false;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await expect(limiter(store).l.reserve('u', 'ip1', T0)).rejects.toMatchObject({ code: 'store_unavailable', message: 'Attempt state is under heavy contention; try again' });
  });
});

test('an attempt state without its clients list (an adapter written for the earlier contract) fails closed: store_unavailable, nothing written', async () => {
  const inner = memoryStore();
  await inner.compareAndSetAttemptState('u', null, { failures: 2, blockedUntil: 0, locked: false, clients: [{ key: 'u|ip1', failures: 2, blockedUntil: 0 }] });
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'getAttemptState') {
        return async (key: string) => {
          const s = await inner.getAttemptState(key);
          if (!s) return s;
          const { clients: _dropped, ...old } = s;
          return old;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const { l } = limiter(store);
  await expect(l.reserve('u', 'ip1', T0)).rejects.toMatchObject({ code: 'store_unavailable', message: 'The store returned an attempt state without its clients list' });
  await expect(l.unlock('u', T0)).rejects.toMatchObject({ code: 'store_unavailable' });
  expect(await inner.getAttemptState('u')).toMatchObject({ failures: 2, version: 1 });
});

test("a locked user's attempts do not count on the client either", async () => {
  const { store, l } = limiter();
  for (let i = 0; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
  const before = await store.getAttemptState('u');
  expect(await l.reserve('u', 'c0', T0 + 86_400_000)).toEqual({ ok: false, retryAfter: 3600, locked: true });
  expect(await store.getAttemptState('u')).toEqual(before);
});

test("giving back a user's very first attempt leaves the state at zero", async () => {
  const { store, l } = limiter();
  const first = await reserved(l, 'ip1');
  expect(first.held).toMatchObject({ before: null });
  await l.release('u', first.held);
  expect(await store.getAttemptState('u')).toEqual({ failures: 0, blockedUntil: 0, locked: false, clients: [], version: 2 });
});

describe(`at most ${MAX_CLIENTS} clients' counts per user`, () => {
  const MANY = { ...LIMITS, lockAfterFailures: 100 };

  test('a new client beyond them pushes out the one that failed least recently', async () => {
    const { store, l } = limiter(memoryStore(), MANY);
    for (let i = 0; i < MAX_CLIENTS; i++) await reserved(l, `c${i}`);
    await reserved(l, 'c0'); // c0 failed again: now c1 is the least recent
    await reserved(l, 'new');
    const state = await store.getAttemptState('u');
    expect(state?.clients).toHaveLength(MAX_CLIENTS);
    expect(state?.clients.map((c) => c.key)).toEqual([...Array.from({ length: MAX_CLIENTS - 2 }, (_, i) => `u|c${i + 2}`), 'u|c0', 'u|new']);
    expect(await clientOf(store, 'c0')).toMatchObject({ failures: 2 });
    // The user's count is every failure, pushed out or not.
    expect(state?.failures).toBe(MAX_CLIENTS + 2);
  });

  test("a success of a client pushed out since its reservation still resets the user's count, and keeps the others'", async () => {
    const { store, l } = limiter(memoryStore(), MANY);
    const early = await reserved(l, 'ip1');
    for (let i = 0; i < MAX_CLIENTS; i++) await reserved(l, `c${i}`);
    const pushed = await store.getAttemptState('u');
    expect(pushed).toMatchObject({ failures: MAX_CLIENTS + 1, version: MAX_CLIENTS + 1 });
    expect(await clientOf(store, 'ip1')).toBeUndefined();
    await l.succeed('u', early.held);
    expect(await store.getAttemptState('u')).toEqual({ ...pushed, failures: 0, version: MAX_CLIENTS + 2 });
  });

  test('a client in backoff stays refused while fewer than that many others come', async () => {
    const { l } = limiter(memoryStore(), MANY);
    for (let i = 0; i < 3; i++) await reserved(l, 'ip1');
    for (let i = 0; i < MAX_CLIENTS - 1; i++) await reserved(l, `other${i}`);
    expect(await l.reserve('u', 'ip1', T0 + 1_000)).toEqual({ ok: false, retryAfter: 29, locked: false });
  });
});
