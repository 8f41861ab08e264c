// Fail closed when a store is unreachable (503 store_unavailable, nothing passes) and recover
// without a restart when it returns. The outage is a TCP proxy this test controls, never the
// shared PostgreSQL or Redis.
import { generateTotp } from '@secondfactor/core';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../support/services';
import { assertBuilt, freshNamespace, json, startInstance, tcpProxy, type Instance } from './harness';

const describeBoth = describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]]);
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };

describeBoth('store outage', () => {
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let pg: Awaited<ReturnType<typeof tcpProxy>>;
  let redis: Awaited<ReturnType<typeof tcpProxy>>;
  let app: Instance;
  let secret: string;
  let backupCodes: string[];

  beforeAll(async () => {
    assertBuilt();
    ns = await freshNamespace(POSTGRES_URL, REDIS_URL);
    pg = await tcpProxy(POSTGRES_URL);
    redis = await tcpProxy(REDIS_URL);
    app = await startInstance({ SF_DATABASE_URL: pg.url, SF_REDIS_URL: redis.url, SF_TABLE_PREFIX: ns.tablePrefix, SF_KEY_PREFIX: ns.keyPrefix });
    const setup = await json(app.url, '/mfa/totp/setup', {}, { 'x-user-id': 'outage' });
    expect(setup).toMatchObject({ status: 200 });
    const confirm = await json(app.url, '/mfa/totp/confirm', { factorId: setup.body.factorId, code: await generateTotp(setup.body.secret, Date.now() - 30_000, P) }, { 'x-user-id': 'outage' });
    expect(confirm.status).toBe(200);
    secret = setup.body.secret;
    backupCodes = confirm.body.backupCodes;
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await pg?.close();
    await redis?.close();
    await ns?.cleanup();
  }, 30_000);

  async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (ok(v) || Date.now() > end) return v;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  for (const which of ['redis', 'pg'] as const) {
    test(`${which === 'pg' ? 'PostgreSQL' : 'Redis'} down: 503 store_unavailable and nothing passes; back up: works without a restart`, async () => {
      const proxy = which === 'pg' ? pg : redis;
      const login = await json(app.url, '/login', { userId: 'outage' });
      expect(login.status).toBe(200);
      const token = login.body.challengeToken;
      await proxy.down();
      const gate = await json(app.url, '/login', { userId: 'outage' });
      expect(gate.status).toBe(503);
      expect(gate.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(gate.body.code).toBe('store_unavailable');
      expect(JSON.stringify(gate.body)).not.toMatch(/session|stack|at \w+ \(/);
      const verify = await json(app.url, '/mfa/verify', { challengeToken: token, method: 'backup_code', code: backupCodes.pop() });
      expect(verify.status).toBe(503);
      expect(verify.body.code).toBe('store_unavailable');
      await proxy.up();
      const again = await eventually(() => json(app.url, '/login', { userId: 'outage' }), (r) => r.status === 200);
      expect(again.status).toBe(200);
      const ok = await json(app.url, '/mfa/verify', { challengeToken: again.body.challengeToken, method: 'totp', code: await generateTotp(secret, Date.now() + (which === 'pg' ? 30_000 : 0), P) });
      expect(ok.status).toBe(200);
      expect(ok.body.tokenType).toBe('Bearer');
    }, 60_000);
  }
});
