// test/multi-instance/policy-admin.test.ts
// The enforcement policy, the admin router and the audit log over two app processes sharing
// PostgreSQL + Redis (issue #11): an enrolment token handed out by one instance is used and spent
// on either; the audit log both instances write is one ordered list with working cursors; an
// admin reset or unlock on one instance holds on the other. Runs the built packages (dist).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTotp } from '@secondfactor/core';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../support/services';
import { assertBuilt, freshNamespace, json, startInstance, type Instance } from './harness';

const describeBoth = describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]]);
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const totp = (secret: string, offsetSteps = 0) => generateTotp(secret, Date.now() + offsetSteps * 30_000, P);
const LOCK_AFTER = 4;

interface Listed {
  id: string;
  at: string;
  type: string;
  userId: string;
  actor: string | null;
}

/** The payload of a JWT, unverified (the instances hold the key; this only reads who it names). */
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; amr: string[] };

describeBoth('multi-instance: enforcement policy, admin router and audit log on PostgreSQL + Redis', () => {
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let dir: string;
  let a: Instance;
  let b: Instance;
  const admin = (name: string) => ({ 'x-admin': `admin-${name}` });

  beforeAll(async () => {
    assertBuilt();
    ns = await freshNamespace(POSTGRES_URL, REDIS_URL);
    dir = mkdtempSync(join(tmpdir(), 'sf-mi-policy-'));
    const env = {
      SF_DATABASE_URL: POSTGRES_URL, SF_REDIS_URL: REDIS_URL, SF_TABLE_PREFIX: ns.tablePrefix, SF_KEY_PREFIX: ns.keyPrefix,
      SF_POLICY: 'required', SF_ADMIN: '1', SF_BACKOFF_AFTER: String(LOCK_AFTER), SF_LOCK_AFTER: String(LOCK_AFTER),
    };
    // Each instance also appends its events (with its pid) to its own file: what each one wrote.
    const started = await Promise.allSettled([startInstance({ ...env, SF_EVENT_LOG: join(dir, 'a.jsonl') }), startInstance({ ...env, SF_EVENT_LOG: join(dir, 'b.jsonl') })]);
    const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((i) => i.stop()));
      throw failed.reason;
    }
    [a, b] = ok as [Instance, Instance];
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((i) => i.stop()));
    await ns?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** What instance `which` emitted for `userId`, from its own event file. */
  function written(which: 'a' | 'b', userId: string): { type: string; at: number; pid: number }[] {
    return readFileSync(join(dir, `${which}.jsonl`), 'utf8').split('\n').filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; at: number; pid: number; userId: string })
      .filter((e) => e.userId === userId);
  }

  /** Every page of `query` through the cursors, from `inst`'s admin router. */
  async function allPages(inst: Instance, query: string, limit: number): Promise<{ events: Listed[]; pages: number }> {
    const events: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await json(inst.url, `/admin/mfa/events?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, undefined, admin('audit'));
      expect(r.status).toBe(200);
      expect(r.body.events.length).toBeLessThanOrEqual(limit);
      events.push(...r.body.events);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    return { events, pages };
  }

  /**
   * Newest first. Events of the same millisecond are ordered by id in the database's collation,
   * which need not be JavaScript's: their order is checked by the cursor walks (the same list
   * page by page as in one page), not here.
   */
  function expectOrdered(events: Listed[]) {
    for (let i = 1; i < events.length; i++) {
      expect([i, Date.parse(events[i - 1]!.at) >= Date.parse(events[i]!.at)]).toEqual([i, true]);
    }
  }

  /** The gate's enrolment answer for `user` on `inst`. */
  async function enrolmentToken(inst: Instance, user: string): Promise<string> {
    const r = await json(inst.url, '/login', { userId: user });
    expect(r.status).toBe(200);
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(r.body).toEqual({ mfaEnrollmentRequired: true, enrollmentToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), methods: ['totp'], expiresAt: expect.any(String) });
    return r.body.enrollmentToken;
  }

  /** Enrols TOTP for a user the policy does not hold (a signed-in host user): setup on A, confirm on B. */
  async function enrol(user: string) {
    const setup = await json(a.url, '/mfa/totp/setup', {}, { 'x-user-id': user });
    expect(setup.status).toBe(200);
    const confirm = await json(b.url, '/mfa/totp/confirm', { factorId: setup.body.factorId, code: await totp(setup.body.secret, -1) }, { 'x-user-id': user });
    expect(confirm.status).toBe(200);
    return { secret: setup.body.secret as string };
  }

  test('the enrolment token crosses instances: gate on A, setup on B, confirm on A completes the login; a replay on B is refused', async () => {
    const user = 'must-enrol';
    const token = await enrolmentToken(a, user);
    // The token is no session and no challenge, on either instance.
    expect((await json(b.url, '/mfa/verify', { challengeToken: token, method: 'totp', code: '123456' })).body.code).toBe('challenge_expired');
    expect((await json(b.url, '/mfa/status', undefined, { authorization: `Bearer ${token}` })).status).toBe(401);

    const setup = await json(b.url, '/mfa/totp/setup', { enrollmentToken: token, label: 'Work phone' });
    expect(setup.status).toBe(200);
    const { factorId, secret } = setup.body as { factorId: string; secret: string };
    const done = await json(a.url, '/mfa/totp/confirm', { enrollmentToken: token, factorId, code: await totp(secret, -1) });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: expect.any(Number), factor: expect.objectContaining({ id: factorId, type: 'totp' }), backupCodes: expect.any(Array) });
    expect(done.body.backupCodes).toHaveLength(10);
    expect(claimsOf(done.body.accessToken)).toMatchObject({ sub: user, amr: expect.arrayContaining(['mfa', 'otp']) });

    // Spent: refused on B (and on A), for setup and for confirm.
    for (const inst of [b, a]) {
      const again = await json(inst.url, '/mfa/totp/setup', { enrollmentToken: token });
      expect([again.status, again.body.code]).toEqual([401, 'challenge_expired']);
      const confirmAgain = await json(inst.url, '/mfa/totp/confirm', { enrollmentToken: token, factorId, code: await totp(secret) });
      expect([confirmAgain.status, confirmAgain.body.code]).toEqual([401, 'challenge_expired']);
    }
    // From now on B's gate asks for the factor.
    const login = await json(b.url, '/login', { userId: user });
    expect(login.body).toMatchObject({ mfaRequired: true, methods: ['totp', 'backup_code'] });
    const verified = await json(a.url, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await totp(secret) });
    expect(verified.status).toBe(200);
  }, 60_000);

  test('ten parallel confirms of the same valid code over both instances: exactly one completes the login', async () => {
    const user = 'must-race';
    const token = await enrolmentToken(b, user);
    const setup = await json(a.url, '/mfa/totp/setup', { enrollmentToken: token });
    expect(setup.status).toBe(200);
    const code = await totp(setup.body.secret);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      json((i % 2 ? a : b).url, '/mfa/totp/confirm', { enrollmentToken: token, factorId: setup.body.factorId, code })));
    const completed = results.filter((r) => r.status === 200);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.body).toMatchObject({ tokenType: 'Bearer', factor: { id: setup.body.factorId } });
    expect(claimsOf(completed[0]!.body.accessToken).sub).toBe(user);
    // The others are refused as problems; none hands out an assertion or a second set of codes.
    for (const r of results.filter((x) => x.status !== 200)) {
      expect([401, 409, 429]).toContain(r.status);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(r.body)).not.toMatch(/accessToken|backupCodes/);
    }
    // One factor, one confirmation, one login; the token is spent on both instances.
    expect((await json(b.url, '/mfa/status', undefined, { 'x-user-id': user })).body.factors).toHaveLength(1);
    expect((await json(a.url, '/mfa/totp/setup', { enrollmentToken: token })).body.code).toBe('challenge_expired');
    expect((await json(b.url, '/mfa/totp/setup', { enrollmentToken: token })).body.code).toBe('challenge_expired');
    const confirmations = [...written('a', user), ...written('b', user)].filter((e) => e.type === 'factor.confirmed');
    expect(confirmations).toHaveLength(1);
    // Refused attempts in flight never lock a user whose attempts were right.
    expect((await json(a.url, `/admin/mfa/users/${user}`, undefined, admin('a'))).body).toMatchObject({ locked: false, enabled: true });
  }, 60_000);

  test('the audit log is shared: what both instances wrote is one ordered list, and the cursors walk it from either instance', async () => {
    const user = 'mi-audit';
    const { secret } = await enrol(user);
    // Failures and a success, spread over both instances, some of them at the same time.
    await Promise.all([a, b, a].map(async (inst) => {
      const login = await json(inst.url, '/login', { userId: user });
      const r = await json(inst.url, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: '000000' === (await totp(secret)) ? '111111' : '000000' });
      expect(r.status).toBe(401);
    }));
    const login = await json(b.url, '/login', { userId: user });
    expect((await json(b.url, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await totp(secret) })).status).toBe(200);

    const byA = written('a', user);
    const byB = written('b', user);
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
    expect(new Set(byA.map((e) => e.pid))).toEqual(new Set([a.proc.pid]));
    expect(new Set(byB.map((e) => e.pid))).toEqual(new Set([b.proc.pid]));
    const writtenKeys = [...byA, ...byB].map((e) => `${new Date(e.at).toISOString()} ${e.type}`).sort();

    const whole = await json(a.url, `/admin/mfa/events?userId=${user}&limit=200`, undefined, admin('audit'));
    expect(whole.status).toBe(200);
    expect(whole.body.nextCursor).toBeNull();
    const listed = whole.body.events as Listed[];
    // Exactly what both wrote: each event once, from either process, newest first.
    expect(listed.map((e) => `${e.at} ${e.type}`).sort()).toEqual(writtenKeys);
    expect(listed.every((e) => e.userId === user)).toBe(true);
    expectOrdered(listed);
    expect(listed.filter((e) => e.type === 'mfa.failed')).toHaveLength(3);

    // Small pages through the cursors, from A and from B: the same list, no event twice, none missed.
    for (const inst of [a, b]) {
      const paged = await allPages(inst, `userId=${user}`, 2);
      expect(paged.pages).toBe(Math.ceil(listed.length / 2));
      expect(paged.events.map((e) => e.id)).toEqual(listed.map((e) => e.id));
    }
    // A time range over all users holds the same events, in the same order.
    const since = Date.parse(listed.at(-1)!.at);
    const all = await allPages(b, `since=${since}&until=${Date.now() + 1}`, 5);
    expectOrdered(all.events);
    expect(all.events.filter((e) => e.userId === user).map((e) => e.id)).toEqual(listed.map((e) => e.id));
  }, 60_000);

  test('an admin reset on B: A\'s next login enrols first under the policy, or has no MFA without it; audited with the actor', async () => {
    // Held by the policy: after the reset, enrol first.
    const held = 'must-reset';
    const token = await enrolmentToken(a, held);
    const setup = await json(a.url, '/mfa/totp/setup', { enrollmentToken: token });
    expect((await json(b.url, '/mfa/totp/confirm', { enrollmentToken: token, factorId: setup.body.factorId, code: await totp(setup.body.secret, -1) })).status).toBe(200);
    expect((await json(a.url, '/login', { userId: held })).body).toMatchObject({ mfaRequired: true });
    // Not held: after the reset, no MFA (the host is only told to nudge).
    const free = 'mi-reset';
    await enrol(free);
    expect((await json(a.url, '/login', { userId: free })).body).toMatchObject({ mfaRequired: true });

    // Not an admin: refused, nothing changed.
    const refused = await json(b.url, `/admin/mfa/users/${held}/reset`, {}, { 'x-admin': 'user-1' });
    expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
    expect((await json(a.url, '/login', { userId: held })).body).toMatchObject({ mfaRequired: true });

    for (const user of [held, free]) {
      const reset = await json(b.url, `/admin/mfa/users/${user}/reset`, { reason: 'lost phone; identity checked' }, admin('b'));
      expect(reset.status).toBe(204);
    }
    await enrolmentToken(a, held);
    const login = await json(a.url, '/login', { userId: free });
    expect(login.body).toEqual({ session: `host-session-for-${free}`, enrollment: { required: false, graceUntil: null, methods: expect.arrayContaining(['totp']) } });
    expect((await json(a.url, `/admin/mfa/users/${free}`, undefined, admin('a'))).body).toMatchObject({ userId: free, enabled: false, factors: [], backupCodesRemaining: 0 });

    const events = await json(a.url, `/admin/mfa/events?userId=${held}&limit=2`, undefined, admin('a'));
    expect(events.body.events.map((e: Listed) => e.type)).toEqual(['enrollment.required', 'mfa.reset']);
    expect(events.body.events[1]).toMatchObject({ actor: 'admin-b', detail: 'lost phone; identity checked', purpose: 'admin' });
  }, 60_000);

  test('an unlock on A ends a lock reached on B', async () => {
    const user = 'mi-lock';
    const { secret } = await enrol(user);
    const wrong = async () => ('000000' === (await totp(secret)) ? '111111' : '000000');
    for (let i = 0; i < LOCK_AFTER; i++) {
      const login = await json(b.url, '/login', { userId: user });
      const r = await json(b.url, '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await wrong() });
      expect([i, r.status]).toEqual([i, 401]);
    }
    // Locked everywhere: A refuses even the right code, and says so to the admin.
    const loginA = await json(a.url, '/login', { userId: user });
    const refused = await json(a.url, '/mfa/verify', { challengeToken: loginA.body.challengeToken, method: 'totp', code: await totp(secret) });
    expect([refused.status, refused.body.code]).toEqual([429, 'too_many_attempts']);
    expect((await json(a.url, `/admin/mfa/users/${user}`, undefined, admin('a'))).body).toMatchObject({ locked: true });
    const seen = (await json(b.url, `/admin/mfa/users/${user}`, undefined, admin('b'))).body.events as (Listed & { reason: string | null })[];
    expect(seen.slice(0, 3).map((e) => [e.type, e.reason])).toEqual([['mfa.failed', 'too_many_attempts'], ['challenge.started', null], ['mfa.locked', 'too_many_attempts']]);
    // The lock was reached on B; A only refused.
    expect(written('b', user).filter((e) => e.type === 'mfa.locked')).toHaveLength(1);
    expect(written('a', user).filter((e) => e.type === 'mfa.locked')).toHaveLength(0);

    expect((await json(a.url, `/admin/mfa/users/${user}/unlock`, {}, admin('a'))).status).toBe(204);
    expect((await json(b.url, `/admin/mfa/users/${user}`, undefined, admin('b'))).body).toMatchObject({ locked: false });
    const loginB = await json(b.url, '/login', { userId: user });
    const ok = await json(b.url, '/mfa/verify', { challengeToken: loginB.body.challengeToken, method: 'totp', code: await totp(secret) });
    expect(ok.status).toBe(200);
    const latest = await json(b.url, `/admin/mfa/events?userId=${user}&limit=3`, undefined, admin('b'));
    expect(latest.body.events.map((e: Listed) => e.type)).toEqual(['mfa.verified', 'challenge.started', 'mfa.unlocked']);
    expect(latest.body.events[2]).toMatchObject({ actor: 'admin-a' });
  }, 60_000);
});
