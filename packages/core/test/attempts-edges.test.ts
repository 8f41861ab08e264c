// The attempt limiter's slow paths, found unasserted by mutation testing (issue #14): a success or
// a give-back after another request changed the states, a lock reached meanwhile, an unlock
// repeated within the same millisecond, and what an uncontested success costs.
import { memoryStore, type EphemeralStore } from '@secondfactor/core';
import { createAttemptLimiter } from '../src/attempts';

const LIMITS = { backoffAfterFailures: 3, backoffBaseSeconds: 30, backoffMaxSeconds: 3600, lockAfterFailures: 6, perIpPerWindow: 300, ipWindowSeconds: 900 };
const T0 = 1_700_000_000_000;
const clientKey = async (userId: string, client: string) => `${userId}|${client}`;

function limiter(store: EphemeralStore = memoryStore()) {
  return { store, l: createAttemptLimiter(store, LIMITS, clientKey) };
}

async function reserved(l: ReturnType<typeof limiter>['l'], client: string, now = T0) {
  const r = await l.reserve('u', client, now);
  if (!r.ok) throw new Error('expected a reservation');
  return r;
}

describe('a success after other requests changed the states', () => {
  test("another reservation slipped in: the user's and the client's counts still start again", async () => {
    const { store, l } = limiter();
    const first = await reserved(l, 'ip1');
    await reserved(l, 'ip1');
    await reserved(l, 'ip2');
    await l.succeed('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
    expect(await store.getAttemptState('u|ip1')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
    // The other client's own streak is its own.
    expect(await store.getAttemptState('u|ip2')).toMatchObject({ failures: 1 });
  });

  test('a lock another request reached meanwhile stays: only the host unlocks', async () => {
    const { store, l } = limiter();
    const early = await reserved(l, 'c0');
    for (let i = 1; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
    await l.succeed('u', early.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
    expect(await l.reserve('u', 'c0', T0)).toEqual({ ok: false, retryAfter: 3600, locked: true });
  });

  test('after an unlock, the unlock time is kept (the clients keyed by it stay reset)', async () => {
    const { store, l } = limiter();
    for (let i = 0; i < 3; i++) await reserved(l, 'ip1');
    await l.unlock('u', T0 + 5_000);
    const first = await reserved(l, 'ip1', T0 + 6_000);
    await reserved(l, 'ip2', T0 + 6_000);
    await l.succeed('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: T0 + 5_000, locked: false });
    // Had the unlock time been lost, ip1's old backoff (3 failures at T0) would be back.
    expect(await l.reserve('u', 'ip1', T0 + 7_000)).toMatchObject({ ok: true, failures: 1 });
  });
});

test('an uncontested success writes each state once and reads nothing', async () => {
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
  const { l } = limiter(store);
  const r = await reserved(l, 'ip1');
  await reserved(l, 'ip1');
  calls.length = 0;
  const again = await reserved(l, 'ip1');
  calls.length = 0;
  await l.succeed('u', again.held);
  expect(calls).toEqual(['compareAndSetAttemptState', 'compareAndSetAttemptState']);
  expect(await inner.getAttemptState('u')).toMatchObject({ failures: 0 });
  expect(r.held.clientVersion).toBe(1);
  expect(again.held).toMatchObject({ clientVersion: 3, userVersion: 3, epoch: 0 });
});

describe('giving an attempt back', () => {
  test('the states return to what they were before it', async () => {
    const { store, l } = limiter();
    await reserved(l, 'ip1');
    const second = await reserved(l, 'ip1');
    await l.release('u', second.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 1, blockedUntil: 0, locked: false });
    expect(await store.getAttemptState('u|ip1')).toMatchObject({ failures: 1, blockedUntil: 0, locked: false });
    const first = await reserved(l, 'ip9');
    expect(first.held.clientBefore).toBeNull();
    await l.release('u', first.held);
    expect(await store.getAttemptState('u|ip9')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
  });

  test('unless another request changed them since: then the attempt stays counted', async () => {
    const { store, l } = limiter();
    const first = await reserved(l, 'ip1');
    await reserved(l, 'ip1');
    await l.release('u', first.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 2 });
    expect(await store.getAttemptState('u|ip1')).toMatchObject({ failures: 2 });
  });
});

test('an unlock repeated within the same millisecond still ends the backoffs started in between', async () => {
  const { store, l } = limiter();
  await l.reserve('u', 'ip1', T0);
  await l.unlock('u', T0);
  for (let i = 0; i < 3; i++) await reserved(l, 'ip1');
  expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: false, locked: false });
  await l.unlock('u', T0);
  expect((await store.getAttemptState('u'))?.blockedUntil).toBe(T0 + 1);
  expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: true, failures: 1 });
});

describe('a reservation racing another request', () => {
  /** A store on which another request writes the user's state just before this one's first write to it. */
  function racing(write: (current: { failures: number } | null) => { failures: number; blockedUntil: number; locked: boolean }) {
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

  test('reads each state once when nothing races it (the user state read first is reused)', async () => {
    const { store, reads } = racing((c) => ({ failures: c?.failures ?? 0, blockedUntil: 0, locked: false }));
    const { l } = limiter(store);
    reads.length = 0;
    await l.reserve('v', 'ip1', T0);
    expect(reads).toEqual(['v', 'v|ip1']);
  });

  test('a failure counted meanwhile: it reads again and counts on top of it', async () => {
    const { inner, store } = racing((c) => ({ failures: (c?.failures ?? 0) + 1, blockedUntil: 0, locked: false }));
    const { l } = limiter(store);
    expect(await l.reserve('u', 'ip1', T0)).toMatchObject({ ok: true, failures: 2, lockedNow: false });
    expect(await inner.getAttemptState('u')).toMatchObject({ failures: 2 });
  });

  test('a lock reached meanwhile: refused as locked, nothing counted for the user', async () => {
    const { inner, store } = racing(() => ({ failures: 6, blockedUntil: 0, locked: true }));
    const { l } = limiter(store);
    expect(await l.reserve('u', 'ip1', T0)).toEqual({ ok: false, retryAfter: 3600, locked: true });
    expect(await inner.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
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

test("a locked user's attempts do not count on the client either", async () => {
  const { store, l } = limiter();
  for (let i = 0; i < LIMITS.lockAfterFailures; i++) await reserved(l, `c${i}`);
  const before = await store.getAttemptState('u|c0');
  expect(await l.reserve('u', 'c0', T0 + 86_400_000)).toEqual({ ok: false, retryAfter: 3600, locked: true });
  expect(await store.getAttemptState('u|c0')).toEqual(before);
});

test("giving back a user's very first attempt leaves both states at zero", async () => {
  const { store, l } = limiter();
  const first = await reserved(l, 'ip1');
  expect(first.held).toMatchObject({ clientBefore: null, userBefore: null });
  await l.release('u', first.held);
  expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
  expect(await store.getAttemptState('u|ip1')).toMatchObject({ failures: 0, blockedUntil: 0, locked: false });
});
