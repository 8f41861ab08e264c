// Trusted devices (TD-01..TD-06) and MFA assertions (GATE-02, GATE-09).
import { createHash } from 'node:crypto';
import { generateKeyPair, decodeJwt, decodeProtectedHeader } from 'jose';
import { enrolTotp, proofFor, setup, totpNow } from './support/harness';

async function loginTrusted(h: ReturnType<typeof setup>, secret: string, userId = 'alice') {
  const s = await h.mfa.login.start(userId);
  if (!s.required) throw new Error('expected a challenge');
  const r = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()), trustDevice: true }, { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36', ip: '203.0.113.9' });
  if (!r.ok || !r.trustedDevice) throw new Error('verify failed');
  h.clock.advance(30);
  return r;
}

describe('trusted devices', () => {
  test('256-bit token returned once, stored hashed, labelled from the user agent', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const r = await loginTrusted(h, secret);
    const { token } = r.trustedDevice!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await h.store.findTrustedDevice(createHash('sha256').update(token).digest('base64url'));
    expect(stored).toMatchObject({ userId: 'alice', label: 'Chrome on Linux' });
    expect(JSON.stringify(await h.store.listTrustedDevices('alice'))).not.toContain(token);
    expect(r.trustedDevice!.maxAgeSeconds).toBe(30 * 86400);
    expect(h.events.some((e) => e.type === 'device.trusted' && e.ip === '203.0.113.9')).toBe(true);
  });

  test("skips the challenge for the same user only; another user's token does nothing (TD-01, TD-02)", async () => {
    const h = setup();
    const a = await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    const { token } = (await loginTrusted(h, a.secret)).trustedDevice!;
    expect(await h.mfa.login.start('alice', { trustedDeviceToken: token })).toEqual({ required: false, trustedDevice: true });
    expect((await h.mfa.login.start('bob', { trustedDeviceToken: token })).required).toBe(true);
    expect((await h.mfa.login.start('alice', { trustedDeviceToken: 'not-a-token' })).required).toBe(true);
  });

  test('absolute server-side expiry, not renewed by use (TD-03)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const { token } = (await loginTrusted(h, secret)).trustedDevice!;
    for (let day = 0; day < 29; day++) {
      h.clock.advance(86400);
      expect((await h.mfa.login.start('alice', { trustedDeviceToken: token })).required).toBe(false);
    }
    h.clock.advance(86400);
    expect((await h.mfa.login.start('alice', { trustedDeviceToken: token })).required).toBe(true);
    expect(await h.mfa.devices.list('alice')).toEqual([]);
  });

  test('list with the current device marked, revoke one, revoke all (TD-05, TD-06)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const t1 = (await loginTrusted(h, secret)).trustedDevice!;
    const t2 = (await loginTrusted(h, secret)).trustedDevice!;
    const list = await h.mfa.devices.list('alice', t2.token);
    expect(list.map((d) => [d.id, d.current])).toEqual([[t1.id, false], [t2.id, true]]);
    expect(await h.mfa.devices.revoke('bob', t1.id)).toBe(false);
    expect(await h.mfa.devices.revoke('alice', t1.id)).toBe(true);
    expect((await h.mfa.login.start('alice', { trustedDeviceToken: t1.token })).required).toBe(true);
    expect(await h.mfa.devices.revokeAll('alice')).toBe(1);
    expect((await h.mfa.login.start('alice', { trustedDeviceToken: t2.token })).required).toBe(true);
  });

  test('removing a factor or disabling MFA revokes every trusted device (DG-04)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const second = await h.mfa.enroll('alice', 'totp', { label: 'Tablet', proof: await proofFor(h) });
    expect((await h.mfa.confirm('alice', second.factorId, { code: await totpNow(second.secret, h.clock.now()) })).ok).toBe(true);
    const t = (await loginTrusted(h, secret)).trustedDevice!;
    const removed = await h.mfa.factors.remove('alice', second.factorId, { code: await totpNow(secret, h.clock.now()) });
    expect(removed).toEqual({ ok: true, mfaDisabled: false });
    expect(await h.mfa.devices.list('alice')).toEqual([]);
    expect((await h.mfa.login.start('alice', { trustedDeviceToken: t.token })).required).toBe(true);
  });

  test('sensitive actions still need fresh proof on a trusted device (TD-07)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    await loginTrusted(h, secret);
    await expect(h.mfa.disable('alice', {} as never)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(h.mfa.disable('alice', { passwordVerified: false } as never)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('assertions', () => {
  test('HS256 JWT with sub, amr (RFC 8176), auth_time, iss, aud, short exp and a typ', async () => {
    const h = setup({ assertion: { audience: 'acme-api', ttlSeconds: 120 } });
    const { secret } = await enrolTotp(h);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    const r = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()) });
    if (!r.ok) throw new Error('verify failed');
    const claims = decodeJwt(r.assertion);
    expect(decodeProtectedHeader(r.assertion)).toEqual({ alg: 'HS256', typ: 'secondfactor-assertion+jwt' });
    expect(claims).toMatchObject({ sub: 'alice', amr: ['mfa', 'otp'], iss: 'Acme Co', aud: 'acme-api', auth_time: Math.floor(h.clock.now() / 1000) });
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(r.expiresIn).toBe(120);
    expect(await h.mfa.assertions.verify(r.assertion, { maxAgeSeconds: 60 })).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'otp'] });
    h.clock.advance(61);
    expect(await h.mfa.assertions.verify(r.assertion, { maxAgeSeconds: 60 })).toEqual({ ok: false, reason: 'stale' });
    h.clock.advance(60);
    expect(await h.mfa.assertions.verify(r.assertion)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('a verified assertion is remembered, but every use re-checks time: expiry, maxAge, a clock set back; results are copies', async () => {
    const h = setup();
    const start = h.clock.now();
    const { assertion } = await h.mfa.assertions.issue('alice', ['otp']);
    const first = await h.mfa.assertions.verify(assertion);
    if (!first.ok) throw new Error('expected ok');
    first.amr.push('tampered');
    expect(await h.mfa.assertions.verify(assertion)).toMatchObject({ ok: true, amr: ['mfa', 'otp'] });
    h.clock.set(start - 3600_000); // an instance whose clock is an hour behind: issued "in the future"
    expect(await h.mfa.assertions.verify(assertion)).toEqual({ ok: false, reason: 'invalid' });
    h.clock.set(start + 100_000);
    expect(await h.mfa.assertions.verify(assertion, { maxAgeSeconds: 60 })).toEqual({ ok: false, reason: 'stale' });
    h.clock.set(start + 300_000);
    expect(await h.mfa.assertions.verify(assertion)).toEqual({ ok: false, reason: 'invalid' });
    // A token that differs in one signature character is never served from the cache.
    h.clock.set(start);
    const forged = assertion.slice(0, -2) + (assertion.at(-2) === 'A' ? 'B' : 'A') + assertion.at(-1);
    expect(await h.mfa.assertions.verify(forged)).toEqual({ ok: false, reason: 'invalid' });
  });

  test('verifyKnown answers at once, on the engine\'s clock, what verify would for an assertion verified before — nothing for any other', async () => {
    const h = setup();
    const start = h.clock.now();
    const { assertion } = await h.mfa.assertions.issue('alice', ['otp']);
    expect(h.mfa.assertions.verifyKnown(assertion)).toBeUndefined(); // issued here, never verified
    const verified = await h.mfa.assertions.verify(assertion);
    expect(verified).toMatchObject({ ok: true, userId: 'alice', amr: ['mfa', 'otp'] });
    expect(h.mfa.assertions.verifyKnown(assertion)).toEqual(verified);
    h.clock.set(start + 100_000);
    expect(h.mfa.assertions.verifyKnown(assertion, { maxAgeSeconds: 60 })).toEqual({ ok: false, reason: 'stale' });
    expect(h.mfa.assertions.verifyKnown(assertion, { maxAgeSeconds: 120 })).toEqual(verified);
    h.clock.set(start + 300_000);
    expect(h.mfa.assertions.verifyKnown(assertion)).toEqual({ ok: false, reason: 'invalid' });
    h.clock.set(start);
    expect(h.mfa.assertions.verifyKnown(assertion)).toBeUndefined(); // the expired token was forgotten
    expect(h.mfa.assertions.verifyKnown(undefined)).toBeUndefined();
    // Another instance, even with the same keys, has verified nothing: it knows nothing of it.
    expect(setup().mfa.assertions.verifyKnown(assertion)).toBeUndefined();
  });

  test('EdDSA key pair works; a token from another key, a challenge token or garbage is refused (GATE-02)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA');
    const h = setup({ signingKey: { alg: 'EdDSA', privateKey, publicKey } });
    const { assertion } = await h.mfa.assertions.issue('alice', ['otp']);
    expect(decodeProtectedHeader(assertion).alg).toBe('EdDSA');
    expect((await h.mfa.assertions.verify(assertion)).ok).toBe(true);
    const other = setup();
    expect(await other.mfa.assertions.verify(assertion)).toEqual({ ok: false, reason: 'invalid' });
    await enrolTotp(h);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    for (const t of [s.challengeToken, '', 'a.b.c', 42, undefined]) expect((await h.mfa.assertions.verify(t)).ok).toBe(false);
  });

  test('checking an assertion emits no event and writes nothing (why it alone runs outside the audited wrapper)', async () => {
    const h = setup();
    const { assertion } = await h.mfa.assertions.issue('alice', ['otp']);
    const eventsBefore = h.events.length;
    const stored = await h.store.listEvents({ limit: 1000 });
    for (const t of [assertion, assertion, 'a.b.c', 42, `${assertion}x`]) await h.mfa.assertions.verify(t);
    h.clock.advance(301);
    await h.mfa.assertions.verify(assertion, { maxAgeSeconds: 1 });
    expect(h.events.length).toBe(eventsBefore);
    expect(await h.store.listEvents({ limit: 1000 })).toEqual(stored);
  });
});

test('an assertion as proof for management is bounded by maxAgeSeconds (≤ 300 s)', async () => {
  const h = setup();
  await enrolTotp(h);
  const { assertion } = await h.mfa.assertions.issue('alice', ['otp']);
  h.clock.advance(61);
  expect(await h.mfa.backupCodes.regenerate('alice', { assertion }, undefined, { maxAgeSeconds: 60 })).toEqual({ ok: false, reason: 'invalid_code' });
  expect((await h.mfa.backupCodes.regenerate('alice', { assertion }, undefined, { maxAgeSeconds: 120 })).ok).toBe(true);
  await expect(h.mfa.disable('alice', { assertion }, undefined, { maxAgeSeconds: 3600 })).rejects.toMatchObject({ code: 'invalid_request', field: 'maxAgeSeconds' });
  h.clock.advance(240);
  expect(await h.mfa.disable('alice', { assertion })).toEqual({ ok: false, reason: 'invalid_code' });
  const other = await h.mfa.assertions.issue('bob', ['otp']);
  expect(await h.mfa.factors.remove('alice', (await h.mfa.factors.list('alice'))[0]!.id, { assertion: other.assertion })).toEqual({ ok: false, reason: 'invalid_code' });
});
