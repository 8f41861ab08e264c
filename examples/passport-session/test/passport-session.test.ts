// examples/passport-session/test/passport-session.test.ts
// End to end over HTTP: two processes of the Passport + express-session example share Redis
// (sessions, MFA challenges, sign-in links) and PostgreSQL (users, factors). Every request of a
// flow alternates instances, so nothing may live in one process's memory. The magic link is a
// second sign-in path, and must not skip the second factor.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Knex from 'knex';
import Redis from 'ioredis';
import { generateTotp } from '@secondfactor/core';
import { rollback } from '@secondfactor/knex';
import { deleteKeysWithPrefix } from '../../../test/support/redis';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../../../test/support/services';
import { HttpClient } from '../../../test/support/http-client';

const ROOT = join(__dirname, '..', '..', '..');
const SERVER = join(__dirname, '..', 'dist', 'server.js');
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const totp = (secret: string, offsetSteps = 0) => generateTotp(secret, Date.now() + offsetSteps * 30_000, P);

interface Instance { url: string; proc: ChildProcess; output: () => string }

function start(env: Record<string, string>): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SERVER], { cwd: ROOT, env: { ...process.env, ...env, PORT: '0', NODE_ENV: 'test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stderr!.on('data', (d) => (output += String(d)));
    // Generous for a loaded CI machine; an instance that does not start is killed, not left behind.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`instance did not start in 45 s: ${output}`));
    }, 45_000);
    proc.stdout!.on('data', (d) => {
      output += String(d);
      const m = /LISTENING (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${m[1]}`, proc, output: () => output });
      }
    });
    proc.once('exit', (code) => reject(new Error(`instance exited (${code}): ${output}`)));
  });
}

function stop(i: Instance | undefined): Promise<void> {
  return new Promise((r) => {
    if (!i || i.proc.exitCode !== null) return r();
    i.proc.once('exit', () => r());
    i.proc.kill('SIGTERM');
    setTimeout(() => i.proc.kill('SIGKILL'), 3000).unref();
  });
}

const describeBoth = describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]]);

describeBoth('passport-session example: two instances on shared Redis + PostgreSQL', () => {
  const id = randomBytes(4).toString('hex');
  const tablePrefix = `pp_${id}_`;
  const keyPrefix = `pp:${id}:`;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    if (!existsSync(SERVER)) throw new Error('examples/passport-session/dist is missing: run `pnpm exec tsc -b` first (`pnpm test` does)');
    const env = {
      DATABASE_URL: POSTGRES_URL, REDIS_URL, TABLE_PREFIX: tablePrefix, KEY_PREFIX: keyPrefix, DEV_OUTBOX: '1', BCRYPT_COST: '4',
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      MFA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      MFA_SIGNING_KEY: randomBytes(32).toString('base64url'),
    };
    a = await start(env); // one after the other: the first runs the migrations
    b = await start(env);
  }, 100_000);

  afterAll(async () => {
    await Promise.all([stop(a), stop(b)]);
    const knex = Knex({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 1 } });
    await rollback(knex, { tablePrefix: `${tablePrefix}mfa_` });
    await knex.schema.dropTableIfExists(`${tablePrefix}users`);
    await knex.destroy();
    const redis = new Redis(REDIS_URL);
    await deleteKeysWithPrefix(redis, keyPrefix);
    await redis.quit();
  }, 30_000);

  afterEach(() => {
    // Whatever the flow, neither instance may have crashed.
    expect(a.proc.exitCode).toBeNull();
    expect(b.proc.exitCode).toBeNull();
  });

  async function register(): Promise<{ email: string; password: string }> {
    const email = `u-${randomBytes(4).toString('hex')}@example.test`;
    const password = 'correct horse battery';
    const r = await new HttpClient().post(`${a.url}/register`, { email, password });
    expect(r.status).toBe(201);
    return { email, password };
  }

  /** Registers, signs in (no MFA yet: the gate lets the password through), enrols TOTP over both instances, signs out. */
  async function userWithTotp() {
    const creds = await register();
    const browser = new HttpClient();
    const login = await browser.post(`${a.url}/login`, creds);
    expect(login.status).toBe(200);
    expect(login.body.ok).toBe(true);
    const setup = await browser.post(`${b.url}/mfa/totp/setup`, {});
    expect(setup.status).toBe(200);
    const confirm = await browser.post(`${a.url}/mfa/totp/confirm`, { factorId: setup.body.factorId, code: await totp(setup.body.secret, -1) });
    expect(confirm.status).toBe(200);
    expect(confirm.body.backupCodes).toHaveLength(10);
    expect((await browser.post(`${b.url}/logout`)).status).toBe(204);
    expect((await browser.get(`${a.url}/me`)).status).toBe(401);
    return { ...creds, secret: setup.body.secret as string, backupCodes: confirm.body.backupCodes as string[] };
  }

  test('password login → second factor on the other instance → a new express-session session, shared by both instances', async () => {
    const user = await userWithTotp();
    const browser = new HttpClient();
    const first = await browser.post(`${a.url}/login`, { email: user.email, password: user.password });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ mfaRequired: true, methods: expect.arrayContaining(['totp', 'backup_code']) });
    expect(first.setCookies).not.toContain('sid'); // the password alone starts no session
    expect((await browser.get(`${b.url}/me`)).status).toBe(401);

    const verify = await browser.post(`${b.url}/mfa/verify`, { challengeToken: first.body.challengeToken, method: 'totp', code: await totp(user.secret) });
    expect(verify.status).toBe(200); // the host's own answer, sent from inside req.login's callback
    expect(verify.body).toMatchObject({ ok: true, user: { email: user.email } });
    expect(verify.setCookies).toEqual(expect.arrayContaining(['sid', 'sf_mfa']));
    for (const inst of [a, b]) {
      const me = await browser.get(`${inst.url}/me`);
      expect(me.status).toBe(200);
      expect(me.body.email).toBe(user.email);
      expect(me.body.amr).toContain('otp');
    }
    // A fresh verification: the sensitive route answers on either instance.
    expect((await browser.post(`${a.url}/account/api-keys`)).status).toBe(201);
  });

  test('the session id in use before the second factor is dead afterwards (session fixation)', async () => {
    const victim = await userWithTotp();
    const other = await register(); // no MFA: signs in with the password alone
    const browser = new HttpClient();
    expect((await browser.post(`${a.url}/login`, other)).status).toBe(200);
    const planted = browser.cookies.get('sid')!;
    expect(planted).toBeDefined();

    const first = await browser.post(`${b.url}/login`, { email: victim.email, password: victim.password });
    expect(first.body.mfaRequired).toBe(true);
    const verify = await browser.post(`${a.url}/mfa/verify`, { challengeToken: first.body.challengeToken, method: 'backup_code', code: victim.backupCodes[0] });
    expect(verify.status).toBe(200);
    const fresh = browser.cookies.get('sid')!;
    expect(fresh).not.toBe(planted);
    expect((await browser.get(`${b.url}/me`)).body.email).toBe(victim.email);
    const withPlanted = await new HttpClient().get(`${b.url}/me`, { cookie: `sid=${planted}` });
    expect(withPlanted.status).toBe(401);
  });

  test('a magic link cannot skip the second factor, and works once', async () => {
    const user = await userWithTotp();
    const browser = new HttpClient();
    expect((await browser.post(`${a.url}/magic-link`, { email: user.email })).status).toBe(202);
    const mail = await browser.get(`${a.url}/dev/outbox?to=${encodeURIComponent(user.email)}`);
    const token = /#token=([\w-]+)$/.exec(mail.body.link)![1];
    expect(a.output()).toContain(`[dev outbox] sign-in link for ${user.email}`);

    const first = await browser.post(`${b.url}/login/magic-link`, { token });
    expect(first.status).toBe(200);
    expect(first.body.mfaRequired).toBe(true);
    expect(first.setCookies).not.toContain('sid');
    // Everything a session would open stays shut, on both instances.
    for (const inst of [a, b]) {
      expect((await browser.get(`${inst.url}/me`)).status).toBe(401);
      expect((await browser.post(`${inst.url}/account/api-keys`)).status).toBe(401);
      expect((await browser.post(`${inst.url}/mfa/totp/setup`, {})).status).toBe(401);
    }
    // The challenge token is not a session either.
    expect((await browser.get(`${a.url}/me`, { authorization: `Bearer ${first.body.challengeToken}` })).status).toBe(401);
    // The link is single use, across instances.
    expect((await browser.post(`${a.url}/login/magic-link`, { token })).status).toBe(401);

    const verify = await browser.post(`${a.url}/mfa/verify`, { challengeToken: first.body.challengeToken, method: 'totp', code: await totp(user.secret) });
    expect(verify.status).toBe(200);
    expect((await browser.get(`${b.url}/me`)).body.email).toBe(user.email);
  });

  test('a magic link for a user without a second factor signs in directly; unknown addresses get the same answer', async () => {
    const user = await register();
    const browser = new HttpClient();
    const unknown = await browser.post(`${a.url}/magic-link`, { email: `nobody-${id}@example.test` });
    const known = await browser.post(`${a.url}/magic-link`, { email: user.email });
    expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
    const { link } = (await browser.get(`${a.url}/dev/outbox?to=${encodeURIComponent(user.email)}`)).body;
    const token = /#token=([\w-]+)$/.exec(link)![1];
    const r = await browser.post(`${b.url}/login/magic-link`, { token });
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(true);
    expect((await browser.get(`${a.url}/me`)).body.email).toBe(user.email);
  });

  test('the sensitive route needs a recent second factor of the signed-in user; step-up gives one', async () => {
    const user = await userWithTotp();
    const mallory = await userWithTotp();
    const browser = new HttpClient();
    const first = await browser.post(`${a.url}/login`, { email: user.email, password: user.password });
    expect((await browser.post(`${b.url}/mfa/verify`, { challengeToken: first.body.challengeToken, method: 'totp', code: await totp(user.secret) })).status).toBe(200);

    // Session without the assertion cookie (e.g. it expired): refused with the RFC 9470 challenge.
    const mfaCookie = browser.cookies.get('sf_mfa')!;
    browser.cookies.delete('sf_mfa');
    const refused = await browser.post(`${b.url}/account/api-keys`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/insufficient_user_authentication.*max_age=300/);

    // Another user's valid assertion does not unlock this user's session.
    const m = new HttpClient();
    const mFirst = await m.post(`${a.url}/login`, { email: mallory.email, password: mallory.password });
    expect((await m.post(`${a.url}/mfa/verify`, { challengeToken: mFirst.body.challengeToken, method: 'totp', code: await totp(mallory.secret) })).status).toBe(200);
    browser.cookies.set('sf_mfa', m.cookies.get('sf_mfa')!);
    expect((await browser.post(`${a.url}/account/api-keys`)).status).toBe(401);
    browser.cookies.set('sf_mfa', mfaCookie);
    expect((await browser.post(`${a.url}/account/api-keys`)).status).toBe(201);

    browser.cookies.delete('sf_mfa');
    const stepUp = await browser.post(`${a.url}/mfa/step-up`, { code: await totp(user.secret, 1) });
    expect(stepUp.status).toBe(200);
    expect(stepUp.setCookies).toContain('sf_mfa');
    expect((await browser.post(`${b.url}/account/api-keys`)).status).toBe(201);
  });
});
