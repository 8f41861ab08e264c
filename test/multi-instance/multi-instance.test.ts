// Two app processes on one PostgreSQL + Redis: every single-use and limit invariant holds across
// instances (issue #4). Runs the built packages (dist) in child processes.
import { generateTotp } from '@secondfactor/core';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../support/services';
import { assertBuilt, freshNamespace, json, startInstances, type Instance } from './harness';

const describeBoth = describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]]);
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const totp = (secret: string, offsetSteps = 0) => generateTotp(secret, Date.now() + offsetSteps * 30_000, P);

describeBoth('multi-instance: two processes sharing PostgreSQL + Redis', () => {
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let a: Instance;
  let b: Instance;
  let single: Instance;

  beforeAll(async () => {
    assertBuilt();
    ns = await freshNamespace(POSTGRES_URL, REDIS_URL);
    const env = { SF_DATABASE_URL: POSTGRES_URL, SF_REDIS_URL: REDIS_URL, SF_TABLE_PREFIX: ns.tablePrefix, SF_KEY_PREFIX: ns.keyPrefix, SF_BACKOFF_AFTER: '6', SF_LOCK_AFTER: '6' };
    [a, b, single] = (await startInstances(env, 3)) as [Instance, Instance, Instance];
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a, b, single].filter(Boolean).map((i) => i.stop()));
    await ns?.cleanup();
  }, 30_000);

  /** Enrols a TOTP factor through instance A; confirms with the previous step's code so the current one stays fresh. */
  async function enrol(user: string) {
    const setup = await json(a.url, '/mfa/totp/setup', {}, { 'x-user-id': user });
    expect(setup.status).toBe(200);
    const confirm = await json(b.url, '/mfa/totp/confirm', { factorId: setup.body.factorId, code: await totp(setup.body.secret, -1) }, { 'x-user-id': user });
    expect(confirm.status).toBe(200);
    return { secret: setup.body.secret as string, backupCodes: confirm.body.backupCodes as string[] };
  }

  async function challenge(inst: Instance, user: string): Promise<string> {
    const r = await json(inst.url, '/login', { userId: user });
    expect(r.status).toBe(200);
    expect(r.body.mfaRequired).toBe(true);
    return r.body.challengeToken;
  }

  test('100 concurrent logins with the same backup code over both instances → exactly 1 success', async () => {
    const { backupCodes } = await enrol('mi-backup');
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => challenge(i % 2 ? a : b, 'mi-backup')));
    const results = await Promise.all(tokens.map((t, i) => json((i % 2 ? b : a).url, '/mfa/verify', { challengeToken: t, method: 'backup_code', code: backupCodes[0] })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => [200, 401, 429].includes(s))).toBe(true);
  }, 60_000);

  test('the same TOTP code sent to both instances → exactly 1 success', async () => {
    const { secret } = await enrol('mi-totp');
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => challenge(i % 2 ? a : b, 'mi-totp')));
    const code = await totp(secret);
    const results = await Promise.all(tokens.map((t, i) => json((i % 2 ? a : b).url, '/mfa/verify', { challengeToken: t, method: 'totp', code })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  }, 30_000);

  test('one challenge verified on both instances with two valid codes → exactly 1 success', async () => {
    const { secret, backupCodes } = await enrol('mi-challenge');
    const token = await challenge(a, 'mi-challenge');
    const [viaA, viaB] = await Promise.all([
      json(a.url, '/mfa/verify', { challengeToken: token, method: 'totp', code: await totp(secret) }),
      json(b.url, '/mfa/verify', { challengeToken: token, method: 'backup_code', code: backupCodes[1] }),
    ]);
    expect([viaA.status, viaB.status].sort()).toEqual([200, 401]);
  }, 30_000);

  test('failure limits are shared: alternating instances lock at the same count as one instance', async () => {
    async function countUntilLocked(user: string, instances: Instance[]) {
      await enrol(user);
      let evaluated = 0;
      for (let i = 0; i < 20; i++) {
        const inst = instances[i % instances.length]!;
        const token = await challenge(inst, user);
        const r = await json(inst.url, '/mfa/verify', { challengeToken: token, method: 'totp', code: '000000' });
        if (r.status === 429) {
          expect(r.body.code).toBe('too_many_attempts');
          expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
          return evaluated;
        }
        expect(r.status).toBe(401);
        evaluated++;
      }
      return evaluated;
    }
    const alternating = await countUntilLocked('mi-limit-alt', [a, b]);
    const one = await countUntilLocked('mi-limit-one', [single]);
    expect(alternating).toBe(6);
    expect(one).toBe(alternating);
  }, 60_000);

  test('a trusted device registered on one instance is honoured by the other', async () => {
    const { secret } = await enrol('mi-device');
    const token = await challenge(a, 'mi-device');
    const r = await json(a.url, '/mfa/verify', { challengeToken: token, method: 'totp', code: await totp(secret), trustDevice: true });
    expect(r.status).toBe(200);
    const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    const login = await json(b.url, '/login', { userId: 'mi-device' }, { cookie });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ session: 'host-session-for-mi-device' });
  }, 30_000);
});
