// TOTP: window, replay, secrets, provisioning URI, QR, and real clients (oathtool, zbarimg).
import { createTotpKeyUri, generateTotpForStep, generateTotpSecret, timeStepAt, verifyTotp } from '@secondfactor/core';
import { base32Decode } from '../src/crypto';
import { defaultRandom } from '../src/crypto';
import { oathtoolTotp, testWithTool, zbarDecodeDataUrl } from '../../../test/support/tools';
import { enrolTotp, setup, totpNow } from './support/harness';

const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('window (WIN-01, WIN-02)', () => {
  const now = 1_700_000_015_000;
  const T = timeStepAt(now, 30);
  const at = (step: number) => generateTotpForStep(SECRET, step, P);
  const check = async (code: string, window = { pastSteps: 1, futureSteps: 1 }) =>
    verifyTotp({ secret: SECRET, code, nowMs: now, window, afterStep: null, ...P });

  test('default ±1: T, T−1, T+1 accepted; T−2, T+2 refused', async () => {
    expect(await check(await at(T))).toEqual({ ok: true, step: T });
    expect(await check(await at(T - 1))).toEqual({ ok: true, step: T - 1 });
    expect(await check(await at(T + 1))).toEqual({ ok: true, step: T + 1 });
    expect((await check(await at(T - 2))).ok).toBe(false);
    expect((await check(await at(T + 2))).ok).toBe(false);
  });

  test('no forward skew when futureSteps is 0', async () => {
    expect((await check(await at(T + 1), { pastSteps: 1, futureSteps: 0 })).ok).toBe(false);
  });

  test('window above the cap is refused at config time', () => {
    expect(() => setup({ totp: { window: { pastSteps: 3 } } })).toThrow(/totp\.window\.pastSteps/);
    expect(() => setup({ totp: { window: { futureSteps: 5 } } })).toThrow(/totp\.window\.futureSteps/);
  });

  test('malformed codes never match and never throw', async () => {
    for (const code of ['', '12345', '1234567', 'abcdef', ' 12345', '12345 ', '%', '*', '１２３４５６']) {
      expect(await check(code)).toEqual({ ok: false, reason: 'invalid_code' });
    }
  });
});

describe('replay (REP-01, REP-02)', () => {
  test('a matched step ≤ the last accepted step is refused as replayed', async () => {
    const now = 1_700_000_015_000;
    const T = timeStepAt(now, 30);
    const code = await generateTotpForStep(SECRET, T - 1, P);
    expect(await verifyTotp({ secret: SECRET, code, nowMs: now, window: { pastSteps: 1, futureSteps: 1 }, afterStep: T, ...P }))
      .toEqual({ ok: false, reason: 'replayed' });
  });

  test('the same code is accepted once, also after the step rolls over', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const code = await totpNow(secret, h.clock.now());
    const first = await h.mfa.stepUp.verify('alice', { code });
    expect(first.ok).toBe(true);
    expect(await h.mfa.stepUp.verify('alice', { code })).toEqual({ ok: false, reason: 'invalid_code' });
    h.clock.advance(30); // still inside the window as T−1
    expect(await h.mfa.stepUp.verify('alice', { code })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(h.events.filter((e) => e.type === 'totp.replay_rejected')).toHaveLength(2);
  });

  test('accept code(T) then code(T−1) → refused', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const now = h.clock.now();
    expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, now) })).ok).toBe(true);
    expect((await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, now - 30_000) })).ok).toBe(false);
  });

  test('20 concurrent verifications of one code give one success (atomic step guard)', async () => {
    const h = setup({ limits: { backoffAfterFailures: 100 } });
    const { secret } = await enrolTotp(h);
    const code = await totpNow(secret, h.clock.now());
    const results = await Promise.all(Array.from({ length: 20 }, () => h.mfa.stepUp.verify('alice', { code })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  test('a code used to log in cannot be reused for step-up or management (REP-03)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const code = await totpNow(secret, h.clock.now());
    const start = await h.mfa.login.start('alice');
    if (!start.required) throw new Error('expected a challenge');
    expect((await h.mfa.login.verify(start.challengeToken, { method: 'totp', code })).ok).toBe(true);
    expect((await h.mfa.stepUp.verify('alice', { code })).ok).toBe(false);
    expect((await h.mfa.backupCodes.regenerate('alice', { code })).ok).toBe(false);
    expect((await h.mfa.disable('alice', { code })).ok).toBe(false);
  });
});

describe('secrets (ALG-09)', () => {
  test('20 random bytes, base32 without padding; 10k enrolments are unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const s = generateTotpSecret(defaultRandom);
      expect(s).toMatch(/^[A-Z2-7]{32}$/);
      expect(base32Decode(s)).toHaveLength(20);
      seen.add(s);
    }
    expect(seen.size).toBe(10_000);
  });

  test('the engine ignores any client time: verification uses the server clock only (ALG-10)', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const oldCode = await totpNow(secret, h.clock.now() - 10 * 60_000);
    const r = await h.mfa.stepUp.verify('alice', { code: oldCode, ...({ timestamp: h.clock.now() - 10 * 60_000 } as object) } as { code: string });
    expect(r.ok).toBe(false);
  });
});

describe('otpauth URI (URI-01..URI-08)', () => {
  test('shape, %20 encoding, issuer prefix and parameter, no padding', () => {
    const uri = createTotpKeyUri({ issuer: 'ACME Co', accountName: 'john.doe@email.com', secret: 'JBSWY3DPEHPK3PXP', ...P });
    expect(uri).toBe('otpauth://totp/ACME%20Co:john.doe%40email.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co');
    expect(uri).not.toContain('+');
    const u = new URL(uri);
    expect(u.protocol).toBe('otpauth:');
    expect(u.host).toBe('totp');
    const [issuer, account] = decodeURIComponent(u.pathname.slice(1)).split(':');
    expect(issuer).toBe('ACME Co');
    expect(account).toBe('john.doe@email.com');
    expect(u.searchParams.get('issuer')).toBe(issuer);
    expect(u.searchParams.get('secret')).not.toContain('=');
  });

  test('defaults are not emitted; explicit non-defaults are, uppercase', () => {
    const uri = createTotpKeyUri({ issuer: 'A', accountName: 'b', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA256', digits: 8, periodSeconds: 60 });
    expect(uri).toContain('algorithm=SHA256');
    expect(uri).toContain('digits=8');
    expect(uri).toContain('period=60');
    expect(createTotpKeyUri({ issuer: 'A', accountName: 'b', secret: 'X', ...P })).not.toMatch(/algorithm|digits|period/);
  });

  test('issuer or account containing ":" are rejected', () => {
    expect(() => createTotpKeyUri({ issuer: 'A:B', accountName: 'b', secret: 'X', ...P })).toThrow(TypeError);
    expect(() => createTotpKeyUri({ issuer: 'A', accountName: 'b:c', secret: 'X', ...P })).toThrow(TypeError);
  });

  test('enrolment returns the URI, a PNG data URL and an SVG', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp', { accountName: 'alice@example.com' });
    expect(e.otpauthUri).toBe(`otpauth://totp/Acme%20Co:alice%40example.com?secret=${e.secret}&issuer=Acme%20Co`);
    expect(e.qrCode).toMatch(/^data:image\/png;base64,/);
    expect(e.qrSvg).toMatch(/^<svg/);
  });
});

describe('real clients', () => {
  testWithTool('zbarimg')('zbarimg decodes the PNG QR code back to exactly the URI (URI-07, SEC-07)', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp', { accountName: 'alice@example.com' });
    expect(zbarDecodeDataUrl(e.qrCode)).toBe(e.otpauthUri);
  });

  testWithTool('oathtool')('a code from oathtool confirms the factor and logs in', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp');
    const code = oathtoolTotp(e.secret, Math.floor(h.clock.now() / 1000));
    const confirmed = await h.mfa.confirm('alice', e.factorId, { code: code });
    expect(confirmed.ok).toBe(true);
    h.clock.advance(30);
    const start = await h.mfa.login.start('alice');
    if (!start.required) throw new Error('expected a challenge');
    const r = await h.mfa.login.verify(start.challengeToken, { method: 'totp', code: oathtoolTotp(e.secret, Math.floor(h.clock.now() / 1000)) });
    expect(r.ok).toBe(true);
  });

  testWithTool('oathtool')('oathtool agrees on SHA256/SHA512 and 8 digits', async () => {
    for (const algorithm of ['SHA256', 'SHA512'] as const) {
      const h = setup({ totp: { algorithm, digits: 8 } });
      const e = await h.mfa.enroll('bob', 'totp');
      expect(e.otpauthUri).toContain(`algorithm=${algorithm}&digits=8`);
      const code = oathtoolTotp(e.secret, Math.floor(h.clock.now() / 1000), { digits: 8, algorithm });
      expect((await h.mfa.confirm('bob', e.factorId, { code: code })).ok).toBe(true);
    }
  });
});
