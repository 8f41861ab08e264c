// Issue #9 (hardening): each rule at its root in core, with the attack that passed before.
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { memoryStore, passwordProof, type CodeMessage, type FreshProof, type MfaStore } from '@secondfactor/core';
import { KEY_1, KEY_2, SIGNING_KEY, enrolTotp, proofFor, setup, storeLosingBackupCodeRace, totpNow } from './support/harness';

const A = { ip: '198.51.100.1', userAgent: 'attacker' };
const B = { ip: '203.0.113.9', userAgent: 'real user' };

async function challenge(h: ReturnType<typeof setup>, userId = 'alice') {
  const s = await h.mfa.login.start(userId);
  if (!s.required) throw new Error('expected a challenge');
  return s.challengeToken;
}

describe('1. a pending factor becomes active only with fresh proof', () => {
  test('a setup started while MFA was off cannot be confirmed after the owner turned MFA on', async () => {
    const sent: CodeMessage[] = [];
    const h = setup({ email: { send: async (m: CodeMessage) => void sent.push(m) } });
    // The attacker (an old session) starts an email setup to their own address while MFA is off.
    const dormant = await h.mfa.enroll('alice', 'email', { input: { email: 'mallory@example.net' } });
    const attackerCode = sent.at(-1)!.code;
    // The owner turns MFA on with their own authenticator.
    const owner = await enrolTotp(h);
    // The dormant setup was dropped when the owner's factor became active…
    expect((await h.store.listFactors('alice')).map((f) => f.id)).toEqual([owner.factorId]);
    await expect(h.mfa.confirm('alice', dormant.factorId, { code: attackerCode })).rejects.toMatchObject({ code: 'not_enrolled' });
    expect((await h.mfa.status('alice')).factors.map((f) => f.type)).toEqual(['totp']);
  });

  test('even if it survived (a store that kept it), confirming it needs fresh proof now', async () => {
    const inner = memoryStore();
    // A store whose deletes of pending factors are lost (e.g. written by an older version).
    const store: MfaStore = { ...inner, deleteFactor: async (u, id) => ((await inner.getFactor(u, id))?.status === 'pending' ? false : inner.deleteFactor(u, id)) };
    const h = setup({ store });
    const dormant = await h.mfa.enroll('alice', 'totp', { label: 'Attacker' });
    await enrolTotp(h);
    const code = await totpNow(dormant.secret, h.clock.now());
    await expect(h.mfa.confirm('alice', dormant.factorId, { code: code })).rejects.toMatchObject({ code: 'mfa_required' });
    expect((await h.mfa.status('alice')).factors).toHaveLength(1);
    // With the owner's fresh proof it may become active.
    expect((await h.mfa.confirm('alice', dormant.factorId, { code: code }, undefined, { proof: await proofFor(h) })).ok).toBe(true);
  });

  test('a setup made with fresh proof while MFA is on is confirmed without a second proof', async () => {
    const h = setup();
    await enrolTotp(h);
    await expect(h.mfa.enroll('alice', 'totp', { label: 'Tablet' })).rejects.toMatchObject({ code: 'mfa_required' });
    await expect(h.mfa.enroll('alice', 'totp', { label: 'Tablet', proof: { assertion: 'x.y.z' } })).rejects.toMatchObject({ code: 'invalid_code' });
    const tablet = await h.mfa.enroll('alice', 'totp', { label: 'Tablet', proof: await proofFor(h) });
    expect((await h.mfa.confirm('alice', tablet.factorId, { code: await totpNow(tablet.secret, h.clock.now()) })).ok).toBe(true);
  });

  test('pending factors expire (enrollment.pendingTtlSeconds, default 10 minutes)', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp');
    h.clock.advance(601);
    await expect(h.mfa.confirm('alice', e.factorId, { code: await totpNow(e.secret, h.clock.now()) })).rejects.toMatchObject({ code: 'not_enrolled' });
    expect(await h.store.listFactors('alice')).toEqual([]);
    const short = setup({ enrollment: { pendingTtlSeconds: 60 } });
    const e2 = await short.mfa.enroll('alice', 'totp');
    short.clock.advance(61);
    await expect(short.mfa.confirm('alice', e2.factorId, { code: await totpNow(e2.secret, short.clock.now()) })).rejects.toMatchObject({ code: 'not_enrolled' });
  });
});

describe('2. the per-IP budget counts evaluated failures only', () => {
  test('an account in backoff cannot spend the IP budget of the other users behind that IP', async () => {
    const h = setup({ limits: { perIpPerWindow: 10 } });
    await enrolTotp(h, 'mallory');
    const { secret } = await enrolTotp(h, 'alice');
    // Mallory hammers her own account from the shared IP: 5 evaluated failures, then backoff refusals.
    for (let i = 0; i < 200; i++) await h.mfa.login.verify(await challenge(h, 'mallory'), { method: 'totp', code: '000000' }, A);
    expect(await h.store.getCounter(`verify:ip:${A.ip}:${Math.floor(h.clock.now() / 900_000)}`)).toBe(5);
    // Alice behind the same IP still signs in with a right code.
    const r = await h.mfa.login.verify(await challenge(h), { method: 'totp', code: await totpNow(secret, h.clock.now()) }, A);
    expect(r.ok).toBe(true);
  });

  test('successes cost nothing; evaluated failures across accounts still hit the budget (RL-05)', async () => {
    const h = setup({ limits: { perIpPerWindow: 3 } });
    const users = ['u1', 'u2', 'u3', 'u4'];
    const secrets: Record<string, string> = {};
    for (const u of users) secrets[u] = (await enrolTotp(h, u)).secret;
    for (const u of users) {
      const r = await h.mfa.login.verify(await challenge(h, u), { method: 'totp', code: await totpNow(secrets[u]!, h.clock.now()) }, A);
      expect(r.ok).toBe(true);
    }
    for (const u of users.slice(0, 3)) expect(await h.mfa.login.verify(await challenge(h, u), { method: 'totp', code: '000000' }, A)).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await h.mfa.login.verify(await challenge(h, 'u4'), { method: 'totp', code: '000000' }, A)).toMatchObject({ ok: false, reason: 'too_many_attempts' });
  });
});

describe('4. password as proof', () => {
  test('a plain {passwordVerified: true} from request JSON is not proof', async () => {
    const h = setup();
    await enrolTotp(h);
    const forged = JSON.parse('{"passwordVerified": true}') as FreshProof;
    await expect(h.mfa.disable('alice', forged, undefined, { allowPassword: true })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await h.mfa.status('alice')).enabled).toBe(true);
  });

  test('password proof only where the host opted in; wrong passwords count, emit failures and lock', async () => {
    const h = setup({ limits: { lockAfterFailures: 8 } });
    const { secret } = await enrolTotp(h);
    const wrong = passwordProof(() => false);
    await expect(h.mfa.disable('alice', passwordProof(() => true))).rejects.toMatchObject({ code: 'invalid_request' });
    for (let i = 0; i < 5; i++) expect(await h.mfa.disable('alice', wrong, B, { allowPassword: true })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await h.mfa.disable('alice', passwordProof(() => true), B, { allowPassword: true })).toMatchObject({ ok: false, reason: 'too_many_attempts' });
    expect(h.events.filter((e) => e.type === 'mfa.failed' && e.factorType === 'password' && e.reason === 'invalid_code')).toHaveLength(5);
    // Lock: 8 consecutive failures across clients; then even the right password is refused.
    for (let i = 0; i < 3; i++) await h.mfa.disable('alice', wrong, { ip: `192.0.2.${i}` }, { allowPassword: true });
    expect(h.events.some((e) => e.type === 'mfa.locked')).toBe(true);
    expect(await h.mfa.disable('alice', passwordProof(() => true), { ip: '192.0.2.99' }, { allowPassword: true })).toMatchObject({ ok: false, reason: 'too_many_attempts' });
    expect((await h.mfa.status('alice')).enabled).toBe(true);
    // A code is still refused while locked too; the host's unlock opens it again.
    await h.mfa.admin.unlock('alice', { actor: 'support' });
    h.clock.advance(30);
    expect(await h.mfa.disable('alice', { code: await totpNow(secret, h.clock.now()) }, { ip: '192.0.2.99' })).toEqual({ ok: true });
  });

  test('a throwing password check fails closed and reaches the host unchanged (not store_unavailable)', async () => {
    const h = setup();
    await enrolTotp(h);
    const boom = new Error('user db down');
    await expect(h.mfa.disable('alice', passwordProof(() => { throw boom; }), undefined, { allowPassword: true })).rejects.toBe(boom);
    expect((await h.mfa.status('alice')).enabled).toBe(true);
  });
});

describe('5. backoff per user and client; the lock per user', () => {
  test('failures from one client do not delay the same user on another client', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    for (let i = 0; i < 6; i++) await h.mfa.login.verify(await challenge(h), { method: 'totp', code: '000000' }, A);
    expect(await h.mfa.login.verify(await challenge(h), { method: 'totp', code: '000000' }, A)).toMatchObject({ reason: 'too_many_attempts' });
    // The real user, on their own device, gets in at once.
    expect((await h.mfa.login.verify(await challenge(h), { method: 'totp', code: await totpNow(secret, h.clock.now()) }, B)).ok).toBe(true);
    // …and that success does not lift the attacker's backoff.
    expect(await h.mfa.login.verify(await challenge(h), { method: 'totp', code: '000000' }, A)).toMatchObject({ reason: 'too_many_attempts' });
  });

  test('the per-user lock still holds across clients, emits mfa.locked once, and only the host unlocks', async () => {
    const h = setup({ limits: { lockAfterFailures: 12 } });
    const { secret } = await enrolTotp(h);
    for (let i = 0; i < 12; i++) {
      const r = await h.mfa.login.verify(await challenge(h), { method: 'totp', code: '000000' }, { ip: `192.0.2.${i}` });
      expect(r).toEqual({ ok: false, reason: 'invalid_code' });
    }
    expect(h.events.filter((e) => e.type === 'mfa.locked')).toEqual([expect.objectContaining({ userId: 'alice', reason: 'too_many_attempts' })]);
    expect((await h.mfa.status('alice')).locked).toBe(true);
    const right = () => totpNow(secret, h.clock.now());
    expect(await h.mfa.login.verify(await challenge(h), { method: 'totp', code: await right() }, B)).toMatchObject({ reason: 'too_many_attempts' });
    h.clock.advance(86_400 * 30);
    expect(await h.mfa.login.verify(await challenge(h), { method: 'totp', code: await right() }, B)).toMatchObject({ reason: 'too_many_attempts' });
    await h.mfa.admin.unlock('alice', { actor: 'support' });
    expect((await h.mfa.login.verify(await challenge(h), { method: 'totp', code: await right() }, B)).ok).toBe(true);
  });
});

describe('8. rotating the encryption key keeps codes in flight valid', () => {
  test('an SMS code sent before rotation is accepted after it, without counting a failure', async () => {
    const store = memoryStore();
    const sent: CodeMessage[] = [];
    const sms = { send: async (m: CodeMessage) => void sent.push(m) };
    const before = setup({ store, sms });
    await enrolTotp(before);
    const { factorId } = await before.mfa.enroll('alice', 'sms', { input: { phone: '+14155550123' }, proof: await proofFor(before) });
    expect((await before.mfa.confirm('alice', factorId, { code: sent.at(-1)!.code })).ok).toBe(true);
    before.clock.advance(31);
    const login = await challenge(before);
    await before.mfa.login.challenge(login, { method: 'sms' });
    const code = sent.at(-1)!.code;
    // The operator rotates: k2 becomes current, k1 stays in the ring.
    const after = setup({ store, sms, encryptionKeys: { current: 'k2', keys: { k1: KEY_1, k2: KEY_2 } }, clock: before.clock.now });
    expect((await after.mfa.login.verify(login, { method: 'sms', code })).ok).toBe(true);
    expect(after.events.filter((e) => e.type === 'mfa.failed')).toEqual([]);
  });
});

describe('9. an assertion whose auth_time is in the future', () => {
  test('is refused beyond a small clock skew, whatever maxAge', async () => {
    const h = setup();
    const key = new TextEncoder().encode(SIGNING_KEY);
    const now = Math.floor(h.clock.now() / 1000);
    const forge = (authTime: number) => new SignJWT({ amr: ['mfa', 'otp'], auth_time: authTime })
      .setProtectedHeader({ alg: 'HS256', typ: 'secondfactor-assertion+jwt' }).setSubject('alice').setIssuer('Acme Co')
      .setAudience('secondfactor').setIssuedAt(now).setExpirationTime(now + 300).sign(key);
    expect(await h.mfa.assertions.verify(await forge(now + 10 * 365 * 86_400), { maxAgeSeconds: 60 })).toEqual({ ok: false, reason: 'invalid' });
    expect(await h.mfa.assertions.verify(await forge(now + 3600))).toEqual({ ok: false, reason: 'invalid' });
    expect((await h.mfa.assertions.verify(await forge(now + 30), { maxAgeSeconds: 60 })).ok).toBe(true); // skew allowance
    expect((await h.mfa.assertions.verify(await forge(now - 30), { maxAgeSeconds: 60 })).ok).toBe(true);
  });
});

describe('10. a code of the wrong length is bad input, not a failed attempt', () => {
  test('an 8-digit code on 6-digit authenticators: 400 at login, step-up and as proof; nothing counted', async () => {
    const h = setup();
    await enrolTotp(h);
    const token = await challenge(h);
    await expect(h.mfa.login.verify(token, { method: 'totp', code: '12345678' })).rejects.toMatchObject({ code: 'invalid_request', field: 'code' });
    await expect(h.mfa.stepUp.verify('alice', { code: '12345678' })).rejects.toMatchObject({ code: 'invalid_request', field: 'code' });
    await expect(h.mfa.backupCodes.regenerate('alice', { code: '1234567' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await h.store.getAttemptState('alice')).toMatchObject({ failures: 0, locked: false });
    expect(h.events.filter((e) => e.type === 'mfa.failed')).toEqual([]);
  });
});

describe('11. one code spent per login', () => {
  test('several valid backup codes in parallel on one challenge: one login, exactly one code spent', async () => {
    const h = setup();
    const { backupCodes } = await enrolTotp(h);
    const token = await challenge(h);
    const results = await Promise.all(backupCodes.slice(0, 6).map((code) => h.mfa.login.verify(token, { method: 'backup_code', code })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await h.mfa.backupCodes.remaining('alice')).toBe(9);
    expect(h.events.filter((e) => e.type === 'backup_code.used')).toHaveLength(1);
  });

  test('a code that loses its race after the challenge was taken gives the challenge back', async () => {
    const inner = memoryStore();
    // Someone else spends the same backup code between this request's check and its commit.
    const { store, armRace } = storeLosingBackupCodeRace(inner);
    const h = setup({ store });
    const { backupCodes } = await enrolTotp(h);
    const token = await challenge(h);
    const id = createHash('sha256').update(token).digest('base64url');
    await armRace();
    expect(await h.mfa.login.verify(token, { method: 'backup_code', code: backupCodes[0]! })).toEqual({ ok: false, reason: 'invalid_code' });
    expect(await inner.getChallenge(id)).toMatchObject({ userId: 'alice', attempts: 1 });
  });
});

describe('13. labels and account names', () => {
  test('an email with ":" is a valid account name: encoded (U+A789) in the otpauth label, which keeps one ":"', async () => {
    const h = setup();
    const e = await h.mfa.enroll('alice', 'totp', { accountName: '"a:b"@example.com' });
    expect(e.otpauthUri.startsWith('otpauth://totp/Acme%20Co:%22a%EA%9E%89b%22%40example.com?')).toBe(true);
    const label = decodeURIComponent(new URL(e.otpauthUri).pathname.slice(1));
    expect(label.split(':')).toEqual(['Acme Co', '"a\uA789b"@example.com']);
  });

  test.each([['right-to-left override', 'Phone\u202Egnp.exe'], ['isolate', 'x\u2066y'], ['control', 'a\u0007b']])('a label with a %s is refused', async (_n, label) => {
    const h = setup();
    await expect(h.mfa.enroll('alice', 'totp', { label })).rejects.toMatchObject({ code: 'invalid_request', field: 'label' });
  });
});

describe('the store boundary (one error model)', () => {
  test('a store failure is store_unavailable with its cause; an error of core itself is not disguised as an outage', async () => {
    const inner = memoryStore();
    const down = new Error('ECONNRESET');
    const failing: MfaStore = { ...inner, listFactors: async () => { throw down; } };
    await expect(setup({ store: failing }).mfa.status('alice')).rejects.toMatchObject({ code: 'store_unavailable', cause: down });
    // A store that answers with something core cannot use makes core fail as a bug (TypeError), not a 503.
    const broken: MfaStore = { ...inner, listFactors: async () => [null] as never };
    const error = await setup({ store: broken }).mfa.status('alice').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
  });
});
