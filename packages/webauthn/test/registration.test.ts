// packages/webauthn/test/registration.test.ts
// Enrolment (begin/finish) with the software authenticator: what is offered, what is stored, what is refused.
import { createHash } from 'node:crypto';
import { MfaError } from '@secondfactor/core';
import { Driver, fakeClock, keptState, ORIGIN, testContext } from './support/harness';
import { SoftAuthenticator } from './support/soft-authenticator';

/** SHA-256 of the credential id's bytes, base64url: the factor's lookup key, computed independently of the plugin. */
const sha256Key = (credentialId: string) => createHash('sha256').update(Buffer.from(credentialId, 'base64url')).digest('base64url');

async function enrolled(driver: Driver, userId: string, key: SoftAuthenticator) {
  const { factor, options, state } = await driver.setup(userId);
  const { activated } = await driver.confirm(factor, key.create(options, { origin: ORIGIN }), state);
  if (!activated) throw new Error('enrolment failed');
}

describe('webauthn registration: begin', () => {
  test('creation options: rp, user, 32-byte challenge from ctx.randomBytes, none attestation, resident key preferred, timeout; the challenge is the kept state', async () => {
    const { ctx, randomCalls } = testContext();
    const driver = new Driver(ctx, { userVerification: 'required', timeoutSeconds: 120 });
    const { options, begun } = await driver.setup('alice', 'alice@example.com');
    expect(options.rp).toEqual({ name: 'Example', id: 'example.com' });
    expect(options.user.name).toBe('alice@example.com');
    expect(Buffer.from(options.user.id, 'base64url')).toHaveLength(32);
    expect(Buffer.from(options.challenge, 'base64url')).toHaveLength(32);
    expect(randomCalls).toEqual([32, 32]); // the user handle and the challenge, both from the engine's CSPRNG
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'preferred', userVerification: 'required' });
    expect(options.timeout).toBe(120_000);
    expect(options.pubKeyCredParams.map((p) => p.alg)).toEqual([-8, -7, -257]);
    expect(options.excludeCredentials).toEqual([]);
    expect(begun.state).toEqual({ secret: options.challenge, ttlSeconds: 120 });
    expect(begun.data).toEqual({ userHandle: options.user.id });
    expect(begun.secret).toBeUndefined();
  });

  test('the challenge comes from ctx.randomBytes: a fixed random source gives a fixed challenge', async () => {
    const { ctx } = testContext();
    const fixed = { ...ctx, randomBytes: (n: number) => new Uint8Array(n).fill(9) };
    const driver = new Driver(fixed);
    const { options } = await driver.setup('alice');
    expect(options.challenge).toBe(Buffer.alloc(32, 9).toString('base64url'));
  });

  test('excludeCredentials lists the user’s active keys (id + transports), so one authenticator cannot be registered twice', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const usbKey = new SoftAuthenticator({ transports: ['usb'] });
    const phone = new SoftAuthenticator({ transports: ['internal', 'hybrid'], synced: true });
    await enrolled(driver, 'alice', usbKey);
    await enrolled(driver, 'alice', phone);
    await enrolled(driver, 'bob', new SoftAuthenticator());
    const { options } = await driver.setup('alice');
    expect(options.excludeCredentials).toEqual([
      { id: usbKey.credentials[0]!.id, type: 'public-key', transports: ['usb'] },
      { id: phone.credentials[0]!.id, type: 'public-key', transports: ['internal', 'hybrid'] },
    ]);
    // A browser honours the list: the same key refuses to create a second credential.
    expect(() => usbKey.create(options, { origin: ORIGIN })).toThrow(/InvalidStateError/);
  });

  test('all keys of one user share one user handle; another user gets another', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    await enrolled(driver, 'alice', new SoftAuthenticator());
    const first = driver.factorsOf('alice')[0]!.data.userHandle;
    const again = await driver.setup('alice');
    expect(again.options.user.id).toBe(first);
    const bob = await driver.setup('bob');
    expect(bob.options.user.id).not.toBe(first);
  });
});

describe('webauthn registration: finish', () => {
  test('happy path: the credential is stored as factor data, the SHA-256 of its id is the lookup key, its counter the start', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const key = new SoftAuthenticator({ transports: ['usb', 'nfc'] });
    const { factor, options, state } = await driver.setup('alice');
    const { result, activated } = await driver.confirm(factor, key.create(options, { origin: ORIGIN, initialCounter: 7 }), state);
    expect(activated).toBe(true);
    if (!result.ok) throw new Error('expected success');
    const credential = key.credentials[0]!;
    expect(result).toEqual({
      ok: true,
      lookupKey: sha256Key(credential.id),
      counter: 7,
      data: {
        userHandle: options.user.id,
        credentialId: credential.id,
        publicKey: Buffer.from(credential.cosePublicKey).toString('base64url'),
        transports: ['usb', 'nfc'],
        deviceType: 'singleDevice',
        backedUp: false,
        aaguid: '00000000-0000-0000-0000-000000000000',
      },
    });
  });

  test('a synced passkey is stored as multiDevice, backed up', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const { result } = await driver.confirm(factor, new SoftAuthenticator({ synced: true, transports: ['internal'] }).create(options, { origin: ORIGIN }), state);
    expect(result).toMatchObject({ ok: true, counter: 0, data: { deviceType: 'multiDevice', backedUp: true, transports: ['internal'] } });
  });

  test('no kept state (expired, consumed, never started) → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options } = await driver.setup('alice');
    const { result } = await driver.confirm(factor, new SoftAuthenticator().create(options, { origin: ORIGIN }), null);
    expect(result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('kept state past its expiry → invalid_code', async () => {
    const clock = fakeClock();
    const { ctx } = testContext(clock);
    const driver = new Driver(ctx, { timeoutSeconds: 60 });
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN });
    clock.advance(61);
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('wrong origin → invalid_code (a phishing page relaying the ceremony)', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: 'https://example.com.evil.test' });
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
    // The same ceremony from the right origin passes: the origin alone made the difference.
    const good = await driver.setup('alice');
    expect((await driver.confirm(good.factor, new SoftAuthenticator().create(good.options, { origin: ORIGIN }), good.state)).result.ok).toBe(true);
  });

  test('a subdomain origin not configured is refused; a configured one passes', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx, { origins: [ORIGIN, 'https://login.example.com'] });
    const a = await driver.setup('alice');
    expect((await driver.confirm(a.factor, new SoftAuthenticator().create(a.options, { origin: 'https://evil.example.com' }), a.state)).result.ok).toBe(false);
    const b = await driver.setup('alice');
    expect((await driver.confirm(b.factor, new SoftAuthenticator().create(b.options, { origin: 'https://login.example.com' }), b.state)).result.ok).toBe(true);
  });

  test('wrong rp id in the authenticator data → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN, rpId: 'evil.test' });
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('the challenge of another enrolment → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const first = await driver.setup('alice');
    const second = await driver.setup('alice');
    const answer = new SoftAuthenticator().create(first.options, { origin: ORIGIN });
    expect((await driver.confirm(second.factor, answer, second.state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('clientDataJSON of an authentication (type webauthn.get) → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN, type: 'webauthn.get' });
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('userVerification required: a key that did not verify the user is refused; one that did passes', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx, { userVerification: 'required' });
    const a = await driver.setup('alice');
    expect((await driver.confirm(a.factor, new SoftAuthenticator().create(a.options, { origin: ORIGIN, uv: false }), a.state)).result).toEqual({
      ok: false,
      reason: 'invalid_code',
    });
    const b = await driver.setup('alice');
    expect((await driver.confirm(b.factor, new SoftAuthenticator().create(b.options, { origin: ORIGIN, uv: true }), b.state)).result.ok).toBe(true);
  });

  test('userVerification preferred: a key without user verification is accepted', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    expect((await driver.confirm(factor, new SoftAuthenticator().create(options, { origin: ORIGIN, uv: false }), state)).result.ok).toBe(true);
  });

  test('user not present → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    expect((await driver.confirm(factor, new SoftAuthenticator().create(options, { origin: ORIGIN, up: false }), state)).result.ok).toBe(false);
  });

  test('backup state without backup eligibility (flags no authenticator may set) → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN, flags: 0x01 | 0x04 | 0x10 });
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('an id in the JSON that is not the attested credential id → invalid_code', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const { factor, options, state } = await driver.setup('alice');
    const response = new SoftAuthenticator().create(options, { origin: ORIGIN, reportedId: Buffer.alloc(32, 1).toString('base64url') });
    expect((await driver.confirm(factor, response, state)).result).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('a credential already registered (to another user) cannot be activated twice: finish returns its id\'s hash as lookupKey', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const key = new SoftAuthenticator();
    const a = await driver.setup('alice');
    const response = key.create(a.options, { origin: ORIGIN });
    expect((await driver.confirm(a.factor, response, a.state)).activated).toBe(true);
    // Mallory replays Alice's registration response into her own enrolment with the same challenge value.
    const m = await driver.setup('mallory');
    const stolenState = keptState(ctx.now(), { secret: a.options.challenge, ttlSeconds: 300 }, m.factor.id);
    const again = await driver.confirm(m.factor, response, stolenState);
    expect(again.result).toMatchObject({ ok: true, lookupKey: sha256Key(key.credentials[0]!.id) });
    expect(again.activated).toBe(false);
  });

  test('an authentication response given to confirm → invalid_request naming response', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    const key = new SoftAuthenticator();
    await enrolled(driver, 'alice', key);
    const { options } = await driver.challenge('alice');
    const assertion = key.get(options, { origin: ORIGIN });
    const { factor, state } = await driver.setup('alice');
    const error = await driver.confirm(factor, assertion, state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MfaError);
    expect(error).toMatchObject({ code: 'invalid_request', field: 'response' });
  });

  test('describe: a synced credential is a passkey, a device-bound one a security key', async () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    await enrolled(driver, 'alice', new SoftAuthenticator({ synced: true }));
    await enrolled(driver, 'alice', new SoftAuthenticator());
    expect(driver.factorsOf('alice').map((f) => driver.plugin.describe!(f))).toEqual([{ kind: 'passkey' }, { kind: 'security key' }]);
  });

  test('enroll.parse ignores the setup body and returns null', () => {
    const { ctx } = testContext();
    const driver = new Driver(ctx);
    expect(driver.plugin.enroll!.parse(ctx, { label: 'Key', code: '123456', assertion: 'x', password: 'p' })).toBeNull();
    expect(driver.plugin.enroll!.parse(ctx, {})).toBeNull();
  });
});
