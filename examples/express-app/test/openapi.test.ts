// examples/express-app/test/openapi.test.ts
// The example serves docs/openapi.yaml as JSON at /mfa/openapi.json, to anyone (no session needed).
import fs from 'node:fs';
import knexFactory from 'knex';
import request from 'supertest';
import { parse } from 'yaml';
import { consoleSender } from '@secondfactor/core';
import { createApp, type ExampleApp } from '../src/app';
import { OPENAPI_YAML } from '../src/openapi';

let example: ExampleApp;

beforeAll(async () => {
  example = createApp({
    knex: knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true }),
    keys: { mfaEncryptionKey: Buffer.alloc(32, 7).toString('base64'), mfaSigningKey: 'openapi-test-signing-key-of-at-least-32-chars', sessionSecret: 'openapi-test-session-secret-of-at-least-32-chars' },
    bcryptCost: 4,
    sms: consoleSender({ log: () => {} }),
    webauthn: { rpId: 'localhost', origins: ['http://localhost:3000'] },
  });
  await example.migrate();
});

afterAll(() => example.close());

test('GET /mfa/openapi.json is docs/openapi.yaml as JSON, describing the routes mounted under /mfa', async () => {
  const res = await request(example.app).get('/mfa/openapi.json').expect(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).toEqual(parse(fs.readFileSync(OPENAPI_YAML, 'utf8')));
  expect(res.body.openapi).toMatch(/^3\.1\./);
  expect(res.body.servers).toEqual([expect.objectContaining({ url: '/mfa' })]);
  // Each documented /mfa route exists in the app: it answers with secondfactor's own problem codes, never the host's 404.
  const routes = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
    .filter(([, item]) => item.servers === undefined) // /login is the host's route, documented with its own server
    .flatMap(([p, item]) => Object.keys(item).map((method) => [method, `/mfa${p.replace(/\{\w+\}/g, 'x')}`] as const));
  expect(routes.length).toBeGreaterThanOrEqual(16);
  // What is skipped is exactly what is mounted elsewhere: the host's /login and mfaAdminRouter()'s routes.
  const elsewhere = Object.entries(res.body.paths as Record<string, { servers?: { url: string }[] }>)
    .filter(([, item]) => item.servers !== undefined)
    .map(([p, item]) => `${item.servers!.map((s) => s.url).join(',')} ${p}`);
  expect(elsewhere.sort()).toEqual(['/ /login', '/admin/mfa /events', '/admin/mfa /stats', '/admin/mfa /users/{id}', '/admin/mfa /users/{id}/reset', '/admin/mfa /users/{id}/unlock']);
  // The example mounts mfaAdminRouter() at the documented /admin/mfa: each admin route is there, behind the host's login.
  for (const [p, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown> & { servers?: { url: string }[] }>)) {
    if (item.servers?.[0]?.url !== '/admin/mfa') continue;
    for (const method of Object.keys(item).filter((k) => k !== 'servers')) {
      const r = await request(example.app)[method as 'get' | 'post'](`/admin/mfa${p.replace(/\{\w+\}/g, 'x')}`).set('Content-Type', 'application/json').set('Accept', 'application/json').send(method === 'get' ? undefined : {});
      expect([method, p, r.status, r.body.code]).toEqual([method, p, 401, 'unauthenticated']);
    }
  }
  expect((await request(example.app).get('/admin/no-such-route').set('Accept', 'application/json')).status).toBe(404);
  const unknown = await request(example.app).post('/mfa/no-such-route').set('Content-Type', 'application/json').send({});
  expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']); // what a missing route looks like
  // Setup, confirm and challenge routes are mounted per factor type the server offers (this one:
  // security keys, no email codes): a documented route of a type it does not offer is a 404 like any unknown path.
  const offered = new Set(example.mfa.factorTypes.map((t) => t.type));
  const typeOf = (url: string) => /^\/mfa\/(?:challenge\/)?(\w+)(?:\/(?:setup|confirm))?$/.exec(url)?.[1];
  const perType = routes.filter(([, url]) => /\/(setup|confirm)$|\/challenge\//.test(url));
  expect(perType.map(([, url]) => typeOf(url))).toEqual(expect.arrayContaining(['totp', 'webauthn', 'sms', 'email']));
  for (const [method, url] of routes) {
    const r = await request(example.app)[method as 'get' | 'post' | 'delete'](url).set('Content-Type', 'application/json').send(method === 'get' ? undefined : {});
    const type = perType.some(([, u]) => u === url) ? typeOf(url) : undefined;
    if (type !== undefined && !offered.has(type)) {
      expect([url, r.status, r.body.code]).toEqual([url, 404, 'not_found']);
      continue;
    }
    expect([url, r.status, r.body.code]).not.toEqual([url, 404, 'not_found']);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  }
  expect(offered).toEqual(new Set(['totp', 'webauthn', 'sms', 'backup_code']));
});
