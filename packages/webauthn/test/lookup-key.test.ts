// packages/webauthn/test/lookup-key.test.ts
// One credential, one user — with credential ids as long as WebAuthn allows (1023 bytes, 1364
// base64url characters), on every store: memory, and knex on SQLite, PostgreSQL and MariaDB, whose
// lookup_key column holds 512 characters. The plugin's lookupKey is the SHA-256 of the id (43
// characters); the id itself stays in the factor's data for allowCredentials and matching. And,
// on each store, ten parallel copies of one valid assertion log in exactly once.
import { createHash, randomBytes } from 'node:crypto';
import { knexStore, migrate } from '@secondfactor/knex';
import type { MfaStore } from '@secondfactor/core';
import { describeBackend, openDatabase, type Backend, type TestDatabase } from '../../knex/test/support/databases';
import { expectProblem } from '../../express/test/support/problems';
import { enrolKey, loginOptions, ORIGIN, setupKey, startLogin, verify, webauthnHost } from './support/http';
import { SoftAuthenticator } from './support/soft-authenticator';

const sha256Key = (id: Uint8Array) => createHash('sha256').update(id).digest('base64url');

type StoreUnderTest = { store: () => MfaStore | undefined; backend: string; cleanup?: () => Promise<void> };

function lookupKeyTests(name: string, describeIt: (name: string, fn: () => void) => void, open: () => Promise<StoreUnderTest>) {
  describeIt(`webauthn lookup keys and races on ${name}`, () => {
    let current: StoreUnderTest;
    beforeEach(async () => {
      current = await open();
    });
    afterEach(async () => {
      await current.cleanup?.();
    });
    const host = () => {
      const store = current.store();
      return webauthnHost(store ? { store } : {});
    };

    test('a 1023-byte credential id enrols, is listed, logs in; the lookup key is its SHA-256 (43 characters), the id is kept whole', async () => {
      const h = host();
      const id = randomBytes(1023);
      const key = new SoftAuthenticator();
      const { factorId } = await enrolKey(h, 'alice', key, { label: 'Long id' }, { credentialId: id });
      expect(key.credentials[0]!.id).toHaveLength(1364);

      const stored = (await h.h.store.getFactor('alice', factorId))!;
      expect(stored.lookupKey).toBe(sha256Key(id));
      expect(stored.lookupKey).toHaveLength(43);
      expect(stored.data.credentialId).toBe(Buffer.from(id).toString('base64url'));

      const token = await startLogin(h, 'alice');
      const options = await loginOptions(h, token);
      expect(options.allowCredentials).toEqual([{ id: key.credentials[0]!.id, type: 'public-key', transports: ['usb'] }]);
      const ok = await verify(h, token, key.get(options, { origin: ORIGIN }));
      expect(ok.status).toBe(200);
      expect((await h.h.store.getFactor('alice', factorId))!.counter).toBe(1);
      expect(h.routerErrors).toEqual([]);
    });

    test('the same credential id registered by a second user → 409 already_enrolled; the first user keeps it', async () => {
      const h = host();
      const id = randomBytes(1023);
      const alices = new SoftAuthenticator();
      await enrolKey(h, 'alice', alices, {}, { credentialId: id });
      // Bob's authenticator (a new key pair) claims alice's credential id, validly attested.
      const { factorId, options } = await setupKey(h, 'bob');
      const claim = await h.call('post', '/mfa/webauthn/confirm', { user: 'bob', body: { factorId, response: new SoftAuthenticator().create(options, { origin: ORIGIN, credentialId: id }) } });
      expectProblem(claim, 409, 'already_enrolled');
      expect(await h.h.store.listFactors('bob')).toEqual([]);
      expect((await h.call('get', '/mfa/status', { user: 'bob' })).body).toMatchObject({ enabled: false });
      // Alice's key still logs her in.
      const token = await startLogin(h, 'alice');
      expect((await verify(h, token, alices.get(await loginOptions(h, token), { origin: ORIGIN }))).status).toBe(200);
      expect(h.routerErrors).toEqual([]);
    });

    test('two 1023-byte ids that differ only in their last byte are two credentials (nothing truncated)', async () => {
      const h = host();
      const a = randomBytes(1023);
      const b = Buffer.from(a);
      b[1022] = (b[1022]! + 1) % 256;
      await enrolKey(h, 'alice', new SoftAuthenticator(), {}, { credentialId: a });
      await enrolKey(h, 'bob', new SoftAuthenticator(), {}, { credentialId: b });
      const keys = [...(await h.h.store.listFactors('alice')), ...(await h.h.store.listFactors('bob'))].map((f) => f.lookupKey);
      expect(keys).toEqual([sha256Key(a), sha256Key(b)]);
    });

    test('ten parallel /verify with the same valid response → exactly one 200, the counter advanced once', async () => {
      const h = host();
      const key = new SoftAuthenticator();
      const { factorId } = await enrolKey(h, 'alice', key, {}, { credentialId: randomBytes(1023) });
      const token = await startLogin(h, 'alice');
      const response = key.get(await loginOptions(h, token), { origin: ORIGIN });
      const results = await Promise.all(Array.from({ length: 10 }, () => verify(h, token, response)));
      expect(results.map((r) => r.status).filter((s) => s === 200)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) expect([401, 429]).toContain(r.status);
      expect(h.events.filter((e) => e.type === 'mfa.verified')).toHaveLength(1);
      expect((await h.h.store.getFactor('alice', factorId))!.counter).toBe(1);
      expect(h.routerErrors).toEqual([]);
    });
  });
}

lookupKeyTests('the memory store', describe, async () => ({ backend: 'memory', store: () => undefined }));

const SQL: Backend[] = ['sqlite-memory', 'postgres', 'mariadb'];
for (const backend of SQL) {
  lookupKeyTests(`knex (${backend})`, describeBackend(backend), async () => {
    const database: TestDatabase = await openDatabase(backend, `wa${randomBytes(3).toString('hex')}_`);
    await migrate(database.db, { tablePrefix: database.tablePrefix });
    const store = knexStore(database.db, { tablePrefix: database.tablePrefix });
    return { backend, store: () => store, cleanup: () => database.drop() };
  });
}
