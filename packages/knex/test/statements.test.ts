// How many SQL statements one login verification costs on the knex store (SQLite), counted from
// knex's query events: a guard against regressions on the hot path (#13), not a timing test.
import knex, { type Knex } from 'knex';
import { backupCodes, createMfa, generateTotp, totp } from '@secondfactor/core';
import { knexStore, migrate } from '../src';

const PARAMS = { algorithm: 'SHA1', digits: 6, periodSeconds: 30 } as const;
const CONTEXT = { ip: '192.0.2.10', userAgent: 'statements-test' };

let db: Knex;
beforeAll(async () => {
  db = knex({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  await migrate(db);
});
afterAll(() => db.destroy());

// Since #11 each answer also stores its event in the audit log (one INSERT). Since #13's one attempt
// state per user (its clients' counts inside it), a valid code costs 9 + 1 and a wrong one 8 + 1.
test('POST /verify costs at most 10 statements with a valid TOTP code and 9 with a wrong one (audit log included)', async () => {
  let t = Date.UTC(2026, 0, 1, 0, 0, 10);
  const mfa = createMfa({
    issuer: 'Count', store: knexStore(db), encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } },
    signingKey: 'statements-test-signing-key-0123456789abcdef', clock: () => t, factors: [totp(), backupCodes({ bcryptCost: 4 })],
  });
  const e = await mfa.enroll('u1', 'totp');
  expect((await mfa.confirm('u1', e.factorId, { code: await generateTotp(e.secret, t, PARAMS) })).ok).toBe(true);
  t += 30_000;
  const statements: string[] = [];
  db.on('query', (q: { sql: string }) => statements.push(q.sql));
  const count = async (code: () => Promise<string>) => {
    const s = await mfa.login.start('u1', { context: CONTEXT });
    if (!s.required) throw new Error('expected a challenge');
    const c = await code();
    statements.length = 0;
    const r = await mfa.login.verify(s.challengeToken, { method: 'totp', code: c }, CONTEXT);
    return { ok: r.ok, n: statements.length };
  };
  const valid = await count(() => generateTotp(e.secret, t, PARAMS));
  expect(valid.ok).toBe(true);
  expect(valid.n).toBeLessThanOrEqual(10);
  expect(statements.filter((q) => /insert into \S*events\b/i.test(q))).toHaveLength(1);
  const wrong = await count(async () => '000000');
  expect(wrong.ok).toBe(false);
  expect(wrong.n).toBeLessThanOrEqual(9);
});

// Group commit: the audit events of logins answered together are stored by one INSERT (one
// commit), and every verification answers only after its event is stored.
test('the events of 12 verifications in parallel are stored by one INSERT, each before its verification answers', async () => {
  let t = Date.UTC(2026, 0, 2, 0, 0, 10);
  const store = knexStore(db);
  const mfa = createMfa({
    issuer: 'Count', store, encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } },
    signingKey: 'statements-test-signing-key-0123456789abcdef', clock: () => t, factors: [totp()],
  });
  const users = Array.from({ length: 12 }, (_, i) => `parallel-${i}`);
  const logins = [];
  for (const u of users) {
    const e = await mfa.enroll(u, 'totp');
    expect((await mfa.confirm(u, e.factorId, { code: await generateTotp(e.secret, t, PARAMS) })).ok).toBe(true);
    logins.push({ u, secret: e.secret });
  }
  t += 30_000;
  const started = [];
  for (const { u, secret } of logins) {
    const s = await mfa.login.start(u, { context: CONTEXT });
    if (!s.required) throw new Error('expected a challenge');
    started.push({ u, token: s.challengeToken, code: await generateTotp(secret, t, PARAMS) });
  }
  const inserts: number[] = [];
  const onQuery = (q: { sql: string; bindings: unknown[] }) => {
    if (/insert into \S*events\b/i.test(q.sql)) inserts.push(q.bindings.length / 14);
  };
  db.on('query', onQuery);
  try {
    const stored = await Promise.all(started.map(async ({ u, token, code }) => {
      const r = await mfa.login.verify(token, { method: 'totp', code }, CONTEXT);
      expect(r.ok).toBe(true);
      // Listed as soon as the verification answered.
      return (await store.listEvents({ userId: u, limit: 10 })).filter((e) => e.type === 'mfa.verified').length;
    }));
    expect(stored).toEqual(users.map(() => 1));
  } finally {
    db.off('query', onQuery);
  }
  expect(inserts).toEqual([12]);
});

// SQLite (3.47 and later) plans with the value bound to a LIMIT, so a statement whose LIMIT is a
// bound parameter is prepared again on every execution: the store's single-row reads write
// `LIMIT 1` into their SQL instead (#13).
test('no statement of an enrolment or a login binds its LIMIT', async () => {
  let t = Date.UTC(2026, 0, 3, 0, 0, 10);
  const mfa = createMfa({
    issuer: 'Count', store: knexStore(db), encryptionKeys: { current: 'k', keys: { k: Buffer.alloc(32, 1).toString('base64') } },
    signingKey: 'statements-test-signing-key-0123456789abcdef', clock: () => t, factors: [totp(), backupCodes({ bcryptCost: 4 })],
  });
  const statements: string[] = [];
  const onQuery = (q: { sql: string }) => statements.push(q.sql);
  db.on('query', onQuery);
  try {
    const e = await mfa.enroll('limits', 'totp');
    const confirmed = await mfa.confirm('limits', e.factorId, { code: await generateTotp(e.secret, t, PARAMS) });
    if (!confirmed.ok) throw new Error('expected the factor to be confirmed');
    t += 30_000;
    for (const code of ['000000', await generateTotp(e.secret, t, PARAMS)]) {
      const s = await mfa.login.start('limits', { context: CONTEXT });
      if (!s.required) throw new Error('expected a challenge');
      expect((await mfa.login.verify(s.challengeToken, { method: 'totp', code }, CONTEXT)).ok).toBe(code !== '000000');
    }
    const s = await mfa.login.start('limits', { context: CONTEXT });
    if (!s.required) throw new Error('expected a challenge');
    expect((await mfa.login.verify(s.challengeToken, { method: 'backup_code', code: confirmed.backupCodes?.[0] ?? '' }, CONTEXT)).ok).toBe(true);
  } finally {
    db.off('query', onQuery);
  }
  const limited = statements.filter((q) => /\blimit\b/i.test(q));
  // The login's reads of its challenge, attempt state and counter, at least, each time.
  expect(limited.length).toBeGreaterThanOrEqual(9);
  expect(limited.filter((q) => !/\blimit 1$/i.test(q))).toEqual([]);
});
