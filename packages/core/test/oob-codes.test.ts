// Out-of-band codes over SMS and email (SMS-01..SMS-14 core rules, SECURITY-REQUIREMENTS §F).
import { consoleSender, maskPhone, MfaError, type CodeMessage, type CodeSender } from '@secondfactor/core';
import { enrolTotp, proofFor, setup } from './support/harness';

function recordingSender(): CodeSender & { sent: CodeMessage[]; fail?: unknown } {
  const s = {
    sent: [] as CodeMessage[],
    fail: undefined as unknown,
    async send(m: CodeMessage) {
      if (s.fail) throw s.fail;
      s.sent.push(m);
    },
  };
  return s;
}

const PHONE = '+14155550123'; // a valid US FIXED_LINE_OR_MOBILE number

function smsSetup(overrides: Parameters<typeof setup>[0] = {}) {
  const sms = recordingSender();
  const email = recordingSender();
  const h = setup({ sms, email, ...overrides });
  return { ...h, sms, email };
}

async function enrolSms(h: ReturnType<typeof smsSetup>, userId = 'alice', phone = PHONE) {
  const { factorId, sentTo } = await h.mfa.enroll(userId, 'sms', { input: { phone: phone } });
  const code = h.sms.sent.at(-1)!.code;
  const r = await h.mfa.confirm(userId, factorId, { code: code });
  if (!r.ok) throw new Error(`confirm failed: ${r.reason}`);
  h.clock.advance(31);
  return { factorId, sentTo, backupCodes: r.backupCodes };
}

async function smsLogin(h: ReturnType<typeof smsSetup>, userId = 'alice') {
  const s = await h.mfa.login.start(userId);
  if (!s.required) throw new Error('expected a challenge');
  const sent = await h.mfa.login.challenge(s.challengeToken, { method: 'sms' }, { ip: '192.0.2.1' });
  return { s, sent, code: h.sms.sent.at(-1)?.code };
}

describe('SMS enrolment', () => {
  test('normalises to E.164, sends an enrol code, activates only with that code, issues backup codes (SMS-10)', async () => {
    const h = smsSetup();
    const { factorId, sentTo } = await h.mfa.enroll('alice', 'sms', { input: { phone: '+1 (415) 555-0123' } });
    expect(sentTo).toBe('+1 ••• ••• 0123');
    expect(h.sms.sent).toHaveLength(1);
    expect(h.sms.sent[0]).toMatchObject({ to: PHONE, purpose: 'enroll', issuer: 'Acme Co' });
    expect(h.sms.sent[0]!.code).toMatch(/^\d{6}$/);
    expect((await h.mfa.status('alice')).enabled).toBe(false);
    expect(await h.mfa.confirm('alice', factorId, { code: '000000' })).toEqual({ ok: false, reason: 'invalid_code' });
    const r = await h.mfa.confirm('alice', factorId, { code: h.sms.sent[0]!.code });
    if (!r.ok) throw new Error('confirm failed');
    expect(r.backupCodes).toHaveLength(10);
    expect(r.factor).toMatchObject({ type: 'sms', restricted: true, destination: '+1 ••• ••• 0123' });
    const status = await h.mfa.status('alice');
    expect(status.factors[0]).toMatchObject({ type: 'sms', restricted: true });
  });

  test.each([
    ['not a string', 4155550123],
    ['no country code', '4155550123'],
    ['garbage', '+1 call me'],
    ['too short', '+1415'],
    ['a UK fixed line', '+442079460000'],
    ['over-long', `+1${'5'.repeat(40)}`],
  ])('refuses %s with invalid_request on field phone', async (_n, phone) => {
    const h = smsSetup();
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: phone } })).rejects.toMatchObject({ code: 'invalid_request', field: 'phone' });
    expect(h.sms.sent).toHaveLength(0);
  });

  test('country allowlist', async () => {
    const h = smsSetup({ oob: { allowedCountries: ['DE'] } });
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: PHONE } })).rejects.toMatchObject({ field: 'phone' });
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: '+4915112345678' } })).resolves.toMatchObject({ sentTo: '+49 ••• ••• 5678' });
  });

  test('an enrolment code fails at login, a login code fails at enrolment (SMS-03)', async () => {
    const h = smsSetup();
    await enrolSms(h);
    const pending = await h.mfa.enroll('alice', 'sms', { input: { phone: '+14155550199' }, proof: await proofFor(h) });
    const enrolCode = h.sms.sent.at(-1)!.code;
    h.clock.advance(31);
    const { s } = await smsLogin(h);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: enrolCode })).toEqual({ ok: false, reason: 'invalid_code' });
    const loginCode = h.sms.sent.at(-1)!.code;
    if (loginCode !== enrolCode) {
      expect(await h.mfa.confirm('alice', pending.factorId, { code: loginCode })).toEqual({ ok: false, reason: 'invalid_code' });
    }
  });

  test('a failed send leaves no pending factor and no usable code; provider faults map to sms_unavailable', async () => {
    const h = smsSetup();
    h.sms.fail = new Error('socket hang up');
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: PHONE } })).rejects.toMatchObject({ code: 'sms_unavailable' });
    expect(await h.store.listFactors('alice')).toEqual([]);
    h.sms.fail = new MfaError('invalid_request', 'bad number', { field: 'phone' });
    h.clock.advance(31);
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: PHONE } })).rejects.toMatchObject({ code: 'invalid_request', field: 'phone' });
    expect(await h.store.getAttemptState('alice')).toBeNull();
  });
});

describe('SMS login', () => {
  test('the code goes to the stored number only, shows a masked destination, and logs in once', async () => {
    const h = smsSetup();
    await enrolSms(h);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    expect(s.methods).toEqual(['sms', 'backup_code']);
    const sent = await h.mfa.login.challenge(s.challengeToken, { method: 'sms', ...({ to: '+15005550006' } as object) });
    expect(sent).toMatchObject({ ok: true, show: { sentTo: '+1 ••• ••• 0123' } });
    expect(h.sms.sent.at(-1)).toMatchObject({ to: PHONE, purpose: 'login' });
    const code = h.sms.sent.at(-1)!.code;
    const r = await h.mfa.login.verify(s.challengeToken, { method: 'sms', code });
    expect(r).toMatchObject({ ok: true, amr: ['mfa', 'sms'] });
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code })).toEqual({ ok: false, reason: 'challenge_expired' });
  });

  test('no send without a valid challenge (SMS-07)', async () => {
    const h = smsSetup();
    await enrolSms(h);
    const before = h.sms.sent.length;
    expect(await h.mfa.login.challenge('A'.repeat(43), { method: 'sms' })).toEqual({ ok: false, reason: 'challenge_expired' });
    expect(await h.mfa.login.challenge(undefined, { method: 'sms' })).toEqual({ ok: false, reason: 'challenge_expired' });
    expect(h.sms.sent.length).toBe(before);
  });

  test('codes expire after the TTL (SMS-02) and are stored only as keyed hashes (SMS-04)', async () => {
    const h = smsSetup({ oob: { ttlSeconds: 600 } });
    await enrolSms(h);
    const { s, code } = await smsLogin(h);
    const stored = JSON.stringify(await h.store.getFactorState(`login:${require('node:crypto').createHash('sha256').update(s.challengeToken).digest('base64url')}:sms`));
    expect(stored).toContain('"secret"');
    expect(stored).not.toContain(`"${code}"`);
    h.clock.advance(290); // the challenge (5 min) is still alive, the code too
    h.clock.advance(11); // 10:01 after sending: past both
    expect((await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: code! })).ok).toBe(false);
  });

  test('the code expires by itself even while the challenge is alive', async () => {
    const h = smsSetup({ oob: { ttlSeconds: 60 }, challenge: { ttlSeconds: 600 } });
    await enrolSms(h);
    const { s, code } = await smsLogin(h);
    h.clock.advance(61);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: code! })).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('a resend creates a new code and invalidates the old one, after the 30 s cooldown (SMS-05, SMS-13)', async () => {
    const h = smsSetup();
    await enrolSms(h);
    const { s, code: first } = await smsLogin(h);
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).rejects.toMatchObject({ code: 'too_many_attempts', retryAfter: 30 });
    h.clock.advance(30);
    await h.mfa.login.challenge(s.challengeToken, { method: 'sms' });
    const second = h.sms.sent.at(-1)!.code;
    if (first !== second) {
      expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: first! })).toEqual({ ok: false, reason: 'invalid_code' });
    }
    expect((await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: second })).ok).toBe(true);
  });

  test('5 wrong tries kill the code (SMS-06)', async () => {
    const h = smsSetup({ limits: { backoffAfterFailures: 50 }, challenge: { maxAttempts: 10 } });
    await enrolSms(h);
    const { s, code } = await smsLogin(h);
    const wrong = code === '000000' ? '000001' : '000000';
    for (let i = 0; i < 5; i++) expect((await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: wrong })).ok).toBe(false);
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: code! })).toEqual({ ok: false, reason: 'invalid_code' });
  });

  test('send limits per user, destination, IP and globally; the sender is not called past them (SMS-12)', async () => {
    const h = smsSetup({ oob: { resendCooldownSeconds: 0, sendLimits: { perUserPerHour: 3, perDestinationPerHour: 10, perIpPerHour: 10, globalPerHour: 100 } } });
    await enrolSms(h); // 1 send
    await smsLogin(h); // 2
    await smsLogin(h); // 3
    const before = h.sms.sent.length;
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    const refused = h.mfa.login.challenge(s.challengeToken, { method: 'sms' });
    await expect(refused).rejects.toMatchObject({ code: 'too_many_attempts' });
    await expect(h.mfa.login.challenge(s.challengeToken, { method: 'sms' })).rejects.toMatchObject({ retryAfter: expect.any(Number) });
    expect(h.sms.sent.length).toBe(before);
    h.clock.advance(3600);
    const fresh = await h.mfa.login.start('alice');
    if (!fresh.required) throw new Error('expected a challenge');
    await expect(h.mfa.login.challenge(fresh.challengeToken, { method: 'sms' })).resolves.toMatchObject({ ok: true });
  });

  test('per-IP and global budgets hold across users', async () => {
    const h = smsSetup({ oob: { resendCooldownSeconds: 0, sendLimits: { perUserPerHour: 10, perDestinationPerHour: 10, perIpPerHour: 2, globalPerHour: 3 } } });
    for (const [i, u] of ['u1', 'u2', 'u3'].entries()) {
      await h.mfa.enroll(u, 'sms', { input: { phone: `+1415555010${i}` } });
    }
    await expect(h.mfa.enroll('u4', 'sms', { input: { phone: '+14155550109' } })).rejects.toMatchObject({ code: 'too_many_attempts' });
    expect(h.sms.sent).toHaveLength(3);
    const h2 = smsSetup({ oob: { resendCooldownSeconds: 0, sendLimits: { perUserPerHour: 10, perDestinationPerHour: 10, perIpPerHour: 2, globalPerHour: 100 } } });
    await h2.mfa.enroll('u1', 'sms', { input: { phone: '+14155550100' } }, { ip: '192.0.2.50' });
    await h2.mfa.enroll('u2', 'sms', { input: { phone: '+14155550101' } }, { ip: '192.0.2.50' });
    await expect(h2.mfa.enroll('u3', 'sms', { input: { phone: '+14155550102' } }, { ip: '192.0.2.50' })).rejects.toMatchObject({ code: 'too_many_attempts' });
    await expect(h2.mfa.enroll('u3', 'sms', { input: { phone: '+14155550102' } }, { ip: '192.0.2.51' })).resolves.toBeTruthy();
  });

  test('20 parallel verifications of one SMS code: one success', async () => {
    const h = smsSetup({ limits: { backoffAfterFailures: 100 } });
    await enrolSms(h);
    const { s, code } = await smsLogin(h);
    const results = await Promise.all(Array.from({ length: 20 }, () => h.mfa.login.verify(s.challengeToken, { method: 'sms', code: code! })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  test('SMS guesses count in the per-user limit shared with TOTP', async () => {
    const h = smsSetup({ oob: { sendLimits: { perUserPerHour: 20, perDestinationPerHour: 20 } } });
    await enrolTotp(h);
    await h.mfa.enroll('alice', 'sms', { input: { phone: PHONE }, proof: await proofFor(h) });
    const confirmCode = h.sms.sent.at(-1)!.code;
    const factorId = (await h.store.listFactors('alice')).find((f) => f.type === 'sms')!.id;
    expect((await h.mfa.confirm('alice', factorId, { code: confirmCode })).ok).toBe(true);
    h.clock.advance(31);
    for (let i = 0; i < 5; i++) {
      const { s } = await smsLogin(h);
      h.clock.advance(31);
      await h.mfa.login.verify(s.challengeToken, { method: 'sms', code: '000000' });
    }
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    expect(await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: '123456' })).toMatchObject({ reason: 'too_many_attempts' });
  });
});

describe('email', () => {
  test('enrol and log in with an email code; a second factor gets no new backup codes', async () => {
    const h = smsSetup();
    await enrolTotp(h);
    const { factorId, sentTo } = await h.mfa.enroll('alice', 'email', { input: { email: ' Alice@Example.COM ' }, proof: await proofFor(h) });
    expect(sentTo).toBe('a•••@example.com');
    expect(h.email.sent.at(-1)).toMatchObject({ to: 'alice@example.com', purpose: 'enroll' });
    const r = await h.mfa.confirm('alice', factorId, { code: h.email.sent.at(-1)!.code });
    expect(r).toMatchObject({ ok: true });
    expect(r.ok && r.backupCodes).toBeFalsy();
    h.clock.advance(31);
    const s = await h.mfa.login.start('alice');
    if (!s.required) throw new Error('expected a challenge');
    expect(s.methods).toEqual(['totp', 'sms', 'email', 'backup_code'].filter((m) => m !== 'sms'));
    await h.mfa.login.challenge(s.challengeToken, { method: 'email' });
    expect((await h.mfa.login.verify(s.challengeToken, { method: 'email', code: h.email.sent.at(-1)!.code })).ok).toBe(true);
  });

  test('invalid addresses are refused on field email', async () => {
    const h = smsSetup();
    for (const bad of ['nope', 'a@b', 42, `${'a'.repeat(300)}@example.com`]) {
      await expect(h.mfa.enroll('alice', 'email', { input: { email: bad } })).rejects.toMatchObject({ code: 'invalid_request', field: 'email' });
    }
  });

  test('without a configured sender the method is not offered and enrolment is refused', async () => {
    const h = setup();
    expect(h.mfa.factorTypes.map((t) => t.type)).toEqual(['totp', 'backup_code']);
    await expect(h.mfa.enroll('alice', 'sms', { input: { phone: PHONE } })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('console sender', () => {
  test('logs a masked destination, never the code; dev mode keeps the last code readable', async () => {
    const lines: string[] = [];
    const dev = consoleSender({ log: (l) => lines.push(l), devMode: true });
    await dev.send({ to: PHONE, code: '123456', purpose: 'login', issuer: 'Acme' });
    expect(lines).toEqual([`[secondfactor] login code sent to ${maskPhone(PHONE)} (sms, console sender)`]);
    expect(lines.join('')).not.toContain('123456');
    expect(dev.lastCode(PHONE)).toBe('123456');
    const prod = consoleSender({ log: (l) => lines.push(l) });
    await prod.send({ to: PHONE, code: '654321', purpose: 'login', issuer: 'Acme' });
    expect(prod.lastCode(PHONE)).toBeUndefined();
    expect(lines.join('')).not.toContain('654321');
  });

  test('dev mode is refused in production', () => {
    const old = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => consoleSender({ devMode: true })).toThrow(/production/);
    } finally {
      process.env.NODE_ENV = old;
    }
  });
});
