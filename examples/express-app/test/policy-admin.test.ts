// examples/express-app/test/policy-admin.test.ts
// Issue #11 in the example, over HTTP with supertest (in-memory SQLite, fake clock): the policy
// (administrators must enrol after a 7-day grace period counted from the policy's first sight of
// them; others are nudged), the admin tools behind the example's admin check and step-up, the
// figures and their chart, and the audit log's retention purge.
import { createHmac } from 'node:crypto';
import knexFactory from 'knex';
import request from 'supertest';
import { createApp, type AppConfig, type ExampleApp } from '../src/app';

const KEYS = {
  mfaEncryptionKey: Buffer.alloc(32, 9).toString('base64'),
  mfaSigningKey: 'policy-test-signing-key-of-at-least-32-chars',
  sessionSecret: 'policy-test-session-secret-of-at-least-32-chars',
};
const PASSWORD = 'correct horse battery staple';
const ADMIN = 'root@example.com';
const SECOND_ADMIN = 'ops@example.com';
const DAY = 86_400;
type Agent = ReturnType<typeof request.agent>;

/** RFC 6238 (SHA-1, 6 digits, 30 s), written out here so the test does not trust the library it checks. */
function totp(base32Secret: string, nowMs: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

interface Harness {
  example: ExampleApp;
  clock: { now: () => number; advance: (seconds: number) => void };
  agent: (email: string) => Agent;
}

async function start(overrides: Partial<AppConfig> = {}): Promise<Harness> {
  let t = Date.UTC(2026, 0, 5, 9, 0, 10);
  const clock = { now: () => t, advance: (seconds: number) => { t += seconds * 1000; } };
  const example = createApp({
    knex: knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true }),
    keys: KEYS, clock: clock.now, bcryptCost: 4, adminEmails: [ADMIN, SECOND_ADMIN], purgeIntervalSeconds: 0, ...overrides,
  });
  await example.migrate();
  const agents = new Map<string, Agent>();
  return {
    example, clock,
    agent: (email) => {
      if (!agents.has(email)) agents.set(email, request.agent(example.app));
      return agents.get(email)!;
    },
  };
}

const post = (agent: Agent, url: string, body: object = {}) => agent.post(url).set('Content-Type', 'application/json').send(body);
const login = (h: Harness, email: string) => post(h.agent(email), '/login', { email, password: PASSWORD });
const register = (h: Harness, email: string) => post(h.agent(email), '/register', { email, password: PASSWORD }).expect(201);

/** Enrols an authenticator app for the signed-in user; returns a code source that never reuses a time step. */
async function enableTotp(h: Harness, email: string) {
  const setup = await post(h.agent(email), '/mfa/totp/setup').expect(200);
  await post(h.agent(email), '/mfa/totp/confirm', { factorId: setup.body.factorId, code: totp(setup.body.secret, h.clock.now()) }).expect(200);
  h.clock.advance(30);
  return setup.body.secret as string;
}

/** A signed-in admin with an authenticator app, freshly stepped up (the admin tools need it). */
async function steppedUpAdmin(h: Harness, email = ADMIN) {
  await register(h, email);
  await login(h, email).expect(200);
  const secret = await enableTotp(h, email);
  await post(h.agent(email), '/mfa/step-up', { code: totp(secret, h.clock.now()) }).expect(200);
  h.clock.advance(30);
  return secret;
}

describe('the policy: administrators must enrol after a grace period, others are nudged', () => {
  let h: Harness;
  beforeEach(async () => { h = await start(); });
  afterEach(() => h.example.close());

  it('an admin within the grace period signs in with the password, and every page says by when to set it up', async () => {
    await register(h, ADMIN);
    const graceUntil = new Date(h.clock.now() + 7 * DAY * 1000).toISOString();
    const res = await login(h, ADMIN).expect(200);
    expect(res.body).toEqual({ ok: true, redirect: '/settings', enrollment: { required: true, graceUntil, methods: ['totp'] } });
    expect(res.headers['set-cookie']).toEqual([expect.stringMatching(/^session=/)]);
    for (const url of ['/settings', '/']) {
      const page = await h.agent(ADMIN).get(url).expect(200);
      expect(page.text).toContain('id="mfa-banner"');
      expect(page.text).toContain(`Set up two-step verification by <time datetime="${graceUntil}">12 January 2026</time>.`);
    }
    // Signing in again later in the grace period keeps the same deadline: it counts from the first time.
    h.clock.advance(3 * DAY);
    await post(h.agent(ADMIN), '/logout');
    expect((await login(h, ADMIN).expect(200)).body.enrollment).toEqual({ required: true, graceUntil, methods: ['totp'] });
    // Once an authenticator app is set up, the banner is gone.
    await enableTotp(h, ADMIN);
    expect((await h.agent(ADMIN).get('/settings').expect(200)).text).not.toContain('id="mfa-banner"');
  });

  it('the grace period starts when the policy first sees the admin, not when the account was created', async () => {
    await register(h, ADMIN);
    h.clock.advance(30 * DAY); // an old account, made an admin only now
    const res = await login(h, ADMIN).expect(200);
    expect(res.body.enrollment).toMatchObject({ required: true, graceUntil: new Date(h.clock.now() + 7 * DAY * 1000).toISOString() });
  });

  it('after the grace period an admin gets an enrolment token instead of a session; confirming an authenticator app signs them in with backup codes', async () => {
    await register(h, ADMIN);
    await login(h, ADMIN).expect(200);
    await post(h.agent(ADMIN), '/logout');
    h.clock.advance(7 * DAY + 1);
    const fresh = request.agent(h.example.app);
    const res = await post(fresh, '/login', { email: ADMIN, password: PASSWORD }).expect(200);
    expect(res.body).toEqual({ mfaEnrollmentRequired: true, enrollmentToken: expect.any(String), methods: ['totp'], expiresAt: expect.any(String) });
    expect(res.headers['set-cookie']).toBeUndefined();
    await fresh.get('/settings').set('Accept', 'application/json').expect(401);
    expect((await fresh.get('/login/enroll').expect(200)).text).toContain('id="enroll-totp"');

    const { enrollmentToken } = res.body as { enrollmentToken: string };
    const setup = await post(fresh, '/mfa/totp/setup', { enrollmentToken }).expect(200);
    expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Acme:root%40example\.com\?/); // the account name comes from the users table
    const done = await post(fresh, '/mfa/totp/confirm', { enrollmentToken, factorId: setup.body.factorId, code: totp(setup.body.secret, h.clock.now()) }).expect(200);
    expect(done.body).toEqual({ ok: true, redirect: '/settings', backupCodes: expect.any(Array) });
    expect(done.body.backupCodes).toHaveLength(10);
    expect(done.headers['set-cookie']).toEqual(expect.arrayContaining([expect.stringMatching(/^session=/)]));
    const settings = await fresh.get('/settings').expect(200);
    expect(settings.text).not.toContain('id="mfa-banner"');
    // The token is spent; the next login asks for the new factor.
    await post(fresh, '/mfa/totp/setup', { enrollmentToken }).expect(401);
    await post(fresh, '/logout');
    h.clock.advance(30);
    expect((await post(fresh, '/login', { email: ADMIN, password: PASSWORD }).expect(200)).body).toMatchObject({ mfaRequired: true, methods: ['totp', 'backup_code'] });
  });

  it('with security keys configured, an admin may enrol a key or an app (never SMS)', async () => {
    const withKeys = await start({ webauthn: { rpId: 'localhost', origins: ['http://localhost:3000'] } });
    try {
      await register(withKeys, ADMIN);
      expect((await login(withKeys, ADMIN).expect(200)).body.enrollment.methods).toEqual(expect.arrayContaining(['webauthn', 'totp']));
      expect((await login(withKeys, ADMIN).expect(200)).body.enrollment.methods).toHaveLength(2);
    } finally {
      await withKeys.example.close();
    }
  });

  it('a user who is not an admin is only nudged, and never held back', async () => {
    await register(h, 'bob@example.com');
    h.clock.advance(30 * DAY);
    const res = await login(h, 'bob@example.com').expect(200);
    expect(res.body.enrollment).toEqual({ required: false, graceUntil: null, methods: ['totp'] });
    const page = await h.agent('bob@example.com').get('/settings').expect(200);
    expect(page.text).toContain('Protect your account: two-step verification keeps it safe');
    expect(page.text).not.toContain('Set up two-step verification by');
    await enableTotp(h, 'bob@example.com');
    expect((await h.agent('bob@example.com').get('/').expect(200)).text).not.toContain('id="mfa-banner"');
  });
});

describe('the admin tools: behind the example\'s admin check and step-up', () => {
  let h: Harness;
  beforeEach(async () => { h = await start(); });
  afterEach(() => h.example.close());

  it('refuses everyone but a stepped-up admin: 401 without a session or a fresh factor, 403 for a non-admin', async () => {
    await steppedUpAdmin(h);
    const adminId = (await h.agent(ADMIN).get(`/admin/find-user?email=${ADMIN}`).expect(200)).body.id as string;
    const urls = ['/admin/find-user?email=root@example.com', `/admin/mfa/users/${adminId}`, '/admin/mfa/stats', '/admin/mfa/events'];
    for (const url of urls) await request(h.example.app).get(url).set('Accept', 'application/json').expect(401);
    // bob has a fresh second factor too, but is no admin.
    await register(h, 'bob@example.com');
    await login(h, 'bob@example.com').expect(200);
    const secret = await enableTotp(h, 'bob@example.com');
    await post(h.agent('bob@example.com'), '/mfa/step-up', { code: totp(secret, h.clock.now()) }).expect(200);
    for (const url of urls) expect((await h.agent('bob@example.com').get(url).expect(403)).body.code).toBe('forbidden');
    await post(h.agent('bob@example.com'), `/admin/mfa/users/${adminId}/reset`, { reason: 'no' }).expect(403);
    expect((await h.example.mfa.admin.status(adminId)).enabled).toBe(true);
    // The admin, once the step-up is stale, is asked again.
    for (const url of urls) await h.agent(ADMIN).get(url).expect(200);
    h.clock.advance(301);
    await h.agent(ADMIN).get('/admin/mfa/stats').expect(401);
  });

  it('a reset (with its reason, audited with the admin as actor) makes an admin past the grace period enrol again at the next login', async () => {
    await register(h, SECOND_ADMIN);
    await login(h, SECOND_ADMIN).expect(200);
    await enableTotp(h, SECOND_ADMIN);
    await post(h.agent(SECOND_ADMIN), '/logout');
    h.clock.advance(8 * DAY);
    await steppedUpAdmin(h); // root: within its own grace period, with an app
    const target = (await h.agent(ADMIN).get(`/admin/find-user?email=${SECOND_ADMIN}`).expect(200)).body as { id: string };
    const actor = (await h.agent(ADMIN).get(`/admin/find-user?email=${ADMIN}`).expect(200)).body.id as string;
    await post(h.agent(ADMIN), `/admin/mfa/users/${target.id}/reset`, { reason: 'lost phone, checked by video call' }).expect(204);
    const seen = await h.agent(ADMIN).get(`/admin/mfa/users/${target.id}`).expect(200);
    expect(seen.body).toMatchObject({ enabled: false, factors: [], backupCodesRemaining: 0 });
    expect(seen.body.events[0]).toMatchObject({ type: 'mfa.reset', actor, detail: 'lost phone, checked by video call', purpose: 'admin' });
    const next = await login(h, SECOND_ADMIN).expect(200);
    expect(next.body).toMatchObject({ mfaEnrollmentRequired: true, methods: ['totp'] });
  });

  it('the admin page shows the figures of the last 14 days as an SVG bar chart and a table', async () => {
    await register(h, 'bob@example.com');
    await login(h, 'bob@example.com').expect(200);
    const secret = await enableTotp(h, 'bob@example.com');
    await post(h.agent('bob@example.com'), '/logout');
    // Day 1: 2 verifications and 1 failure; two days later: 1 failure.
    const signIn = async (code: string) => {
      const c = await login(h, 'bob@example.com').expect(200);
      const r = await post(h.agent('bob@example.com'), '/mfa/verify', { challengeToken: c.body.challengeToken, method: 'totp', code });
      h.clock.advance(31);
      await post(h.agent('bob@example.com'), '/logout');
      return r.status;
    };
    expect(await signIn(totp(secret, h.clock.now()))).toBe(200);
    expect(await signIn('000000')).toBe(401);
    expect(await signIn(totp(secret, h.clock.now()))).toBe(200);
    const day1 = new Date(h.clock.now()).toISOString().slice(0, 10);
    h.clock.advance(2 * DAY);
    expect(await signIn('000000')).toBe(401);
    const day3 = new Date(h.clock.now()).toISOString().slice(0, 10);

    await steppedUpAdmin(h); // one more verification (the admin's step-up) on day 3
    const stats = (await h.agent(ADMIN).get(`/admin/mfa/stats?since=${encodeURIComponent(new Date(h.clock.now() - 13 * DAY * 1000).toISOString().slice(0, 10))}`).expect(200)).body;
    expect(stats.usersWithMfa).toBe(2);
    expect(stats.byFactorType).toEqual({ totp: 2 });
    const byDay = Object.fromEntries((stats.days as Array<{ day: string; verifications: number; failures: number }>).map((d) => [d.day, [d.verifications, d.failures]]));
    expect(byDay[day1]).toEqual([2, 1]);
    expect(byDay[day3]).toEqual([1, 1]);

    const page = (await h.agent(ADMIN).get('/admin').set('Accept', 'text/html').expect(200)).text;
    expect(page).toContain('<svg id="stats-chart"');
    expect(page).toMatch(/role="img" aria-labelledby="stats-chart-title stats-chart-desc" data-days="14"/);
    expect(page).toContain('<title id="stats-chart-title">Second-factor verifications and failures per day</title>');
    expect(page).toMatch(/<desc id="stats-chart-desc">14 days from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d: 3 successful verifications and 2 failures in all\.<\/desc>/);
    const bars = [...page.matchAll(/<rect class="bar bar-(verifications|failures)" data-day="([\d-]+)" data-value="(\d+)"/g)];
    expect(bars.filter((b) => b[1] === 'verifications')).toHaveLength(14);
    expect(bars.filter((b) => b[1] === 'failures')).toHaveLength(14);
    expect(bars.filter((b) => b[2] === day1).map((b) => [b[1], b[3]])).toEqual([['verifications', '2'], ['failures', '1']]);
    expect(page).toContain(`<tr><th scope="row">${day3}</th><td>1</td><td>1</td><td>0</td></tr>`);
    expect(page).toContain('<dd id="stats-users">2</dd>');
  });
});

describe('the audit log\'s retention', () => {
  it('the purge timer\'s work deletes events older than AUDIT_RETENTION_DAYS and keeps the newer ones', async () => {
    const h = await start({ auditRetentionDays: 30 });
    try {
      await register(h, 'bob@example.com');
      await login(h, 'bob@example.com').expect(200);
      await enableTotp(h, 'bob@example.com');
      const bob = (await h.example.knex('users').where({ email: 'bob@example.com' }).first()) as { id: string };
      const old = (await h.example.mfa.audit.list({ userId: bob.id })).events;
      expect(old.map((e) => e.type)).toEqual(expect.arrayContaining(['factor.enrolled', 'factor.confirmed']));
      h.clock.advance(31 * DAY);
      await post(h.agent('bob@example.com'), '/logout');
      expect((await login(h, 'bob@example.com').expect(200)).body.mfaRequired).toBe(true); // a new event: challenge.started
      await h.example.purge();
      const kept = (await h.example.mfa.audit.list({ userId: bob.id })).events;
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.every((e) => Date.parse(e.at) > h.clock.now() - 30 * DAY * 1000)).toBe(true);
      expect(kept.some((e) => old.some((o) => o.id === e.id))).toBe(false);
    } finally {
      await h.example.close();
    }
  });
});
