// test/reliability/crash-restart.test.ts
// An app process (test/multi-instance/app-server.cjs over PostgreSQL + Redis) killed with SIGKILL at
// a random moment of concurrent /verify, /totp/confirm and /backup-codes/regenerate load, restarted,
// round after round (issue #14). The app writes every MFA event to a file, fsync'ed per event.
// Typically 35–50 s (restarts dominate); the timeout leaves room for a loaded machine.
// Afterwards, checked against the database and by trying every code:
// - a backup code is accepted at most once over the whole run; a code never sent is still valid;
// - a backup-code set is whole (one salt, all its codes), never half replaced;
// - a pending factor's code does not pass a login; every confirmed factor is active;
// - the failure counter of a user who only guesses wrong never decreases, and counts every 401;
// - the audit trail claims no success that did not happen.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Knex, { type Knex as KnexType } from 'knex';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { generateTotp, type MfaEvent } from '@secondfactor/core';
import { createSecretBox } from '../../packages/core/src/secret-box';
import { describeWithServices, POSTGRES_URL, REDIS_URL } from '../support/services';
import { assertBuilt, freshNamespace, json, startInstance, type Instance } from '../multi-instance/harness';

const describeBoth = describeWithServices([['PostgreSQL', POSTGRES_URL], ['Redis', REDIS_URL]]);
const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const ROUNDS = 6;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
const as = (user: string) => ({ 'x-user-id': user });
// The app's key (app-server.cjs): opens any stored TOTP secret, also of factors whose setup answer the kill cut off.
const box = createSecretBox({ current: 'k1', keys: { k1: Buffer.alloc(32, 7).toString('base64') } }, (n) => new Uint8Array(randomBytes(n)));

type CodeState = 'unsent' | 'accepted' | 'rejected' | 'unknown';

describeBoth('crashes: SIGKILL at random moments under load, restart, repeat', () => {
  let ns: Awaited<ReturnType<typeof freshNamespace>>;
  let dir: string;
  let eventLog: string;
  let inst: Instance | undefined;
  let db: KnexType;
  let redis: Redis;
  const env = () => ({
    SF_DATABASE_URL: POSTGRES_URL, SF_REDIS_URL: REDIS_URL, SF_TABLE_PREFIX: ns.tablePrefix, SF_KEY_PREFIX: ns.keyPrefix,
    SF_EVENT_LOG: eventLog, SF_PER_IP_PER_WINDOW: '1000000', SF_BACKOFF_AFTER: '100', SF_LOCK_AFTER: '100',
  });

  beforeAll(async () => {
    assertBuilt();
    ns = await freshNamespace(POSTGRES_URL, REDIS_URL);
    dir = mkdtempSync(join(tmpdir(), 'sf-crash-'));
    eventLog = join(dir, 'events.jsonl');
    db = Knex({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 2 } });
    redis = new Redis(REDIS_URL);
  }, 30_000);

  afterAll(async () => {
    await inst?.stop();
    await db?.destroy();
    redis?.disconnect();
    await ns?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const url = () => inst!.url;

  /** Enrols a TOTP factor (confirmed with the previous step's code) and logs in once with TOTP for an assertion. */
  async function enrol(user: string) {
    const setup = await json(url(), '/mfa/totp/setup', {}, as(user));
    expect(setup.status).toBe(200);
    const confirm = await json(url(), '/mfa/totp/confirm', { factorId: setup.body.factorId, code: await generateTotp(setup.body.secret, Date.now() - 30_000, P) }, as(user));
    expect(confirm.status).toBe(200);
    const login = await json(url(), '/login', { userId: user });
    const verify = await json(url(), '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await generateTotp(setup.body.secret, Date.now(), P) });
    expect(verify.status).toBe(200);
    return { factorId: setup.body.factorId as string, secret: setup.body.secret as string, codes: confirm.body.backupCodes as string[], assertion: verify.body.accessToken as string };
  }

  async function backupLogin(user: string, code: string): Promise<number> {
    const login = await json(url(), '/login', { userId: user });
    if (login.status !== 200 || !login.body.challengeToken) throw new Error(`login ${login.status}`);
    return (await json(url(), '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'backup_code', code })).status;
  }

  async function failuresOf(user: string): Promise<number> {
    const raw = await redis.hget(`${ns.keyPrefix}attempts:{${user}}`, 'failures');
    return raw === null ? 0 : Number(JSON.parse(raw));
  }

  test(`${ROUNDS} rounds of load, each ended by SIGKILL at a random moment: nothing spent twice, nothing half-written, no invented event`, async () => {
    inst = await startInstance(env());

    // ---- users, enrolled before any kill ----
    const backupUsers = await Promise.all(['b1', 'b2', 'b3'].map(async (u) => {
      const e = await enrol(`crash-${u}`);
      return { user: `crash-${u}`, codes: new Map<string, CodeState>(e.codes.map((c) => [c, 'unsent'])), accepted: new Map<string, number>() };
    }));
    const regenUsers = await Promise.all(['r1', 'r2'].map(async (u) => {
      const e = await enrol(`crash-${u}`);
      return { user: `crash-${u}`, assertion: e.assertion, sets: [] as string[][], ok: 0, unknown: 0, first: e.codes };
    }));
    const enrollers = await Promise.all(['e1', 'e2', 'e3'].map(async (u) => {
      const e = await enrol(`crash-${u}`);
      return { user: `crash-${u}`, assertion: e.assertion, secrets: new Map<string, string>([[e.factorId, e.secret]]), confirmed: new Set<string>([e.factorId]), unknown: new Set<string>() };
    }));
    const attacker = { user: 'crash-attacker', sent: 0, rejected: 0, samples: [] as number[] };
    await enrol(attacker.user);

    // ---- the load, per round until the kill ----
    let killed = false;
    let completed = 0; // responses received, over all workers
    const violations: string[] = [];

    const backupWorker = async (b: (typeof backupUsers)[number]) => {
      while (!killed) {
        const next = [...b.codes].find(([, s]) => s === 'unsent')?.[0];
        const replay = [...b.codes].find(([, s]) => s === 'accepted')?.[0];
        if (next) {
          b.codes.set(next, 'unknown');
          try {
            const status = await backupLogin(b.user, next);
            completed++;
            if (status === 200) {
              b.codes.set(next, 'accepted');
              b.accepted.set(next, (b.accepted.get(next) ?? 0) + 1);
            } else {
              b.codes.set(next, 'rejected');
              violations.push(`${b.user}: a code never sent before was refused (${status})`);
            }
          } catch {
            // The kill cut this request: its outcome stays unknown.
          }
        }
        if (replay && !killed) {
          try {
            const status = await backupLogin(b.user, replay);
            completed++;
            if (status === 200) violations.push(`${b.user}: an accepted code was accepted again`);
          } catch {
            // cut by the kill
          }
        }
        await sleep(between(250, 500));
      }
    };

    const regenWorker = async (r: (typeof regenUsers)[number]) => {
      while (!killed) {
        try {
          const res = await json(url(), '/mfa/backup-codes/regenerate', { assertion: r.assertion }, as(r.user));
          completed++;
          if (res.status === 200) {
            r.sets.push(res.body.backupCodes);
            r.ok++;
          } else violations.push(`${r.user}: regenerate answered ${res.status}`);
        } catch {
          r.unknown++;
        }
        await sleep(between(50, 200));
      }
    };

    const enrollWorker = async (e: (typeof enrollers)[number]) => {
      while (!killed && e.confirmed.size + e.unknown.size < 9) {
        let factorId: string | undefined;
        try {
          const setup = await json(url(), '/mfa/totp/setup', { assertion: e.assertion }, as(e.user));
          if (setup.status !== 200) {
            violations.push(`${e.user}: setup answered ${setup.status}`);
            break;
          }
          factorId = setup.body.factorId as string;
          e.secrets.set(factorId, setup.body.secret);
          const code = await generateTotp(setup.body.secret, Date.now(), P);
          const confirm = await json(url(), '/mfa/totp/confirm', { factorId, code }, as(e.user));
          completed++;
          if (confirm.status === 200) e.confirmed.add(factorId);
          else violations.push(`${e.user}: confirm answered ${confirm.status}`);
        } catch {
          if (factorId) e.unknown.add(factorId);
        }
        await sleep(between(100, 300));
      }
    };

    const attackWorker = async () => {
      while (!killed) {
        try {
          const login = await json(url(), '/login', { userId: attacker.user });
          attacker.sent++;
          const r = await json(url(), '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'backup_code', code: 'AAAAA-AAAAA' });
          completed++;
          if (r.status === 401) attacker.rejected++;
          else violations.push(`attacker: a wrong code answered ${r.status}`);
        } catch {
          // cut by the kill
        }
        await sleep(between(30, 100));
      }
    };

    const killPoints: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (!inst) inst = await startInstance(env());
      // Warm: the first request opens the pool's first PostgreSQL connection.
      expect((await json(url(), '/mfa/status', undefined, as(attacker.user))).status).toBe(200);
      const t1 = Date.now();
      killed = false;
      const running = inst;
      // The kill lands after a random amount of progress (the machine's speed varies), at a random moment.
      const target = completed + between(3, 12);
      const killer = (async () => {
        const deadline = Date.now() + 8000;
        while (completed < target && Date.now() < deadline) await sleep(10);
        await sleep(between(0, 300));
        killPoints.push(Date.now() - t1);
        const exited = new Promise((r) => running.proc.once('exit', r));
        running.proc.kill('SIGKILL');
        await exited;
        killed = true;
      })();
      await Promise.all([killer, ...backupUsers.map(backupWorker), ...regenUsers.map(regenWorker), ...enrollers.map(enrollWorker), attackWorker()]);
      expect(running.proc.signalCode).toBe('SIGKILL');
      inst = undefined;
      attacker.samples.push(await failuresOf(attacker.user));
    }
    inst = await startInstance(env());
    expect(violations).toEqual([]);

    // ---- the attacker's failure counter: never decreased, counted every 401 ----
    for (let i = 1; i < attacker.samples.length; i++) expect(attacker.samples[i]!).toBeGreaterThanOrEqual(attacker.samples[i - 1]!);
    const finalFailures = await failuresOf(attacker.user);
    expect(finalFailures).toBeGreaterThanOrEqual(attacker.samples.at(-1)!);
    expect(finalFailures).toBeGreaterThanOrEqual(attacker.rejected);
    expect(finalFailures).toBeLessThanOrEqual(attacker.sent);
    expect(attacker.rejected).toBeGreaterThan(0);

    // ---- regenerated sets: whole, and the current one is the last one written ----
    const t = (name: string) => `${ns.tablePrefix}${name}`;
    for (const r of regenUsers) {
      const set = await db(t('backup_code_sets')).where({ user_id: r.user }).first();
      const rows: { code_hash: string; used_at: unknown }[] = await db(t('backup_codes')).where({ user_id: r.user });
      expect(rows).toHaveLength(10);
      for (const row of rows) {
        expect(row.code_hash.startsWith(set.salt)).toBe(true);
        expect(row.used_at).toBeNull();
      }
      expect(r.ok).toBeGreaterThan(0);
      // The current set is the last one a client saw, or one written by a request the kill cut off.
      const last = r.sets.at(-1)!;
      const lastIsCurrent = (await backupLogin(r.user, last[0]!)) === 200;
      if (!lastIsCurrent) expect(r.unknown).toBeGreaterThan(0);
      else expect(await backupLogin(r.user, last[1]!)).toBe(200);
      // Every earlier set (and the one from enrolment) is dead.
      for (const old of [r.first, ...r.sets.slice(0, -1)]) expect(await backupLogin(r.user, old[2]!)).toBe(401);
    }

    // ---- backup codes: each accepted at most once over the run; never-sent ones still valid ----
    for (const b of backupUsers) {
      for (const [code, state] of b.codes) {
        const status = await backupLogin(b.user, code);
        if (status === 200) b.accepted.set(code, (b.accepted.get(code) ?? 0) + 1);
        if (state === 'unsent') expect(status).toBe(200);
        // Refused: 401, or 400 once the user has no code left (the challenge no longer offers backup codes).
        if (state === 'accepted') expect([400, 401]).toContain(status);
        expect([400, 401]).toContain(await backupLogin(b.user, code));
      }
      for (const n of b.accepted.values()) expect(n).toBeLessThanOrEqual(1);
      const used = await db(t('backup_codes')).where({ user_id: b.user }).whereNotNull('used_at').count<{ n: string }[]>({ n: '*' });
      expect(Number(used[0]!.n)).toBe(10);
    }

    // ---- factors: confirmed ones are active; no pending one passes a login ----
    let pendingTried = 0;
    for (const e of enrollers) {
      const factors: { id: string; status: string; secret: string }[] = await db(t('factors')).where({ user_id: e.user });
      const status = new Map(factors.map((f) => [f.id, f.status]));
      for (const id of e.confirmed) expect(status.get(id)).toBe('active');
      for (const f of factors) {
        if (f.status !== 'pending') continue;
        const secret = (await box.open(f.secret, `${e.user}:${f.id}`)).plaintext;
        if (e.secrets.has(f.id)) expect(secret).toBe(e.secrets.get(f.id));
        const login = await json(url(), '/login', { userId: e.user });
        const r = await json(url(), '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await generateTotp(secret, Date.now(), P) });
        expect(r.status).toBe(401);
        pendingTried++;
      }
      // Always one more pending factor, left unconfirmed on purpose (setup first prunes the pending
      // ones the kills left, which were tried above): its code must not pass either.
      const setup = await json(url(), '/mfa/totp/setup', { assertion: e.assertion }, as(e.user));
      expect(setup.status).toBe(200);
      const pendingLogin = await json(url(), '/login', { userId: e.user });
      const refused = await json(url(), '/mfa/verify', { challengeToken: pendingLogin.body.challengeToken, method: 'totp', code: await generateTotp(setup.body.secret, Date.now(), P) });
      expect(refused.status).toBe(401);
      // Positive control: a confirmed factor's next code does pass.
      const anyActive = [...e.confirmed].at(-1)!;
      const login = await json(url(), '/login', { userId: e.user });
      const ok = await json(url(), '/mfa/verify', { challengeToken: login.body.challengeToken, method: 'totp', code: await generateTotp(e.secrets.get(anyActive)!, Date.now() + 30_000, P) });
      expect(ok.status).toBe(200);
    }

    // ---- the audit trail ----
    const lines = readFileSync(eventLog, 'utf8').split('\n').filter((l) => l.length > 0);
    const events = lines.map((l) => JSON.parse(l) as MfaEvent & { pid: number });
    expect(new Set(events.map((e) => e.pid)).size).toBeGreaterThanOrEqual(ROUNDS + 1);
    const of = (user: string, type: string) => events.filter((e) => e.userId === user && e.type === type && e.outcome === 'success');
    // The attacker never succeeded at anything after enrolment's own login.
    expect(of(attacker.user, 'backup_code.used')).toHaveLength(0);
    expect(of(attacker.user, 'mfa.verified')).toHaveLength(1);
    for (const b of backupUsers) {
      // Every code is spent now (the final tries spent the rest); no more "used" events than spent codes,
      // no fewer than the successes the clients saw.
      const seen = [...b.accepted.values()].reduce((a, n) => a + n, 0);
      const used = of(b.user, 'backup_code.used').length;
      expect(used).toBeLessThanOrEqual(10);
      expect(used).toBeGreaterThanOrEqual(seen);
      const verifiedByBackup = of(b.user, 'mfa.verified').filter((e) => e.factorType === 'backup_code').length;
      expect(verifiedByBackup).toBeLessThanOrEqual(used);
      expect(verifiedByBackup).toBeGreaterThanOrEqual(seen);
    }
    for (const r of regenUsers) {
      const n = of(r.user, 'backup_codes.regenerated').filter((e) => e.purpose === 'management').length;
      expect(n).toBeGreaterThanOrEqual(r.ok);
      expect(n).toBeLessThanOrEqual(r.ok + r.unknown);
    }
    for (const e of enrollers) {
      const active = new Set((await db(t('factors')).where({ user_id: e.user, status: 'active' }).select('id')).map((f: { id: string }) => f.id));
      for (const ev of of(e.user, 'factor.confirmed')) expect(active.has(ev.factorId!)).toBe(true);
      expect(of(e.user, 'factor.confirmed').length).toBeGreaterThanOrEqual(e.confirmed.size);
    }
    // Not vacuous: the kills did cut requests, and factors were left pending.
    const cut = regenUsers.reduce((a, r) => a + r.unknown, 0) + enrollers.reduce((a, e) => a + e.unknown.size, 0)
      + backupUsers.reduce((a, b) => a + [...b.codes.values()].filter((s) => s === 'unknown').length, 0);
    expect(cut).toBeGreaterThan(0);
    process.stdout.write(`crash suite: kill points ${killPoints.join(', ')} ms; requests cut: ${cut}; pending factors left by kills and tried: ${pendingTried}; attacker 401s ${attacker.rejected}/${attacker.sent}, failures ${finalFailures}\n`);
  }, 150_000);
});
