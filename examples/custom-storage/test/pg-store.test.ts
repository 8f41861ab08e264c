// examples/custom-storage/test/pg-store.test.ts
// The custom PostgreSQL adapter against a real PostgreSQL: the whole storage conformance kit,
// then a full createMfa flow (TOTP enrolment, login, backup code) on top of it. Each run gets
// its own random schema, dropped afterwards.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { backupCodes, createMfa, generateTotp, MfaError, totp, type Mfa } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';
import { createSchema, dropSchema, pgStore } from '../src';
import { describeWithService, POSTGRES_URL } from '../../../test/support/services';

const randomSchema = () => `sf_custom_${randomBytes(4).toString('hex')}`;

/** A pool and a fresh schema with the tables; `drop()` removes both. */
async function openSchema() {
  const pool = new Pool({ connectionString: POSTGRES_URL, max: 10 });
  const schema = randomSchema();
  await createSchema(pool, schema);
  return {
    pool,
    schema,
    async drop() {
      try {
        await dropSchema(pool, schema);
      } finally {
        await pool.end();
      }
    },
  };
}

const TOTP = { algorithm: 'SHA1', digits: 6, periodSeconds: 30 } as const;

describeWithService('PostgreSQL', POSTGRES_URL)('custom pg adapter (examples/custom-storage)', () => {
  runStoreConformance('custom pg adapter', async () => {
    const db = await openSchema();
    return { store: pgStore(db.pool, { schema: db.schema }), cleanup: () => db.drop() };
  });

  describe('createMfa on the custom store', () => {
    let db: Awaited<ReturnType<typeof openSchema>>;
    let now = Date.UTC(2026, 0, 1, 0, 0, 10); // a fake clock, 10 s into a 30 s step
    let mfa: Mfa;

    beforeAll(async () => {
      db = await openSchema();
      mfa = createMfa({
        issuer: 'Acme Co',
        store: pgStore(db.pool, { schema: db.schema }),
        encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 1).toString('base64') } },
        signingKey: 'test-signing-key-with-at-least-32-characters!',
        factors: [totp(), backupCodes({ bcryptCost: 4 })],
        clock: () => now,
      });
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('enrols TOTP, logs in with a code, rejects its replay, and accepts a backup code once', async () => {
      const userId = `user-${randomBytes(4).toString('hex')}`;

      // Enrol and confirm: activateFactor + advanceFactorCounter, and the first backup code set.
      const enrollment = await mfa.enroll(userId, 'totp', { label: 'Phone', accountName: `${userId}@example.com` });
      const confirmed = await mfa.confirm(userId, enrollment.factorId, { code: await generateTotp(enrollment.secret, now, TOTP) });
      expect(confirmed.ok).toBe(true);
      if (!confirmed.ok) return;
      const backupCodes = confirmed.backupCodes ?? [];
      expect(backupCodes).toHaveLength(10);

      // The secret is stored encrypted, never as the base32 the user scanned.
      const stored = await db.pool.query<{ secret: string }>(`SELECT secret FROM "${db.schema}".factors WHERE user_id = $1`, [userId]);
      expect(stored.rows[0]?.secret).toMatch(/^v1\.k1\./);
      expect(stored.rows[0]?.secret).not.toContain(enrollment.secret);

      now += 30_000; // next time step: the confirming code's step is behind us

      // Login: a challenge (createChallenge), then a TOTP code (advanceFactorCounter, takeChallenge).
      const start = await mfa.login.start(userId);
      if (!start.required) throw new Error('expected a challenge');
      const code = await generateTotp(enrollment.secret, now, TOTP);
      const verified = await mfa.login.verify(start.challengeToken, { method: 'totp', code });
      expect(verified).toMatchObject({ ok: true, userId });
      // The challenge was taken: it cannot complete a second login.
      expect(await mfa.login.verify(start.challengeToken, { method: 'totp', code })).toMatchObject({ ok: false, reason: 'challenge_expired' });

      // The same code on a new challenge is a replay (the stored last_step) and fails.
      const second = await mfa.login.start(userId);
      if (!second.required) throw new Error('expected a challenge');
      expect(await mfa.login.verify(second.challengeToken, { method: 'totp', code })).toMatchObject({ ok: false, reason: 'invalid_code' });

      // A backup code works once (consumeBackupCode), on this challenge.
      const backup = await mfa.login.verify(second.challengeToken, { method: 'backup_code', code: backupCodes[0]! });
      expect(backup).toMatchObject({ ok: true, userId });
      const third = await mfa.login.start(userId);
      if (!third.required) throw new Error('expected a challenge');
      expect(await mfa.login.verify(third.challengeToken, { method: 'backup_code', code: backupCodes[0]! }))
        .toMatchObject({ ok: false, reason: 'invalid_code' });

      const status = await mfa.status(userId);
      expect(status).toMatchObject({ enabled: true, backupCodesRemaining: 9, locked: false });
      expect(status.factors).toHaveLength(1);
    });
  });

  // What this adapter adds beyond the contract (physical expiry, purgeExpired), which the kit does not see.
  describe('beyond the kit', () => {
    let db: Awaited<ReturnType<typeof openSchema>>;
    beforeAll(async () => {
      db = await openSchema();
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('treats rows past their TTL as absent, and purgeExpired() deletes them', async () => {
      const store = pgStore(db.pool, { schema: db.schema });
      const challenge = { id: `ch-${randomBytes(4).toString('hex')}`, userId: 'u', methods: ['totp'], createdAt: 1, expiresAt: 2, attempts: 0 };
      await store.createChallenge(challenge, 0); // purge_at = now: expired at once
      await store.putFactorState('login:expired', { type: 'sms', secret: 'h', purpose: 'login', factorId: 'f', userId: 'u', createdAt: 1, expiresAt: 2, attempts: 0 }, 0);
      expect(await store.getChallenge(challenge.id)).toBeNull();
      expect(await store.incrementChallengeAttempts(challenge.id)).toBeNull();
      expect(await store.takeChallenge(challenge.id)).toBe(false);
      expect(await store.consumeFactorState('login:expired', 'h')).toBe(false);
      expect(await store.purgeExpired()).toBe(2);
      const left = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".challenges`);
      expect(left.rows[0]).toEqual({ n: 0 });
    });

    it('createSchema gives a schema from before the audit log (#11) the events table and the new indexes', async () => {
      const old = await openSchema();
      try {
        const q = (name: string) => `"${old.schema}".${name}`;
        await old.pool.query(`DROP TABLE ${q('events')}`);
        await old.pool.query(`DROP INDEX ${q('factors_status_type_idx')}`);
        const indexes = async () => (await old.pool.query<{ indexname: string }>(
          'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname NOT LIKE $2 ORDER BY indexname', [old.schema, '%_pkey'],
        )).rows.map((r) => r.indexname);
        expect(await indexes()).not.toContain('factors_status_type_idx');
        const store = pgStore(old.pool, { schema: old.schema });
        await store.createFactor({
          id: 'f1', userId: 'u1', type: 'totp', label: null, status: 'active', secret: 's', data: {}, counter: null, lookupKey: null,
          createdAt: 1, confirmedAt: 1, lastUsedAt: null,
        });
        await expect(store.listEvents({ limit: 1 })).rejects.toThrow(/events/);

        await createSchema(old.pool, old.schema);
        expect(await indexes()).toEqual(expect.arrayContaining(['events_at_idx', 'events_day_idx', 'events_user_idx', 'factors_status_type_idx']));
        const event = {
          id: 'e1', at: 5, day: 0, type: 'mfa.verified', userId: 'u1', outcome: 'success' as const, factorId: 'f1', factorType: 'totp',
          reason: null, purpose: 'login', ip: null, userAgent: null, actor: null, detail: null,
        };
        await store.appendEvent(event);
        expect(await store.listEvents({ userId: 'u1', limit: 5 })).toEqual([event]);
        expect(await store.countMfaUsers()).toEqual({ users: 1, byType: [{ type: 'totp', users: 1 }] });
      } finally {
        await old.drop();
      }
    });
  });
});

describe('custom pg adapter when PostgreSQL is down', () => {
  it('fails closed: with the database unreachable, login.start throws store_unavailable', async () => {
    // Nothing listens on port 1: every query fails to connect.
    const pool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 1000 });
    try {
      const mfa = createMfa({
        issuer: 'Acme Co',
        store: pgStore(pool),
        encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 1).toString('base64') } },
        signingKey: 'test-signing-key-with-at-least-32-characters!',
      });
      const error: unknown = await mfa.login.start('alice').then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(MfaError);
      expect((error as MfaError).code).toBe('store_unavailable');
    } finally {
      await pool.end();
    }
  });
});
