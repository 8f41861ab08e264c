// packages/knex/test/killed-connection.test.ts
// PostgreSQL connections of the store killed mid-operation (issue #14): an admin connection holds a
// row lock so the store's statement (or the second statement of its transaction) waits, finds the
// store's waiting backends by application_name in pg_stat_activity, and ends them with
// pg_terminate_backend. Afterwards: no double spend, no half-written backup-code set, and the
// next request on the same knex pool succeeds.
import { randomBytes } from 'node:crypto';
import { knex, type Knex } from 'knex';
import { backupCodes, createMfa, generateTotp, totp, type Mfa } from '@secondfactor/core';
import { knexStore, migrate, type KnexMfaStore } from '@secondfactor/knex';
import { describeWithService, POSTGRES_URL } from '../../../test/support/services';

const P = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const tablePrefix = 'sf_';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describeWithService('PostgreSQL', POSTGRES_URL)('knex store on PostgreSQL: connections killed mid-operation', () => {
  const id = randomBytes(4).toString('hex');
  const schema = `sf_kill_${id}`;
  const appName = `sf-kill-${id}`;
  let admin: Knex;
  let locker: Knex;
  let db: Knex;
  let store: KnexMfaStore;
  let now = Date.now();
  let mfa: Mfa;

  beforeAll(async () => {
    admin = knex({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 2 } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    locker = knex({ client: 'pg', connection: POSTGRES_URL, searchPath: [schema], pool: { min: 0, max: 2 } });
    // The store's connections carry an application_name of their own, so the test can find them.
    db = knex({
      client: 'pg', connection: { connectionString: POSTGRES_URL, application_name: appName }, searchPath: [schema], pool: { min: 0, max: 20 },
      // knex logs each ended connection with console.log; the test expects them.
      log: { warn() {}, error() {}, debug() {}, deprecate() {} },
    });
    await migrate(db, { tablePrefix });
    store = knexStore(db, { tablePrefix });
    mfa = createMfa({
      issuer: 'Killed connections', store,
      encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 9).toString('base64') } },
      signingKey: 'killed-connection-signing-key-0123456789abcdef',
      factors: [totp(), backupCodes({ bcryptCost: 4 })],
      clock: () => now,
    });
  }, 30_000);

  afterAll(async () => {
    await db?.destroy();
    await locker?.destroy();
    await admin?.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin?.destroy();
  }, 30_000);

  /** Pids of the store's backends that wait for a lock (our row lock), once `count` of them do. */
  async function waitingStoreBackends(count: number): Promise<number[]> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await admin.raw<{ rows: { pid: number }[] }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = ? AND wait_event_type = 'Lock' ORDER BY backend_start",
        [appName],
      );
      if (rows.length >= count) return rows.map((r) => r.pid);
      await sleep(25);
    }
    throw new Error(`fewer than ${count} store backends waiting for the lock`);
  }

  async function terminate(pids: number[]): Promise<void> {
    for (const pid of pids) {
      const { rows } = await admin.raw<{ rows: { ok: boolean }[] }>('SELECT pg_terminate_backend(?) AS ok', [pid]);
      expect(rows[0]!.ok).toBe(true);
    }
  }

  /**
   * Holds the row lock `lock` takes, starts `ops` (they block on it), kills the first `kill` of the
   * store's waiting backends, then releases the lock. Returns each op's outcome.
   */
  async function killWhileBlocked<T>(
    lock: (trx: Knex.Transaction) => Promise<unknown>,
    ops: (() => Promise<T>)[],
    kill: number,
    beforeKill: (pids: number[]) => Promise<void> = async () => {},
  ) {
    const trx = await locker.transaction();
    let outcomes: PromiseSettledResult<T>[];
    try {
      await lock(trx);
      const running = Promise.allSettled(ops.map((op) => op()));
      const pids = await waitingStoreBackends(ops.length);
      await beforeKill(pids);
      await terminate(pids.slice(0, kill));
      // The killed ones fail before the lock goes away: they cannot have written anything.
      await sleep(100);
      await trx.rollback();
      outcomes = await running;
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
    return {
      values: outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])),
      errors: outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : [])),
    };
  }

  async function enrol(user: string) {
    const setup = await mfa.enroll(user, 'totp');
    const r = await mfa.confirm(user, setup.factorId, { code: await generateTotp(setup.secret, now, P) });
    if (!r.ok || !r.backupCodes) throw new Error('enrolment failed');
    return { secret: setup.secret, codes: r.backupCodes };
  }

  const lockCodes = (user: string) => (trx: Knex.Transaction) => trx(`${tablePrefix}backup_codes`).where({ user_id: user }).forUpdate().select('user_id');

  test('consumeBackupCode: 8 parallel spenders of one code, 4 killed while they wait → exactly one spends it', async () => {
    const user = `kill-consume-${id}`;
    await enrol(user);
    const set = (await store.getBackupCodes(user))!;
    const hash = set.hashes[0]!;
    const { values, errors } = await killWhileBlocked(lockCodes(user), Array.from({ length: 8 }, () => () => store.consumeBackupCode(user, hash, now)), 4);
    expect(errors).toHaveLength(4);
    for (const e of errors) expect(String(e.message)).toMatch(/terminat|Connection|ECONNRESET|closed/i);
    expect(values.filter(Boolean)).toHaveLength(1);
    // Spent once, and only that one: the next request on the pool works and sees it spent.
    expect(await store.consumeBackupCode(user, hash, now)).toBe(false);
    const after = (await store.getBackupCodes(user))!;
    expect(after.hashes).toEqual(set.hashes.slice(1));
  }, 30_000);

  test('login with a backup code, its connection killed while spending it → the code is not spent, the next login with it succeeds, a second use fails', async () => {
    const user = `kill-login-${id}`;
    const { codes } = await enrol(user);
    const start = await mfa.login.start(user);
    if (!start.required) throw new Error('no challenge');
    const { errors } = await killWhileBlocked(lockCodes(user), [() => mfa.login.verify(start.challengeToken, { method: 'backup_code', code: codes[0]! })], 1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'MfaError', code: 'store_unavailable' });
    expect(await mfa.backupCodes.remaining(user)).toBe(10);
    // A login takes its challenge before it spends the code, so the same challenge may be gone
    // (fail closed); whichever request comes next with the unspent code logs in, once.
    let retry = await mfa.login.verify(start.challengeToken, { method: 'backup_code', code: codes[0]! });
    if (!retry.ok) {
      expect(retry).toEqual({ ok: false, reason: 'challenge_expired' });
      const next = await mfa.login.start(user);
      if (!next.required) throw new Error('no challenge');
      retry = await mfa.login.verify(next.challengeToken, { method: 'backup_code', code: codes[0]! });
    }
    expect(retry.ok).toBe(true);
    const again = await mfa.login.start(user);
    if (!again.required) throw new Error('no challenge');
    expect((await mfa.login.verify(again.challengeToken, { method: 'backup_code', code: codes[0]! })).ok).toBe(false);
    expect(await mfa.backupCodes.remaining(user)).toBe(9);
  }, 30_000);

  test('takeChallenge: 8 parallel takers, 4 killed while they wait → exactly one takes it', async () => {
    const challenge = { id: `ch-${id}-take`, userId: `kill-take-${id}`, methods: ['totp'], createdAt: now, expiresAt: now + 300_000, attempts: 0 };
    await store.createChallenge(challenge, 300);
    const lock = (trx: Knex.Transaction) => trx(`${tablePrefix}challenges`).where({ id: challenge.id }).forUpdate().select('id');
    const { values, errors } = await killWhileBlocked(lock, Array.from({ length: 8 }, () => () => store.takeChallenge(challenge.id)), 4);
    expect(errors).toHaveLength(4);
    expect(values.filter(Boolean)).toHaveLength(1);
    expect(await store.getChallenge(challenge.id)).toBeNull();
    expect(await store.takeChallenge(challenge.id)).toBe(false);
  }, 30_000);

  test('a challenge whose only taker was killed is still there, and the next take wins', async () => {
    const challenge = { id: `ch-${id}-retry`, userId: `kill-take-${id}`, methods: ['totp'], createdAt: now, expiresAt: now + 300_000, attempts: 0 };
    await store.createChallenge(challenge, 300);
    const lock = (trx: Knex.Transaction) => trx(`${tablePrefix}challenges`).where({ id: challenge.id }).forUpdate().select('id');
    const { errors } = await killWhileBlocked(lock, [() => store.takeChallenge(challenge.id)], 1);
    expect(errors).toHaveLength(1);
    expect(await store.getChallenge(challenge.id)).toEqual(challenge);
    expect(await store.takeChallenge(challenge.id)).toBe(true);
  }, 30_000);

  test('regeneration killed between the statements of its transaction → the old set is whole, the new one absent; the next regeneration works', async () => {
    const user = `kill-regen-${id}`;
    const { secret, codes: oldCodes } = await enrol(user);
    const before = (await store.getBackupCodes(user))!;
    now += 30_000;
    // The set row is upserted first, then the DELETE of the codes waits for our lock: killed there.
    const proof = { code: await generateTotp(secret, now, P) };
    const { errors } = await killWhileBlocked(lockCodes(user), [() => mfa.backupCodes.regenerate(user, proof)], 1, async ([pid]) => {
      // Proof that the kill lands mid-transaction: the waiting backend has a transaction id (it wrote)
      // and holds the lock of its upsert of the set row.
      const { rows } = await admin.raw<{ rows: { xid: string | null; locks: string }[] }>(
        `SELECT a.backend_xid::text AS xid, (SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE l.pid = a.pid AND l.granted AND c.relname = ?) AS locks FROM pg_stat_activity a WHERE a.pid = ?`,
        [`${tablePrefix}backup_code_sets`, pid],
      );
      expect(rows[0]!.xid).not.toBeNull();
      expect(Number(rows[0]!.locks)).toBeGreaterThan(0);
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'MfaError', code: 'store_unavailable' });
    // All or nothing: the old salt and every old hash, unused.
    expect(await store.getBackupCodes(user)).toEqual(before);
    const rows = await db(`${tablePrefix}backup_codes`).where({ user_id: user }).count<{ n: string }[]>({ n: '*' });
    expect(Number(rows[0]!.n)).toBe(10);
    // The old codes still work.
    const s = await mfa.login.start(user);
    if (!s.required) throw new Error('no challenge');
    expect((await mfa.login.verify(s.challengeToken, { method: 'backup_code', code: oldCodes[0]! })).ok).toBe(true);
    // The next request succeeds and replaces the set entirely.
    now += 30_000;
    const again = await mfa.backupCodes.regenerate(user, { code: await generateTotp(secret, now, P) });
    if (!again.ok) throw new Error('regeneration failed');
    expect(await mfa.backupCodes.remaining(user)).toBe(10);
    const s2 = await mfa.login.start(user);
    if (!s2.required) throw new Error('no challenge');
    expect((await mfa.login.verify(s2.challengeToken, { method: 'backup_code', code: oldCodes[1]! })).ok).toBe(false);
    const s3 = await mfa.login.start(user);
    if (!s3.required) throw new Error('no challenge');
    expect((await mfa.login.verify(s3.challengeToken, { method: 'backup_code', code: again.backupCodes[0]! })).ok).toBe(true);
  }, 30_000);

  test('after every kill the pool serves 20 parallel requests without an error', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.getBackupCodes(`nobody-${i}`)));
    expect(results.every((r) => r === null)).toBe(true);
    const { rows } = await admin.raw<{ rows: { n: string }[] }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ?', [appName]);
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
  });
});
