// Secrets at rest (SEC-04), events (DG-03, SEC-05) and option validation.
import { backupCodes, consoleSender, createMfa, memoryStore, MfaConfigError, sms, totp, type MfaOptions } from '@secondfactor/core';
import { KEY_1, KEY_2, SIGNING_KEY, enrolTotp, setup, totpNow } from './support/harness';

describe('secrets at rest', () => {
  test('TOTP secrets are AES-256-GCM encrypted with a key id and bound to their factor', async () => {
    const h = setup();
    const { secret, factorId } = await enrolTotp(h);
    const stored = (await h.store.getFactor('alice', factorId))!;
    expect(stored.secret).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(stored.secret).not.toContain(secret);
    // Moving the ciphertext to another factor makes it undecryptable (additional data binds it).
    const copy = { ...stored, id: 'other-factor' };
    await h.store.createFactor(copy);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    await expect(h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '000000' })).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  test('after rotation old secrets still decrypt and are re-encrypted under the new key on use', async () => {
    const store = memoryStore();
    const h1 = setup({ store });
    const { secret, factorId } = await enrolTotp(h1);
    const h2 = setup({ store, encryptionKeys: { current: 'k2', keys: { k1: KEY_1, k2: KEY_2 } } });
    h2.clock.set(h1.clock.now());
    expect((await h2.mfa.stepUp.verify('alice', { code: await totpNow(secret, h2.clock.now()) })).ok).toBe(true);
    expect((await store.getFactor('alice', factorId))!.secret).toMatch(/^v1\.k2\./);
    // And once re-encrypted, the old key can be dropped.
    const h3 = setup({ store, encryptionKeys: { current: 'k2', keys: { k2: KEY_2 } } });
    h3.clock.set(h2.clock.now() + 30_000);
    expect((await h3.mfa.stepUp.verify('alice', { code: await totpNow(secret, h3.clock.now()) })).ok).toBe(true);
  });
});

describe('events', () => {
  test('every security event is emitted with user, factor, outcome, ip and user agent — never a secret, code or token', async () => {
    const h = setup();
    const ctx = { ip: '198.51.100.7', userAgent: 'Mozilla/5.0 (Macintosh) Firefox/140.0' };
    const e = await h.mfa.enroll('alice', 'totp', {}, ctx);
    const confirmCode = await totpNow(e.secret, h.clock.now());
    const confirmed = await h.mfa.confirm('alice', e.factorId, { code: confirmCode }, ctx);
    if (!confirmed.ok) throw new Error('confirm failed');
    h.clock.advance(30);
    const secrets: string[] = [e.secret, confirmCode, ...(confirmed.backupCodes ?? [])];
    const s = await h.mfa.login.start('alice', { context: ctx });
    if (!s.required) throw new Error('expected a challenge');
    secrets.push(s.challengeToken);
    await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '999999' }, ctx);
    const code = await totpNow(e.secret, h.clock.now());
    secrets.push(code);
    const ok = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code, trustDevice: true }, ctx);
    if (!ok.ok) throw new Error('verify failed');
    secrets.push(ok.assertion, ok.trustedDevice!.token);
    expect((await h.mfa.stepUp.verify('alice', { code }, ctx)).ok).toBe(false); // replay
    const s2 = await h.mfa.login.start('alice', { context: ctx });
    if (!s2.required) throw new Error('expected a challenge');
    await h.mfa.login.verify(s2.challengeToken, { method: 'backup_code', code: confirmed.backupCodes![0]! }, ctx);
    await h.mfa.backupCodes.regenerate('alice', { code: confirmed.backupCodes![1]! }, ctx);
    await h.mfa.devices.revoke('alice', ok.trustedDevice!.id, ctx);
    h.clock.advance(30);
    await h.mfa.disable('alice', { code: await totpNow(e.secret, h.clock.now()) }, ctx);

    const types = new Set(h.events.map((ev) => ev.type));
    for (const t of ['factor.enrolled', 'factor.confirmed', 'challenge.started', 'mfa.failed', 'mfa.verified', 'totp.replay_rejected', 'backup_code.used', 'backup_codes.regenerated', 'device.trusted', 'device.revoked', 'mfa.disabled']) {
      expect(types).toContain(t);
    }
    for (const ev of h.events) {
      expect(ev).toMatchObject({ userId: 'alice', ip: ctx.ip, userAgent: ctx.userAgent });
      expect(['success', 'failure']).toContain(ev.outcome);
      expect(typeof ev.at).toBe('number');
    }
    expect(h.events.find((ev) => ev.type === 'factor.confirmed')).toMatchObject({ factorId: e.factorId, factorType: 'totp' });
    const dump = JSON.stringify(h.events);
    for (const s of secrets) expect(dump).not.toContain(s);
  });

  test('a throwing or rejecting event sink does not change the outcome', async () => {
    const h = setup({ onEvent: () => { throw new Error('audit down'); } });
    const { secret } = await enrolTotp(h);
    expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) })).ok).toBe(true);
    const h2 = setup({ onEvent: () => Promise.reject(new Error('audit down')) });
    const e = await enrolTotp(h2);
    expect((await h2.mfa.stepUp.verify('alice', { code: await totpNow(e.secret, h2.clock.now()) })).ok).toBe(true);
  });
});

describe('options are validated once, naming the bad option', () => {
  const base = (): MfaOptions => ({ issuer: 'Acme', store: memoryStore(), encryptionKeys: { current: 'k1', keys: { k1: KEY_1 } }, signingKey: SIGNING_KEY });
  const cases: [string, (o: MfaOptions) => unknown, RegExp][] = [
    ['missing issuer', (o) => ({ ...o, issuer: undefined }), /`issuer`/],
    ['issuer with ":"', (o) => ({ ...o, issuer: 'A:B' }), /`issuer`/],
    ['missing store', (o) => ({ ...o, store: undefined }), /`store`/],
    ['incomplete store', (o) => ({ ...o, store: { createFactor() {} } }), /`store` is not a complete store/],
    ['short encryption key', (o) => ({ ...o, encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(16).toString('base64') } } }), /encryptionKeys\.keys\.k1/],
    ['current key not in keyring', (o) => ({ ...o, encryptionKeys: { current: 'k9', keys: { k1: KEY_1 } } }), /encryptionKeys\.current/],
    ['short signing key', (o) => ({ ...o, signingKey: 'short' }), /`signingKey`/],
    ['raw bytes as an Ed25519 pair', (o) => ({ ...o, signingKey: { alg: 'EdDSA', privateKey: new Uint8Array(32), publicKey: new Uint8Array(32) } }), /`signingKey\.privateKey` must be the private half of an Ed25519 key/],
    ['unknown algorithm', (o) => ({ ...o, factors: [totp({ algorithm: 'MD5' as never })] }), /totp\.algorithm/],
    ['7 digits', (o) => ({ ...o, factors: [totp({ digits: 7 as never })] }), /totp\.digits/],
    ['period above 120 s (ALG-08)', (o) => ({ ...o, factors: [totp({ periodSeconds: 300 })] }), /totp\.periodSeconds/],
    ['window above the cap', (o) => ({ ...o, factors: [totp({ window: { pastSteps: 3 } })] }), /totp\.window\.pastSteps/],
    ['a plugin option at the top level', (o) => ({ ...o, totp: { digits: 8 } }), /`totp` is now an option of its factor plugin: factors: \[totp/],
    ['no factor types', (o) => ({ ...o, factors: [] }), /`factors` must be a non-empty array/],
    ['the same type twice', (o) => ({ ...o, factors: [totp(), totp()] }), /`factors\[1\]` repeats the factor type "totp"/],
    ['two recovery-code types', (o) => ({ ...o, factors: [totp(), backupCodes(), { ...backupCodes(), type: 'more_codes' }] }), /second recovery-code type/],
    ['a type that shadows a route', (o) => ({ ...o, factors: [totp(), { ...totp(), type: 'verify' }] }), /`factors\[1\]\.type`/],
    ['challenge TTL above 10 min', (o) => ({ ...o, challenge: { ttlSeconds: 3600 } }), /challenge\.ttlSeconds/],
    ['SMS code TTL above 10 min', (o) => ({ ...o, factors: [totp(), sms({ sender: consoleSender({ log: () => {} }), ttlSeconds: 900 })] }), /sms\.ttlSeconds/],
    ['lock above 100 (NIST)', (o) => ({ ...o, limits: { lockAfterFailures: 500 } }), /limits\.lockAfterFailures/],
    ['a typo', (o) => ({ ...o, isuer: 'x' }), /`isuer` is not a known option. Did you mean `issuer`\?/],
    ['bad sender', (o) => ({ ...o, factors: [totp(), sms({ sender: {} } as never)] }), /`sms\.sender`/],
  ];
  test.each(cases)('%s', (_name, mutate, message) => {
    const run = () => createMfa(mutate(base()) as MfaOptions);
    expect(run).toThrow(MfaConfigError);
    expect(run).toThrow(TypeError);
    expect(run).toThrow(message);
  });

  test('valid options with defaults create an engine', () => {
    const mfa = createMfa(base());
    expect(mfa.factorTypes.map((t) => t.type)).toEqual(['totp', 'backup_code']);
    expect(mfa.trustedDeviceTtlSeconds).toBe(30 * 86400);
  });
});
