// packages/webauthn/test/authentication.test.ts
// Proving a registered key (challenge/verify) with the software authenticator: request options,
// origin and rp id binding, challenge binding, counters and clone warnings, foreign credentials, amr.
import { MfaError, type FactorContext } from '@secondfactor/core';
import { CLONE_WARNING, type WebAuthnOptions } from '@secondfactor/webauthn';
import { Driver, fakeClock, ORIGIN, testContext } from './support/harness';
import { SoftAuthenticator, type SoftAuthenticatorOptions, strayKey } from './support/soft-authenticator';

async function withKey(options: Partial<WebAuthnOptions> = {}, authenticator: SoftAuthenticatorOptions = {}, ctx: FactorContext = testContext().ctx) {
  const driver = new Driver(ctx, options);
  const key = new SoftAuthenticator(authenticator);
  const { factor, options: creation, state } = await driver.setup('alice');
  const { activated } = await driver.confirm(factor, key.create(creation, { origin: ORIGIN }), state);
  if (!activated) throw new Error('enrolment failed');
  return { driver, key, factorId: factor.id };
}

describe('webauthn authentication: challenge', () => {
  test('request options: rp id, allowCredentials = the user’s keys with transports, userVerification, 32-byte challenge, timeout; kept as state for any of them', async () => {
    const { ctx, randomCalls } = testContext();
    const { driver, key } = await withKey({ userVerification: 'discouraged', timeoutSeconds: 90 }, { transports: ['usb', 'nfc'] }, ctx);
    randomCalls.length = 0;
    const c = await driver.challenge('alice');
    expect(c.options).toEqual({
      rpId: 'example.com',
      challenge: c.options.challenge,
      allowCredentials: [{ id: key.credentials[0]!.id, type: 'public-key', transports: ['usb', 'nfc'] }],
      userVerification: 'discouraged',
      timeout: 90_000,
    });
    expect(Buffer.from(c.options.challenge, 'base64url')).toHaveLength(32);
    expect(randomCalls).toEqual([32]);
    expect(c.factorId).toBeNull();
    expect(c.state.secret).toBe(c.options.challenge);
    expect(c.state.expiresAt - c.state.createdAt).toBe(90_000);
  });

  test('each challenge is new', async () => {
    const { driver } = await withKey();
    const a = await driver.challenge('alice');
    const b = await driver.challenge('alice');
    expect(a.options.challenge).not.toBe(b.options.challenge);
  });
});

describe('webauthn authentication: verify', () => {
  test('happy path: the key’s factor answers, with amr hwk + user and the new counter to advance', async () => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    const result = await driver.verify('alice', key.get(options, { origin: ORIGIN }), state);
    expect(result).toEqual({ ok: true, factorId, amr: ['hwk', 'user'], counter: 1 });
  });

  test('amr: a synced passkey is swk; without user verification there is no user', async () => {
    const { driver, key, factorId } = await withKey({}, { synced: true, counts: false, transports: ['internal'] });
    const first = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(first.options, { origin: ORIGIN }), first.state)).toEqual({ ok: true, factorId, amr: ['swk', 'user'] });
    const second = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(second.options, { origin: ORIGIN, uv: false }), second.state)).toEqual({ ok: true, factorId, amr: ['swk'] });
  });

  test('amr: a device-bound key without user verification is hwk alone', async () => {
    const { driver, key } = await withKey();
    const { options, state } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN, uv: false }), state)).toMatchObject({ ok: true, amr: ['hwk'] });
  });

  test('the user’s second key answers as itself', async () => {
    const { driver, key } = await withKey();
    const second = new SoftAuthenticator({ transports: ['nfc'] });
    const s = await driver.setup('alice');
    await driver.confirm(s.factor, second.create(s.options, { origin: ORIGIN }), s.state);
    const { options, state } = await driver.challenge('alice');
    expect(options.allowCredentials!.map((c) => c.id)).toEqual([key.credentials[0]!.id, second.credentials[0]!.id]);
    expect(await driver.verify('alice', second.get(options, { origin: ORIGIN }), state)).toMatchObject({ ok: true, factorId: s.factor.id });
  });

  test('no kept state → invalid_code', async () => {
    const { driver, key } = await withKey();
    const { options } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN }), null)).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('kept state past its expiry → invalid_code', async () => {
    const clock = fakeClock();
    const { driver, key } = await withKey({ timeoutSeconds: 60 }, {}, testContext(clock).ctx);
    const { options, state } = await driver.challenge('alice');
    const response = key.get(options, { origin: ORIGIN });
    clock.advance(61);
    expect(await driver.verify('alice', response, state)).toMatchObject({ ok: false, reason: 'invalid_code' });
  });

  test('wrong origin → invalid_code (the same key from the right origin then passes)', async () => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    const result = await driver.verify('alice', key.get(options, { origin: 'https://examp1e.com' }), state);
    expect(result).toEqual({ ok: false, reason: 'invalid_code', factorId });
    const again = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(again.options, { origin: ORIGIN }), again.state)).toMatchObject({ ok: true });
  });

  test('wrong rp id in the authenticator data → invalid_code', async () => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN, rpId: 'examp1e.com' }), state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
  });

  test('the challenge of another login → invalid_code', async () => {
    const { driver, key, factorId } = await withKey();
    const mine = await driver.challenge('alice');
    const other = await driver.challenge('alice');
    const answer = key.get(other.options, { origin: ORIGIN });
    expect(await driver.verify('alice', answer, mine.state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
    // The answer is good for the challenge it signed.
    expect(await driver.verify('alice', answer, other.state)).toMatchObject({ ok: true });
  });

  test('a registration challenge’s clientData type (webauthn.create) → invalid_code', async () => {
    const { driver, key } = await withKey();
    const { options, state } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN, type: 'webauthn.create' }), state)).toMatchObject({ ok: false, reason: 'invalid_code' });
  });

  test('a signature by another key → invalid_code (and no clone warning, even with a stale counter)', async () => {
    const { driver, key, factorId } = await withKey();
    const first = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(first.options, { origin: ORIGIN, counter: 5 }), first.state)).toMatchObject({ ok: true, counter: 5 });
    const { options, state } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN, signWith: strayKey() }), state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
    const stale = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(stale.options, { origin: ORIGIN, counter: 2, signWith: strayKey() }), stale.state)).toEqual({
      ok: false,
      reason: 'invalid_code',
      factorId,
    });
  });

  test.each<[string, (der: Buffer) => Buffer]>([
    ['another outer tag', (der) => Buffer.concat([Uint8Array.of(0xa3), der.subarray(1)])],
    ['a shorter outer length', (der) => Buffer.concat([Uint8Array.of(0x30, der[1]! - 1), der.subarray(2)])],
    ['a trailing byte', (der) => Buffer.concat([der, Uint8Array.of(0)])],
    ['a long-form outer length', (der) => Buffer.concat([Uint8Array.of(0x30, 0x81, der[1]!), der.subarray(2)])],
  ])('an ECDSA signature in another encoding of the same (r, s) — %s → invalid_code; only DER is accepted', async (_name, reencode) => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    const response = key.get(options, { origin: ORIGIN });
    const reencoded = { ...response, response: { ...response.response, signature: reencode(Buffer.from(response.response.signature, 'base64url')).toString('base64url') } };
    expect(await driver.verify('alice', reencoded, state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
    expect(await driver.verify('alice', response, state)).toMatchObject({ ok: true, factorId });
  });

  test('replayed assertion: the same response twice → the second is refused because the counter did not advance', async () => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    const response = key.get(options, { origin: ORIGIN });
    expect(await driver.verify('alice', response, state)).toMatchObject({ ok: true, counter: 1 });
    // Even were the challenge state not consumed, the counter stops the replay.
    expect(await driver.verify('alice', response, state)).toEqual({ ok: false, reason: 'replayed', warning: CLONE_WARNING, factorId });
  });

  test('counter regression → replayed with a clone warning', async () => {
    const { driver, key, factorId } = await withKey();
    const first = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(first.options, { origin: ORIGIN, counter: 10 }), first.state)).toMatchObject({ ok: true, counter: 10 });
    const second = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(second.options, { origin: ORIGIN, counter: 9 }), second.state)).toEqual({
      ok: false,
      reason: 'replayed',
      warning: CLONE_WARNING,
      factorId,
    });
    const third = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(third.options, { origin: ORIGIN, counter: 10 }), third.state)).toMatchObject({ ok: false, reason: 'replayed' });
    const fourth = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(fourth.options, { origin: ORIGIN, counter: 11 }), fourth.state)).toMatchObject({ ok: true, counter: 11 });
  });

  test('a counter dropping to 0 after counting → replayed with a clone warning', async () => {
    const { driver, key, factorId } = await withKey();
    const first = await driver.challenge('alice');
    await driver.verify('alice', key.get(first.options, { origin: ORIGIN, counter: 3 }), first.state);
    const second = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(second.options, { origin: ORIGIN, counter: 0 }), second.state)).toEqual({
      ok: false,
      reason: 'replayed',
      warning: CLONE_WARNING,
      factorId,
    });
  });

  test('counter 0/0 stays accepted (passkeys that never count), with no counter to advance', async () => {
    const { driver, key, factorId } = await withKey({}, { counts: false, synced: true });
    for (let i = 0; i < 3; i++) {
      const { options, state } = await driver.challenge('alice');
      expect(await driver.verify('alice', key.get(options, { origin: ORIGIN }), state)).toEqual({ ok: true, factorId, amr: ['swk', 'user'] });
    }
  });

  test('a counter registered non-zero must advance past it', async () => {
    const ctx = testContext().ctx;
    const driver = new Driver(ctx);
    const key = new SoftAuthenticator();
    const s = await driver.setup('alice');
    await driver.confirm(s.factor, key.create(s.options, { origin: ORIGIN, initialCounter: 50 }), s.state);
    const low = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(low.options, { origin: ORIGIN, counter: 50 }), low.state)).toMatchObject({ ok: false, reason: 'replayed' });
    const high = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(high.options, { origin: ORIGIN, counter: 51 }), high.state)).toMatchObject({ ok: true, counter: 51 });
  });

  test('another user’s credential fails like a wrong code, even with a valid signature on this challenge', async () => {
    const ctx = testContext().ctx;
    const { driver } = await withKey({}, {}, ctx);
    const bobKey = new SoftAuthenticator();
    const s = await driver.setup('bob');
    await driver.confirm(s.factor, bobKey.create(s.options, { origin: ORIGIN }), s.state);
    const { options, state } = await driver.challenge('alice');
    const bobsAnswer = bobKey.get(options, { origin: ORIGIN, credentialId: bobKey.credentials[0]!.id });
    expect(await driver.verify('alice', bobsAnswer, state)).toEqual({ ok: false, reason: 'invalid_code' });
    // Bob's key is fine for Bob.
    const bobs = await driver.challenge('bob');
    expect(await driver.verify('bob', bobKey.get(bobs.options, { origin: ORIGIN }), bobs.state)).toMatchObject({ ok: true, factorId: s.factor.id });
  });

  test('a user handle that is not the credential’s → invalid_code', async () => {
    const { driver, key, factorId } = await withKey();
    const { options, state } = await driver.challenge('alice');
    const response = key.get(options, { origin: ORIGIN, userHandle: Buffer.alloc(32, 5).toString('base64url') });
    expect(await driver.verify('alice', response, state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
  });

  test('no user handle (a non-discoverable credential) is fine', async () => {
    const { driver, key } = await withKey({}, { discoverable: false });
    const { options, state } = await driver.challenge('alice');
    const response = key.get(options, { origin: ORIGIN });
    expect(response.response.userHandle).toBeUndefined();
    expect(await driver.verify('alice', response, state)).toMatchObject({ ok: true });
  });

  test('userVerification required: an assertion without user verification is refused; with it, accepted', async () => {
    const { driver, key, factorId } = await withKey({ userVerification: 'required' });
    const a = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(a.options, { origin: ORIGIN, uv: false }), a.state)).toEqual({ ok: false, reason: 'invalid_code', factorId });
    const b = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(b.options, { origin: ORIGIN, uv: true }), b.state)).toMatchObject({ ok: true, amr: ['hwk', 'user'] });
  });

  test('user not present → invalid_code', async () => {
    const { driver, key } = await withKey();
    const { options, state } = await driver.challenge('alice');
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN, up: false }), state)).toMatchObject({ ok: false, reason: 'invalid_code' });
  });

  test('state bound to one factor: another of the user’s keys does not answer it', async () => {
    const { driver, key, factorId } = await withKey();
    const second = new SoftAuthenticator();
    const s = await driver.setup('alice');
    await driver.confirm(s.factor, second.create(s.options, { origin: ORIGIN }), s.state);
    const { factorId: boundTo, options, state } = await driver.challenge('alice', 'step_up', factorId);
    expect(boundTo).toBe(factorId);
    expect(state.factorId).toBe(factorId);
    expect(options.allowCredentials!.map((a) => a.id)).toEqual([key.credentials[0]!.id]);
    const fromSecond = second.get({ ...options, allowCredentials: [] }, { origin: ORIGIN, credentialId: second.credentials[0]!.id });
    expect(await driver.verify('alice', fromSecond, state, 'step_up')).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await driver.verify('alice', key.get(options, { origin: ORIGIN }), state, 'step_up')).toMatchObject({ ok: true, factorId });
  });

  test('a registration response given to verify → invalid_request naming response', async () => {
    const { driver } = await withKey();
    const s = await driver.setup('alice');
    const registration = new SoftAuthenticator().create(s.options, { origin: ORIGIN });
    const { state } = await driver.challenge('alice');
    const error = await driver.verify('alice', registration, state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MfaError);
    expect(error).toMatchObject({ code: 'invalid_request', field: 'response' });
  });
});

describe('webauthn authentication: stored data', () => {
  test('a factor whose stored data is damaged is skipped, not a crash: options list the sound keys, and the damaged one cannot answer', async () => {
    const { driver, key } = await withKey();
    const damaged = new SoftAuthenticator();
    const s = await driver.setup('alice');
    await driver.confirm(s.factor, damaged.create(s.options, { origin: ORIGIN }), s.state);
    const index = driver.factors.findIndex((f) => f.id === s.factor.id);
    driver.factors[index] = { ...driver.factors[index]!, data: { ...driver.factors[index]!.data, credentialId: 'not base64url!' } };
    const { options, state } = await driver.challenge('alice');
    expect(options.allowCredentials!.map((c) => c.id)).toEqual([key.credentials[0]!.id]);
    expect((await driver.setup('alice')).options.excludeCredentials!.map((c) => c.id)).toEqual([key.credentials[0]!.id]);
    const answer = damaged.get({ ...options, allowCredentials: [] }, { origin: ORIGIN, credentialId: damaged.credentials[0]!.id });
    expect(await driver.verify('alice', answer, state)).toEqual({ ok: false, reason: 'invalid_code' });
  });
});
