// The per-user failure limiter and MFA assertions at their edges: backoff arithmetic and
// boundaries, lock and unlock, contention, and every way an assertion must be refused (added for
// issue #14 — mutation testing showed these edges went unasserted).
import { SignJWT, generateKeyPair, jwtVerify } from 'jose';
import { backoffSeconds, memoryStore, MfaConfigError, MfaError, type EphemeralStore } from '@secondfactor/core';
import { createAttemptLimiter } from '../src/attempts';
import { ASSERTION_TYPE, createAssertionSigner, resolveSigningKey } from '../src/assertions';

const LIMITS = { backoffAfterFailures: 3, backoffBaseSeconds: 30, backoffMaxSeconds: 3600, lockAfterFailures: 6, perIpPerWindow: 300, ipWindowSeconds: 900 };

describe('backoff arithmetic', () => {
  test('none before the threshold, the base at it, doubling after, capped at the maximum', () => {
    expect([0, 1, 2].map((n) => backoffSeconds(n, LIMITS))).toEqual([0, 0, 0]);
    expect([3, 4, 5, 6].map((n) => backoffSeconds(n, LIMITS))).toEqual([30, 60, 120, 240]);
    expect(backoffSeconds(9, LIMITS)).toBe(1920);
    expect(backoffSeconds(10, LIMITS)).toBe(3600);
    expect(backoffSeconds(1000, LIMITS)).toBe(3600);
    expect(backoffSeconds(4, { ...LIMITS, backoffMaxSeconds: 45 })).toBe(45);
  });
});

describe('attempt limiter', () => {
  const T0 = 1_700_000_000_000;
  const clientKey = async (userId: string, client: string) => `${userId}|${client}`;
  const limiter = (store: EphemeralStore = memoryStore()) => ({ store, l: createAttemptLimiter(store, LIMITS, clientKey) });
  const ok = (failures: number, lockedNow = false) => ({ ok: true, failures, lockedNow, held: expect.any(Object) });
  const clients = async (store: EphemeralStore, userId = 'u') => (await store.getAttemptState(userId))?.clients;

  test("each reservation counts a failure up front; a client's backoff starts at the threshold and ends exactly on time", async () => {
    const { store, l } = limiter();
    expect(await l.reserve('u', 'ip1', T0)).toEqual(ok(1));
    expect(await l.reserve('u', 'ip1', T0)).toEqual(ok(2));
    expect(await clients(store)).toEqual([{ key: 'u|ip1', failures: 2, blockedUntil: 0 }]);
    expect(await l.reserve('u', 'ip1', T0)).toEqual(ok(3));
    expect(await clients(store)).toEqual([{ key: 'u|ip1', failures: 3, blockedUntil: T0 + 30_000 }]);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 3, blockedUntil: 0, locked: false });
    expect(await l.reserve('u', 'ip1', T0)).toEqual({ ok: false, retryAfter: 30, locked: false });
    expect(await l.reserve('u', 'ip1', T0 + 29_001)).toEqual({ ok: false, retryAfter: 1, locked: false });
    expect(await l.reserve('u', 'ip1', T0 + 29_999)).toEqual({ ok: false, retryAfter: 1, locked: false });
    // Refusals are not failures: the counts are unchanged.
    expect((await store.getAttemptState('u'))?.failures).toBe(3);
    expect(await l.reserve('u', 'ip1', T0 + 30_000)).toEqual(ok(4));
    expect(await clients(store)).toEqual([{ key: 'u|ip1', failures: 4, blockedUntil: T0 + 30_000 + 60_000 }]);
    // Another client of the same user is not held back, but still counts toward the user's lock.
    expect(await l.reserve('u', 'ip2', T0 + 30_000)).toEqual(ok(5));
  });

  test('the lock threshold locks (reported once), and a lock outlasts any backoff, on every client, until unlock', async () => {
    const { store, l } = limiter();
    let now = T0;
    const results = [];
    for (let i = 0; i < 6; i++) {
      results.push(await l.reserve('u', 'ip1', now));
      now += 3_600_000;
    }
    expect(results.map((r) => r.ok && r.lockedNow)).toEqual([false, false, false, false, false, true]);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 6, locked: true });
    expect(await l.reserve('u', 'ip1', now + 10 * 86_400_000)).toEqual({ ok: false, retryAfter: 3600, locked: true });
    expect(await l.reserve('u', 'ip9', now)).toEqual({ ok: false, retryAfter: 3600, locked: true });
    await l.unlock('u', now);
    // The user's state keeps the unlock time, and every client's count (and backoff) ends too.
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: now, locked: false, clients: [] });
    expect(await l.reserve('u', 'ip2', now)).toEqual(ok(1));
  });

  test("unlock ends every client's backoff at once, and a later success keeps that", async () => {
    const { store, l } = limiter();
    let last: Awaited<ReturnType<typeof l.reserve>> | undefined;
    for (let i = 0; i < 3; i++) last = await l.reserve('u', 'ip1', T0);
    await l.reserve('u', 'ip2', T0);
    expect(await l.reserve('u', 'ip1', T0 + 1000)).toMatchObject({ ok: false, locked: false });
    await l.unlock('u', T0 + 1000);
    const fresh = await l.reserve('u', 'ip1', T0 + 1000);
    expect(fresh).toEqual(ok(1));
    expect(await l.reserve('u', 'ip2', T0 + 1000)).toEqual(ok(2));
    if (!fresh.ok || !last?.ok) throw new Error('expected reservations');
    // A success clears the user's count and its client's, and keeps the unlock time.
    await l.succeed('u', fresh.held);
    expect(await store.getAttemptState('u')).toMatchObject({ failures: 0, blockedUntil: T0 + 1000, locked: false, clients: [{ key: 'u|ip2', failures: 1, blockedUntil: 0 }] });
    expect(await l.reserve('u', 'ip2', T0 + 2000)).toEqual(ok(1));
  });

  test("a success resets the user's and the client's counts; unlock with nothing to reset writes nothing", async () => {
    const { store, l } = limiter();
    await l.unlock('fresh', T0);
    expect(await store.getAttemptState('fresh')).toBeNull();
    let last: Awaited<ReturnType<typeof l.reserve>> | undefined;
    for (let i = 0; i < 3; i++) last = await l.reserve('u', 'ip1', T0);
    if (!last?.ok) throw new Error('expected a reservation');
    await l.succeed('u', last.held);
    expect(await store.getAttemptState('u')).toEqual({ failures: 0, blockedUntil: 0, locked: false, clients: [], version: 4 });
    expect(await l.reserve('u', 'ip1', T0)).toEqual(ok(1));
    // Users are counted apart.
    expect(await l.reserve('v', 'ip1', T0)).toEqual(ok(1));
  });

  test('under endless contention it gives up with store_unavailable after a bounded number of rounds', async () => {
    const inner = memoryStore();
    let tries = 0;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'compareAndSetAttemptState') return async () => { tries++; return false; };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const { l } = limiter(store);
    const error = await l.reserve('u', 'ip1', T0).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(MfaError);
    expect((error as MfaError).code).toBe('store_unavailable');
    expect(tries).toBe(64);
  });
});

describe('MFA assertions', () => {
  const KEY = 'assertion-signing-key-with-32-chars!!';
  const OPTS = { issuer: 'Acme Co', audience: 'secondfactor', ttlSeconds: 300 };
  const NOW = 1_700_000_000_000;
  const claims = { userId: 'alice', amr: ['otp'], authTime: NOW };
  const hs = new TextEncoder().encode(KEY);
  const sec = (ms: number) => Math.floor(ms / 1000);
  /** A token signed with the real key but built by hand, to vary one thing at a time. */
  const craft = (payload: Record<string, unknown>, header: Record<string, unknown> = {}, key: Uint8Array = hs) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE, ...header }).sign(key);
  const good = { sub: 'alice', iss: 'Acme Co', aud: 'secondfactor', iat: sec(NOW), exp: sec(NOW) + 300, auth_time: sec(NOW), amr: ['otp'] };

  test('signing keys: HS256 secrets of at least 32 characters or bytes, or an asymmetric pair of a known alg', () => {
    expect(resolveSigningKey('x'.repeat(32)).alg).toBe('HS256');
    expect(() => resolveSigningKey('x'.repeat(31))).toThrow(MfaConfigError);
    expect(resolveSigningKey(new Uint8Array(32)).alg).toBe('HS256');
    expect(() => resolveSigningKey(new Uint8Array(31))).toThrow(MfaConfigError);
    expect(() => resolveSigningKey({ alg: 'HS512' as 'EdDSA', privateKey: hs, publicKey: hs })).toThrow(/signingKey.alg/);
    expect(() => resolveSigningKey({ privateKey: hs } as never)).toThrow(MfaConfigError);
    expect(() => resolveSigningKey(null as never)).toThrow(MfaConfigError);
    expect(() => resolveSigningKey(42 as never)).toThrow(MfaConfigError);
  });

  test('a signed assertion carries who, how, when, and expires after its TTL', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    expect(s.ttlSeconds).toBe(300);
    const token = await s.sign({ ...claims, authTime: NOW - 5_500 }, NOW);
    const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    expect(header).toEqual({ alg: 'HS256', typ: ASSERTION_TYPE });
    expect(payload).toEqual({ sub: 'alice', iss: 'Acme Co', aud: 'secondfactor', iat: sec(NOW), exp: sec(NOW) + 300, auth_time: sec(NOW - 5_500), amr: ['otp'] });
    expect(await s.verify(token, NOW)).toEqual({ ok: true, claims: { userId: 'alice', amr: ['otp'], authTime: sec(NOW - 5_500) * 1000 } });
    expect(await s.verify(token, NOW + 299_000)).toMatchObject({ ok: true });
    expect(await s.verify(token, NOW + 300_000)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('maxAge: exactly maxAge seconds old passes, one second more is stale', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const token = await s.sign(claims, NOW);
    expect(await s.verify(token, NOW + 60_000, 60)).toMatchObject({ ok: true });
    expect(await s.verify(token, NOW + 60_999, 60)).toMatchObject({ ok: true });
    expect(await s.verify(token, NOW + 61_000, 60)).toEqual({ ok: false, reason: 'stale' });
    expect(await s.verify(token, NOW + 61_000)).toMatchObject({ ok: true });
  });

  test('anything but a well-formed, correctly signed, typed, addressed assertion is refused as invalid', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const invalid = { ok: false, reason: 'invalid' };
    const token = await s.sign(claims, NOW);
    expect(await s.verify(await craft(good), NOW)).toMatchObject({ ok: true });
    for (const bad of [
      42, null, '', 'a.b', 'a.b.c.d', `${token}.x`, `${token}${'A'.repeat(4097 - token.length)}`, token.slice(0, -2),
      await craft(good, { typ: 'JWT' }),
      await craft(good, {}, new TextEncoder().encode('another-key-with-at-least-32-chars!!')),
      await craft({ ...good, aud: 'app' }),
      await craft({ ...good, iss: 'Other' }),
      await craft({ ...good, auth_time: undefined }),
      await craft({ ...good, auth_time: 'yesterday' }),
      await craft({ ...good, amr: 'otp' }),
      await craft({ ...good, amr: ['otp', 7] }),
      await craft({ ...good, sub: undefined }),
      await craft({ ...good, exp: undefined }),
      await craft({ ...good, iat: undefined }),
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: ASSERTION_TYPE })).toString('base64url')}.${token.split('.')[1]}.`,
    ]) {
      expect([bad, await s.verify(bad as string, NOW)]).toEqual([bad, invalid]);
    }
  });

  test("HS256 assertions (signed with node:crypto's HMAC) are the very tokens jose signs, and pass jose's strict verification", async () => {
    for (const key of [KEY, hs]) {
      const s = createAssertionSigner(key, OPTS);
      const token = await s.sign({ userId: 'bob "the" ü', amr: ['otp', 'mfa'], authTime: NOW - 1_999 }, NOW + 999);
      const byJose = await new SignJWT({ amr: ['otp', 'mfa'], auth_time: sec(NOW - 1_999) })
        .setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYPE }).setSubject('bob "the" ü').setIssuer('Acme Co').setAudience('secondfactor')
        .setIssuedAt(sec(NOW)).setExpirationTime(sec(NOW) + 300).sign(hs);
      expect(token).toBe(byJose);
      const { payload, protectedHeader } = await jwtVerify(token, hs, {
        issuer: 'Acme Co', audience: 'secondfactor', algorithms: ['HS256'], typ: ASSERTION_TYPE, currentDate: new Date(NOW),
        requiredClaims: ['sub', 'exp', 'iat', 'auth_time'],
      });
      expect(protectedHeader).toEqual({ alg: 'HS256', typ: ASSERTION_TYPE });
      expect(payload.sub).toBe('bob "the" ü');
      // And the other way: jose's token passes this signer.
      expect(await s.verify(byJose, NOW)).toEqual({ ok: true, claims: { userId: 'bob "the" ü', amr: ['otp', 'mfa'], authTime: sec(NOW - 1_999) * 1000 } });
    }
  });

  test('an HS256 assertion altered anywhere, re-signed with another key or sent as alg none is refused', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const token = await s.sign(claims, NOW);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flip = (part: string, i: number) => `${part.slice(0, i)}${part[i] === 'A' ? 'B' : 'A'}${part.slice(i + 1)}`;
    const other = createAssertionSigner('another-key-with-at-least-32-chars!!', OPTS);
    const otherAudience = createAssertionSigner(KEY, { ...OPTS, audience: 'app' });
    const asUser = (sub: string) => Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub })).toString('base64url');
    for (const bad of [
      `${header}.${payload}.${flip(signature, 0)}`, `${header}.${payload}.${flip(signature, 20)}`, `${header}.${payload}.${signature.slice(0, -1)}`,
      `${header}.${payload}.`, `${header}.${asUser('mallory')}.${signature}`, `${flip(header, 3)}.${payload}.${signature}`,
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: ASSERTION_TYPE })).toString('base64url')}.${payload}.`,
      `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${payload}.${signature}`,
      await other.sign(claims, NOW), await otherAudience.sign(claims, NOW),
    ]) {
      expect([bad, await s.verify(bad, NOW)]).toEqual([bad, { ok: false, reason: 'invalid' }]);
    }
    expect(await s.verify(token, NOW)).toMatchObject({ ok: true });
  });

  test('an HS256 signer refuses to sign what jose would refuse: a non-string subject, a non-finite time', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    await expect(s.sign({ ...claims, userId: 42 as unknown as string }, NOW)).rejects.toThrow(TypeError);
    await expect(s.sign({ ...claims, authTime: Number.NaN }, NOW)).rejects.toThrow(TypeError);
    await expect(s.sign(claims, Number.POSITIVE_INFINITY)).rejects.toThrow(TypeError);
  });

  test('an HS256 signer refuses with errors that say why: the subject as jose words it, the times as not finite', async () => {
    const s = createAssertionSigner(KEY, OPTS);
    const { publicKey, privateKey } = await generateKeyPair('EdDSA');
    const viaJose = createAssertionSigner({ alg: 'EdDSA', privateKey, publicKey }, OPTS);
    const bad = { ...claims, userId: 42 as unknown as string };
    const joseError = await viaJose.sign(bad, NOW).then(() => null, (e: unknown) => e as Error);
    expect(joseError).toBeInstanceOf(TypeError);
    await expect(s.sign(bad, NOW)).rejects.toThrow(new TypeError(joseError!.message));
    await expect(s.sign({ ...claims, authTime: Number.NaN }, NOW)).rejects.toThrow(/finite/);
    await expect(s.sign(claims, Number.POSITIVE_INFINITY)).rejects.toThrow(/finite/);
  });

  test('an asymmetric algorithm given raw bytes for its keys is refused before any token is issued (they are never taken for an HMAC secret)', async () => {
    const bytes = new Uint8Array(32).fill(7);
    expect(() => createAssertionSigner({ alg: 'EdDSA', privateKey: bytes, publicKey: bytes }, OPTS)).toThrow(
      '`signingKey.privateKey` must be the private half of an Ed25519 key, as a KeyObject (node:crypto) or a CryptoKey — not raw bytes or a string',
    );
  });

  test('an Ed25519 pair signs with the private key and verifies with the public one only', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA');
    const other = await generateKeyPair('EdDSA');
    const s = createAssertionSigner({ alg: 'EdDSA', privateKey, publicKey }, OPTS);
    const token = await s.sign(claims, NOW);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: ASSERTION_TYPE });
    expect(await s.verify(token, NOW)).toMatchObject({ ok: true, claims: { userId: 'alice' } });
    const wrong = createAssertionSigner({ alg: 'EdDSA', privateKey: other.privateKey, publicKey: other.publicKey }, OPTS);
    expect(await wrong.verify(token, NOW)).toEqual({ ok: false, reason: 'invalid' });
    // An HS256 token made with the public key's bytes is not accepted by an EdDSA signer (algorithm pinned).
    expect(await s.verify(await craft(good), NOW)).toEqual({ ok: false, reason: 'invalid' });
  });
});
