// packages/core/test/audit-admin.test.ts
// The durable audit log (every event stored besides onEvent; listed per user and time range with
// a cursor; purged by age; a lost write fails the operation) and the admin API (reset, unlock,
// status, figures) — issue #11.
import { memoryStore, type CodeMessage, type MfaStore } from '@secondfactor/core';
import { enrolTotp, proofFor, setup, totpNow } from './support/harness';

const DAY = 86_400;

async function login(h: ReturnType<typeof setup>, secret: string, userId = 'alice', trustDevice = false) {
  const s = await h.mfa.login.start(userId);
  if (!s.required) throw new Error('expected a challenge');
  const r = await h.mfa.login.verify(s.challengeToken, { method: 'totp', code: await totpNow(secret, h.clock.now()), trustDevice }, { ip: '192.0.2.7', userAgent: 'Firefox' });
  if (!r.ok) throw new Error(r.reason);
  return { challengeToken: s.challengeToken, result: r };
}

describe('the audit log', () => {
  test('every event of a whole flow is stored, and none holds a secret, code or token', async () => {
    const sent: CodeMessage[] = [];
    const h = setup({ email: { send: async (m: CodeMessage) => void sent.push(m) } });
    const { secret, backupCodes, enrollment } = await enrolTotp(h);
    const { challengeToken, result } = await login(h, secret, 'alice', true);
    h.clock.advance(30);
    const wrong = await h.mfa.stepUp.verify('alice', { code: (await totpNow(secret, h.clock.now())) === '000000' ? '111111' : '000000' });
    expect(wrong.ok).toBe(false);
    const up = await h.mfa.stepUp.verify('alice', { code: backupCodes[0]! });
    expect(up.ok).toBe(true);
    const e = await h.mfa.enroll('alice', 'email', { input: { email: 'alice@example.com' }, proof: await proofFor(h) });
    await h.mfa.confirm('alice', e.factorId, { code: sent.at(-1)!.code });
    const regenerated = await h.mfa.backupCodes.regenerate('alice', await proofFor(h));
    if (!regenerated.ok) throw new Error('regenerate failed');

    const { events } = await h.mfa.audit.list({ userId: 'alice', limit: 200 });
    // The same events onEvent saw, newest first.
    expect(events.map((x) => x.type)).toEqual(h.events.filter((x) => x.userId === 'alice').map((x) => x.type).reverse());
    expect(events.map((x) => x.type)).toEqual(expect.arrayContaining([
      'factor.enrolled', 'factor.confirmed', 'backup_codes.regenerated', 'challenge.started', 'mfa.verified', 'device.trusted', 'mfa.failed', 'backup_code.used', 'code.sent',
    ]));
    const verified = events.find((x) => x.type === 'mfa.verified' && x.purpose === 'login')!;
    expect(verified).toMatchObject({ userId: 'alice', outcome: 'success', factorType: 'totp', ip: '192.0.2.7', userAgent: 'Firefox', actor: null });
    expect(new Date(verified.at).getTime()).toBeLessThanOrEqual(h.clock.now());

    const stored = JSON.stringify(await h.store.listEvents({ limit: 1000 }));
    const secrets = [
      secret, enrollment.otpauthUri, challengeToken, result.assertion, result.trustedDevice!.token, up.ok ? up.assertion : '',
      ...backupCodes, ...regenerated.backupCodes, ...sent.map((m) => m.code),
    ];
    for (const s of secrets) expect(stored).not.toContain(s);
    expect(stored).not.toMatch(/\b\d{6}\b/); // no 6-digit code of any kind
  });

  test('pages newest first with an opaque cursor, per user and time range', async () => {
    const h = setup();
    const { secret } = await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    for (let i = 0; i < 4; i++) {
      h.clock.advance(30);
      await login(h, secret);
    }
    const all = await h.mfa.audit.list({ userId: 'alice', limit: 200 });
    expect(all.nextCursor).toBeNull();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await h.mfa.audit.list({ userId: 'alice', limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((x) => x.id));
      expect(page.events.every((x) => x.userId === 'alice')).toBe(true);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(all.events.map((x) => x.id));
    expect(new Set(seen).size).toBe(seen.length);
    const times = all.events.map((x) => new Date(x.at).getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // A time range: only the logins after the first.
    const since = times.at(-1)! + 1;
    expect((await h.mfa.audit.list({ userId: 'alice', since, limit: 200 })).events.every((x) => new Date(x.at).getTime() >= since)).toBe(true);
    await expect(h.mfa.audit.list({ cursor: 'not a cursor' })).rejects.toMatchObject({ code: 'invalid_request', field: 'cursor' });
    await expect(h.mfa.audit.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_request', field: 'limit' });
  });

  test('the retention purge removes only events older than the given age', async () => {
    const h = setup();
    await enrolTotp(h);
    h.clock.advance(40 * DAY);
    await h.mfa.login.start('alice');
    expect(await h.mfa.audit.purge({ olderThanDays: 30 })).toBeGreaterThanOrEqual(3);
    expect((await h.mfa.audit.list({ limit: 200 })).events.map((x) => x.type)).toEqual(['challenge.started']);
    await expect(h.mfa.audit.purge({ olderThanDays: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  test('an event that cannot be stored fails the operation (store_unavailable); onEvent still hears it', async () => {
    const base = memoryStore();
    let broken = false;
    const store: MfaStore = { ...base, appendEvent: async (e) => (broken ? Promise.reject(new Error('disk full')) : base.appendEvent(e)) };
    const h = setup({ store });
    const { secret } = await enrolTotp(h);
    broken = true;
    const s = await h.mfa.login.start('alice').catch((error: unknown) => error);
    expect(s).toMatchObject({ code: 'store_unavailable' });
    expect(h.events.at(-1)).toMatchObject({ type: 'challenge.started' });
    broken = false;
    const ok = await login(h, secret);
    expect(ok.result.ok).toBe(true);
    // With the durable log turned off, onEvent alone receives events and nothing is stored.
    const off = setup({ audit: { store: false } });
    await enrolTotp(off);
    expect(off.events.length).toBeGreaterThan(0);
    expect(await off.store.listEvents({ limit: 10 })).toEqual([]);
  });

  test('concurrent operations each wait for their own event writes and fail on their own lost write only', async () => {
    const base = memoryStore();
    const held: { userId: string; release(error?: Error): void }[] = [];
    let hold = false;
    const store: MfaStore = {
      ...base,
      appendEvent: (e) => (hold
        ? new Promise<void>((resolve, reject) => {
          held.push({ userId: e.userId, release: (error) => (error ? reject(error) : resolve(base.appendEvent(e))) });
        })
        : base.appendEvent(e)),
    };
    const h = setup({ store });
    await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    hold = true;
    const settled: Record<string, unknown> = {};
    const track = (name: string, p: Promise<unknown>) => p.then((value) => { settled[name] = { value }; }, (error: unknown) => { settled[name] = { error }; });
    const both = Promise.all([track('alice', h.mfa.login.start('alice')), track('bob', h.mfa.login.start('bob'))]);
    while (held.length < 2) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toEqual({}); // neither answers before its event is stored
    held.find((x) => x.userId === 'bob')!.release();
    held.find((x) => x.userId === 'alice')!.release(new Error('disk full'));
    await both;
    expect(settled.alice).toMatchObject({ error: { code: 'store_unavailable' } });
    expect(settled.bob).toMatchObject({ value: { required: true } });
  });

  test("a plugin's own event (backup_code.used) is awaited with its operation: a lost write fails it", async () => {
    const base = memoryStore();
    const store: MfaStore = {
      ...base,
      appendEvent: async (e) => (e.type === 'backup_code.used' ? Promise.reject(new Error('disk full')) : base.appendEvent(e)),
    };
    const h = setup({ store });
    const { backupCodes } = await enrolTotp(h);
    await expect(h.mfa.stepUp.verify('alice', { code: backupCodes[0]! })).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(h.events.at(-1)).toMatchObject({ type: 'mfa.verified' });
  });
});

describe('the admin API', () => {
  test('reset removes every factor, code and trusted device, clears the lock and is audited with its actor', async () => {
    const h = setup({ limits: { lockAfterFailures: 5, backoffAfterFailures: 5 } });
    const { secret } = await enrolTotp(h);
    const { result } = await login(h, secret, 'alice', true);
    for (let i = 0; i < 5; i++) await h.mfa.stepUp.verify('alice', { code: '000000' === (await totpNow(secret, h.clock.now())) ? '111111' : '000000' });
    expect((await h.mfa.status('alice')).locked).toBe(true);
    await expect(h.mfa.admin.reset('alice', { actor: '' })).rejects.toMatchObject({ code: 'invalid_request', field: 'actor' });
    await h.mfa.admin.reset('alice', { actor: 'admin-7', reason: 'lost phone, identity checked by phone call' }, { ip: '198.51.100.1' });
    expect(await h.mfa.status('alice')).toEqual({ enabled: false, factors: [], backupCodesRemaining: 0, trustedDevices: 0, locked: false });
    expect(await h.mfa.devices.check('alice', result.trustedDevice!.token)).toBe(false);
    expect(await h.mfa.login.start('alice')).toEqual({ required: false, trustedDevice: false });
    const [reset] = (await h.mfa.audit.list({ userId: 'alice', limit: 1 })).events;
    expect(reset).toMatchObject({ type: 'mfa.reset', actor: 'admin-7', detail: 'lost phone, identity checked by phone call', purpose: 'admin', ip: '198.51.100.1', reason: 'factors:1,devices:1' });
    // The user can enrol again.
    await enrolTotp(h);
  });

  test("unlock needs an actor, records it, and also ends every client's backoff", async () => {
    const h = setup();
    const { secret } = await enrolTotp(h);
    const wrong = async () => h.mfa.stepUp.verify('alice', { code: (await totpNow(secret, h.clock.now())) === '000000' ? '111111' : '000000' }, { ip: '203.0.113.5' });
    for (let i = 0; i < 5; i++) await wrong();
    expect(await wrong()).toMatchObject({ ok: false, reason: 'too_many_attempts' });
    await expect(h.mfa.admin.unlock('alice', {} as never)).rejects.toMatchObject({ code: 'invalid_request', field: 'actor' });
    await h.mfa.admin.unlock('alice', { actor: 'support-1' });
    expect((await h.mfa.audit.list({ userId: 'alice', limit: 1 })).events[0]).toMatchObject({ type: 'mfa.unlocked', actor: 'support-1' });
    // The backoff of that client ended with the unlock: the next code is evaluated again.
    const r = await h.mfa.stepUp.verify('alice', { code: await totpNow(secret, h.clock.now()) }, { ip: '203.0.113.5' });
    expect(r.ok).toBe(true);
  });

  test('stats: users with MFA by type, and verifications, failures, locks and sends per day', async () => {
    const sent: CodeMessage[] = [];
    const h = setup({ sms: { send: async (m: CodeMessage) => void sent.push(m) }, limits: { lockAfterFailures: 3, backoffAfterFailures: 3 } });
    const start = h.clock.now();
    const { secret } = await enrolTotp(h, 'alice');
    await enrolTotp(h, 'bob');
    const e = await h.mfa.enroll('carol', 'sms', { input: { phone: '+14155550123' } });
    await h.mfa.confirm('carol', e.factorId, { code: sent.at(-1)!.code });
    await login(h, secret);
    h.clock.advance(DAY);
    await login(h, secret);
    for (let i = 0; i < 3; i++) await h.mfa.stepUp.verify('bob', { code: '12345678'.slice(0, 6) });
    const stats = await h.mfa.admin.stats({ since: start, until: h.clock.now() + 1 });
    expect(stats.usersWithMfa).toBe(3);
    expect(stats.byFactorType).toEqual({ totp: 2, sms: 1 });
    expect(stats.days).toHaveLength(2);
    expect(stats.days[0]).toMatchObject({ day: '2026-01-01', verifications: 1, failures: 0, locks: 0, sends: { sms: 1 } });
    expect(stats.days[1]).toMatchObject({ day: '2026-01-02', verifications: 1, failures: 3, locks: 1, sends: {} });
    await expect(h.mfa.admin.stats({ since: start, until: start + 400 * DAY * 1000 })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
