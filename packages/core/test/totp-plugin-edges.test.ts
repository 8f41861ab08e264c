// The totp() plugin at its edges, found unasserted by mutation testing (issue #14): option
// bounds and names, what the type declares, what an enrolment stores and shows, the messages of
// refused input, and which factor a code is checked against.
import { MfaConfigError, generateTotp, memoryStore, timeStepAt, totp, type TotpOptions } from '@secondfactor/core';
import { enrolTotp, proofFor, setup, totpNow } from './support/harness';

describe('options', () => {
  test('bounds are inclusive and every refusal names its option', () => {
    for (const ok of [{ periodSeconds: 15 }, { periodSeconds: 120 }, { secretBytes: 16 }, { secretBytes: 64 }, { window: { pastSteps: 2, futureSteps: 2 } }, { window: { pastSteps: 0, futureSteps: 0 } }]) {
      expect(() => totp(ok)).not.toThrow();
    }
    const refused: [TotpOptions, RegExp][] = [
      [{ periodSeconds: 14 }, /`totp\.periodSeconds` must be an integer from 15 to 120 \(got 14\)/],
      [{ periodSeconds: 121 }, /`totp\.periodSeconds`/],
      [{ secretBytes: 15 }, /`totp\.secretBytes` must be an integer from 16 to 64 \(got 15\)/],
      [{ secretBytes: 65 }, /`totp\.secretBytes`/],
      [{ window: { pastSteps: -1 } }, /`totp\.window\.pastSteps` must be an integer from 0 to 2/],
      [{ window: { futureSteps: 3 } }, /`totp\.window\.futureSteps` must be an integer from 0 to 2/],
      [{ algorithm: 'MD5' as never }, /`totp\.algorithm` must be SHA1, SHA256 or SHA512 \(got MD5\)/],
      [{ digits: 7 as never }, /`totp\.digits` must be 6 or 8 \(got 7\)/],
      [{ digit: 6 } as never, /`totp\.digit` is not a known option\. Did you mean `digits`\?/],
      [{ window: { past: 1 } } as never, /`totp\.window\.past` is not a known option/],
    ];
    for (const [options, message] of refused) {
      expect(() => totp(options)).toThrow(MfaConfigError);
      expect(() => totp(options)).toThrow(message);
    }
  });

  test('every documented option is accepted together', () => {
    expect(() => totp({ algorithm: 'SHA256', digits: 8, periodSeconds: 60, window: { pastSteps: 2, futureSteps: 0 }, secretBytes: 32 })).not.toThrow();
    expect(() => totp({ algorithm: 'SHA512' })).not.toThrow();
    expect(() => totp({ algorithm: 'SHA1' })).not.toThrow();
  });

  test('secretBytes sets the length of new secrets (default 20 bytes: 32 base32 characters)', async () => {
    for (const [secretBytes, length] of [[undefined, 32], [16, 26], [64, 103]] as const) {
      const h = setup({ totp: secretBytes === undefined ? {} : { secretBytes } });
      expect((await h.mfa.enroll('alice', 'totp')).secret).toMatch(new RegExp(`^[A-Z2-7]{${length}}$`));
    }
  });

  test('the window option is what a verification accepts, each way', async () => {
    const check = async (window: TotpOptions['window'], offsetSteps: number) => {
      const h = setup({ totp: { window } });
      const { secret } = await enrolTotp(h);
      h.clock.advance(150); // the confirming code's step well behind
      return (await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now() + offsetSteps * 30_000) })).ok;
    };
    expect(await check(undefined, -1)).toBe(true);
    expect(await check(undefined, 1)).toBe(true);
    expect(await check(undefined, -2)).toBe(false);
    expect(await check({ pastSteps: 2 }, -2)).toBe(true);
    expect(await check({ pastSteps: 0 }, -1)).toBe(false);
    expect(await check({ futureSteps: 2 }, 2)).toBe(true);
    expect(await check({ futureSteps: 0 }, 1)).toBe(false);
  });
});

test('the type declares a code input, no challenge step, not restricted, not phishing-resistant', () => {
  const h = setup();
  expect(h.mfa.factorTypes.find((t) => t.type === 'totp')).toEqual({
    type: 'totp', input: 'code', enrollable: true, challenge: false, phishingResistant: false, restricted: false,
  });
});

describe('enrolment', () => {
  test('non-default parameters are stored with the factor, shown in the URI, and used to verify', async () => {
    const h = setup({ totp: { algorithm: 'SHA256', digits: 8, periodSeconds: 60 } });
    const e = await h.mfa.enroll('alice', 'totp');
    expect(e.otpauthUri).toContain('&algorithm=SHA256&digits=8&period=60');
    expect((await h.store.getFactor('alice', e.factorId))?.data).toMatchObject({ algorithm: 'SHA256', digits: 8, periodSeconds: 60 });
    const P = { algorithm: 'SHA256' as const, digits: 8 as const, periodSeconds: 60 };
    // A code of the default parameters is refused (wrong length), one of the stored ones confirms.
    await expect(h.mfa.confirm('alice', e.factorId, { code: await totpNow(e.secret, h.clock.now()) })).rejects.toThrow('code has the wrong number of digits');
    expect(await h.mfa.confirm('alice', e.factorId, { code: '00000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    const r = await h.mfa.confirm('alice', e.factorId, { code: await generateTotp(e.secret, h.clock.now(), P) });
    expect(r).toMatchObject({ ok: true, amr: ['otp'], factor: { label: 'Authenticator app', type: 'totp' } });
    // The confirming code's step is the factor's counter: that code cannot log in afterwards.
    expect((await h.store.getFactor('alice', e.factorId))?.counter).toBe(timeStepAt(h.clock.now(), 60));
    expect((await h.mfa.stepUp.verify('alice', { code: await generateTotp(e.secret, h.clock.now(), P) })).ok).toBe(false);
    h.clock.advance(60);
    expect(await h.mfa.stepUp.verify('alice', { code: await generateTotp(e.secret, h.clock.now(), P) })).toMatchObject({ ok: true, amr: ['mfa', 'otp'] });
  });

  test('a wrong confirming code is an invalid_code failure of the enrolment, recorded as such', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp');
    expect(await h.mfa.confirm('alice', e.factorId, { code: '000000' }, { ip: '192.0.2.1' })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.at(-1)).toEqual(expect.objectContaining({
      type: 'mfa.failed', userId: 'alice', factorId: e.factorId, factorType: 'totp', outcome: 'failure', reason: 'invalid_code', purpose: 'enroll', ip: '192.0.2.1',
    }));
    expect((await h.store.getFactor('alice', e.factorId))?.status).toBe('pending');
  });

  test('the account name in the label keeps ":" out (shown as U+A789), the issuer is the engine\'s', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp', { accountName: 'a:b:c' });
    expect(e.otpauthUri.startsWith(`otpauth://totp/Acme%20Co:${encodeURIComponent('a\uA789b\uA789c')}?`)).toBe(true);
  });
});

describe('refused input', () => {
  test('the message gives the lengths this user\'s authenticators produce (6 when none is known)', async () => {
    const h = setup({ totp: { digits: 8 } });
    await expect(h.mfa.login.verify('x'.repeat(43), { method: 'totp', code: 'abc' })).rejects.toThrow('code must be a string of 6 digits');
    const e = await h.mfa.enroll('bob', 'totp');
    const P = { algorithm: 'SHA1' as const, digits: 8 as const, periodSeconds: 30 };
    expect((await h.mfa.confirm('bob', e.factorId, { code: await generateTotp(e.secret, h.clock.now(), P) })).ok).toBe(true);
    await expect(h.mfa.stepUp.verify('bob', { code: 'abc' })).rejects.toMatchObject({ code: 'invalid_request', field: 'code', message: 'code must be a string of 8 digits' });
    await expect(h.mfa.stepUp.verify('bob', { code: '123456' })).rejects.toMatchObject({ code: 'invalid_request', message: 'code has the wrong number of digits' });
    // Seven digits is no authenticator's length at all: a malformed code, not a wrong length.
    await expect(h.mfa.stepUp.verify('bob', { code: '1234567' })).rejects.toMatchObject({ message: 'code must be a string of 8 digits' });
  });

  test('a code that is not a string is refused as such, even when it reads as digits (not as a wrong length)', async () => {
    const h = setup();
    await enrolTotp(h);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    for (const code of [123456, ['123456']]) {
      await expect(h.mfa.login.verify(s.challengeToken, { method: 'totp', code })).rejects.toMatchObject({ code: 'invalid_request', field: 'code', message: 'code must be a string of 6 digits' });
    }
  });

  test('a user with a 6- and an 8-digit authenticator may use either; the message names both lengths', async () => {
    const P8 = { algorithm: 'SHA1' as const, digits: 8 as const, periodSeconds: 30 };
    // The 8-digit factor is enrolled first (by an engine configured for 8 digits, on the same store).
    const b = setup({ totp: { digits: 8 } });
    const e8 = await b.mfa.enroll('carol', 'totp');
    expect((await b.mfa.confirm('carol', e8.factorId, { code: await generateTotp(e8.secret, b.clock.now(), P8) })).ok).toBe(true);
    const a = setup({ store: b.store });
    const e6 = await a.mfa.enroll('carol', 'totp', { proof: await proofFor(a, 'carol') });
    expect((await a.mfa.confirm('carol', e6.factorId, { code: await totpNow(e6.secret, a.clock.now()) })).ok).toBe(true);
    a.clock.advance(60);
    for (const code of ['abc', '1234567', '123456789']) {
      await expect(a.mfa.stepUp.verify('carol', { code })).rejects.toMatchObject({ code: 'invalid_request', message: 'code must be a string of 6 or 8 digits' });
    }
    expect((await a.mfa.stepUp.verify('carol', { code: await totpNow(e6.secret, a.clock.now()) })).ok).toBe(true);
    a.clock.advance(30);
    expect((await a.mfa.stepUp.verify('carol', { code: await generateTotp(e8.secret, a.clock.now(), P8) })).ok).toBe(true);
  });
});

describe('a user with two authenticators', () => {
  async function twoApps() {
    const h = setup({ store: memoryStore() });
    const first = await enrolTotp(h);
    const e = await h.mfa.enroll('alice', 'totp', { label: 'Tablet', proof: await proofFor(h) });
    expect((await h.mfa.confirm('alice', e.factorId, { code: await totpNow(e.secret, h.clock.now()) })).ok).toBe(true);
    h.clock.advance(30);
    return { h, first, second: { secret: e.secret, factorId: e.factorId } };
  }

  test('a code of either is accepted, on the factor it belongs to (its step recorded there only)', async () => {
    const { h, first, second } = await twoApps();
    const firstBefore = (await h.store.getFactor('alice', first.factorId))?.counter;
    expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(second.secret, h.clock.now()) })).ok).toBe(true);
    expect(h.events.filter((e) => e.type === 'mfa.verified').at(-1)).toMatchObject({ factorId: second.factorId, factorType: 'totp' });
    expect((await h.store.getFactor('alice', second.factorId))?.counter).toBe(timeStepAt(h.clock.now(), 30));
    expect((await h.store.getFactor('alice', first.factorId))?.counter).toBe(firstBefore);
    expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(first.secret, h.clock.now()) })).ok).toBe(true);
    expect(h.events.filter((e) => e.type === 'mfa.verified').at(-1)).toMatchObject({ factorId: first.factorId });
  });

  test('a replayed code is reported on the factor that used it', async () => {
    const { h, second } = await twoApps();
    const code = await totpNow(second.secret, h.clock.now());
    expect((await h.mfa.stepUp.verify('alice', { code })).ok).toBe(true);
    expect(await h.mfa.stepUp.verify('alice', { code })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.filter((e) => e.type === 'totp.replay_rejected')).toEqual([
      expect.objectContaining({ userId: 'alice', factorId: second.factorId, factorType: 'totp', outcome: 'failure', reason: 'replayed' }),
    ]);
    expect(h.events.filter((e) => e.type === 'mfa.failed').at(-1)).toMatchObject({ reason: 'replayed' });
  });
});
