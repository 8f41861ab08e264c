// packages/express/test/input-validation.test.ts
// Every malformed input is 400 invalid_request naming the field (INP-01) — never a 500, never a
// stack trace — with and without express.json() installed by the host.
import express from 'express';
import request from 'supertest';
import { enrolTotpOverHttp, hostApp, type Host } from './support/host-app';
import { expectProblem } from './support/problems';

type Method = 'post' | 'delete';
interface Case {
  name: string;
  method?: Method;
  path: string;
  user?: boolean;
  body?: unknown;
  raw?: string;
  contentType?: string;
  field: string;
  /** Only without express.json() (body-level errors that body-parser reports itself). */
  rawOnly?: boolean;
}

const T = 'A'.repeat(43); // a well-formed (unknown) challenge token
const verify = (extra: Record<string, unknown>) => ({ challengeToken: T, method: 'totp', code: '123456', ...extra });

const cases: Case[] = [
  // /verify: the code
  { name: 'code as a JSON number', path: '/mfa/verify', body: verify({ code: 123456 }), field: 'code' },
  { name: 'code as an array', path: '/mfa/verify', body: verify({ code: ['123456'] }), field: 'code' },
  { name: 'code as an object (operator injection)', path: '/mfa/verify', body: verify({ code: { $gt: '' } }), field: 'code' },
  { name: 'code null', path: '/mfa/verify', body: verify({ code: null }), field: 'code' },
  { name: 'code true', path: '/mfa/verify', body: verify({ code: true }), field: 'code' },
  { name: 'code missing', path: '/mfa/verify', body: { challengeToken: T, method: 'totp' }, field: 'code' },
  { name: 'code empty', path: '/mfa/verify', body: verify({ code: '' }), field: 'code' },
  { name: 'code over 64 characters', path: '/mfa/verify', body: verify({ code: '1'.repeat(65) }), field: 'code' },
  { name: 'code 7 digits', path: '/mfa/verify', body: verify({ code: '1234567' }), field: 'code' },
  { name: 'code whitespace-padded', path: '/mfa/verify', body: verify({ code: ' 123456' }), field: 'code' },
  { name: 'code with a wildcard', path: '/mfa/verify', body: verify({ code: '12345*' }), field: 'code' },
  { name: 'code with a percent', path: '/mfa/verify', body: verify({ code: '12345%' }), field: 'code' },
  { name: 'code with non-ASCII digits', path: '/mfa/verify', body: verify({ code: '١٢٣٤٥٦' }), field: 'code' },
  { name: 'backup code of the wrong shape', path: '/mfa/verify', body: verify({ method: 'backup_code', code: 'XXXX' }), field: 'code' },
  // /verify: the other fields
  { name: 'challengeToken missing', path: '/mfa/verify', body: { method: 'totp', code: '123456' }, field: 'challengeToken' },
  { name: 'challengeToken a number', path: '/mfa/verify', body: verify({ challengeToken: 42 }), field: 'challengeToken' },
  { name: 'challengeToken an array', path: '/mfa/verify', body: verify({ challengeToken: [T] }), field: 'challengeToken' },
  { name: 'challengeToken too long', path: '/mfa/verify', body: verify({ challengeToken: 'A'.repeat(129) }), field: 'challengeToken' },
  { name: 'method unknown', path: '/mfa/verify', body: verify({ method: 'password' }), field: 'method' },
  { name: 'method a number', path: '/mfa/verify', body: verify({ method: 1 }), field: 'method' },
  { name: 'method missing', path: '/mfa/verify', body: { challengeToken: T, code: '123456' }, field: 'method' },
  { name: 'trustDevice a string', path: '/mfa/verify', body: verify({ trustDevice: 'true' }), field: 'trustDevice' },
  { name: 'trustDevice a number', path: '/mfa/verify', body: verify({ trustDevice: 1 }), field: 'trustDevice' },
  // the body itself
  { name: 'malformed JSON', path: '/mfa/verify', raw: '{"challengeToken": "x", "code":', field: 'body' },
  { name: 'a JSON array body', path: '/mfa/verify', raw: '[1,2,3]', field: 'body' },
  { name: 'a JSON string body', path: '/mfa/verify', raw: '"123456"', field: 'body', rawOnly: true },
  { name: 'a JSON null body', path: '/mfa/verify', raw: 'null', field: 'body', rawOnly: true },
  { name: 'JSON in another charset', path: '/mfa/verify', raw: JSON.stringify(verify({})), contentType: 'application/json; charset=latin1', field: 'body', rawOnly: true },
  { name: 'body over 16 kB', path: '/mfa/verify', raw: JSON.stringify(verify({ pad: 'x'.repeat(20_000) })), field: 'body', rawOnly: true },
  // enrolment and management routes (signed in)
  { name: 'label a number', path: '/mfa/totp/setup', user: true, body: { label: 7 }, field: 'label' },
  { name: 'label too long', path: '/mfa/totp/setup', user: true, body: { label: 'x'.repeat(65) }, field: 'label' },
  { name: 'label with control characters', path: '/mfa/totp/setup', user: true, body: { label: 'a\u0000b' }, field: 'label' },
  { name: 'factorId a number', path: '/mfa/totp/confirm', user: true, body: { factorId: 5, code: '123456' }, field: 'factorId' },
  { name: 'factorId missing', path: '/mfa/totp/confirm', user: true, body: { code: '123456' }, field: 'factorId' },
  { name: 'confirm code a number', path: '/mfa/totp/confirm', user: true, body: { factorId: 'f', code: 123456 }, field: 'code' },
  { name: 'phone a number', path: '/mfa/sms/setup', user: true, body: { phone: 14155550123 }, field: 'phone' },
  { name: 'phone not a number', path: '/mfa/sms/setup', user: true, body: { phone: 'call me' }, field: 'phone' },
  { name: 'phone a landline', path: '/mfa/sms/setup', user: true, body: { phone: '+442071838750' }, field: 'phone' },
  { name: 'phone missing', path: '/mfa/sms/setup', user: true, body: {}, field: 'phone' },
  { name: 'email an array', path: '/mfa/email/setup', user: true, body: { email: ['a@example.com'] }, field: 'email' },
  { name: 'email not an address', path: '/mfa/email/setup', user: true, body: { email: 'not-an-address' }, field: 'email' },
  { name: 'sms confirm code an object', path: '/mfa/sms/confirm', user: true, body: { factorId: 'f', code: {} }, field: 'code' },
  { name: 'email confirm factorId an array', path: '/mfa/email/confirm', user: true, body: { factorId: ['f'], code: '123456' }, field: 'factorId' },
  { name: 'challenge/sms token an object', path: '/mfa/challenge/sms', body: { challengeToken: {} }, field: 'challengeToken' },
  { name: 'challenge/email factorId a number', path: '/mfa/challenge/email', body: { challengeToken: T, factorId: 1 }, field: 'factorId' },
  { name: 'step-up code a number', path: '/mfa/step-up', user: true, body: { code: 123456 }, field: 'code' },
  { name: 'step-up code missing', path: '/mfa/step-up', user: true, body: {}, field: 'code' },
  { name: 'disable code a number', path: '/mfa/disable', user: true, body: { code: 123456 }, field: 'code' },
  { name: 'disable password a number', path: '/mfa/disable', user: true, body: { password: 123 }, field: 'password' },
  { name: 'disable password too long', path: '/mfa/disable', user: true, body: { password: 'x'.repeat(1025) }, field: 'password' },
  { name: 'regenerate assertion an object', path: '/mfa/backup-codes/regenerate', user: true, body: { assertion: {} }, field: 'assertion' },
  { name: 'regenerate code an array', path: '/mfa/backup-codes/regenerate', user: true, body: { code: ['1', '2'] }, field: 'code' },
  { name: 'remove factor code over 64', method: 'delete', path: '/mfa/factors/f1', user: true, body: { code: '9'.repeat(65) }, field: 'code' },
  { name: 'remove factor id over 128', method: 'delete', path: `/mfa/factors/${'f'.repeat(129)}`, user: true, body: { code: '123456' }, field: 'id' },
  { name: 'revoke device id over 128', method: 'delete', path: `/mfa/trusted-devices/${'d'.repeat(129)}`, user: true, field: 'id' },
];

async function run(host: Host, c: Case) {
  return host.call(c.method ?? 'post', c.path, {
    ...(c.user ? { user: 'alice' } : {}),
    ...(c.raw !== undefined ? { raw: c.raw, contentType: c.contentType ?? 'application/json' } : c.body !== undefined ? { body: c.body } : {}),
  });
}

describe.each([
  ['without express.json()', false],
  ['with express.json()', true],
])('malformed input %s', (_label, json) => {
  let host: Host;
  beforeAll(async () => {
    host = hostApp({ json, router: { allowPasswordToDisable: true } });
    await enrolTotpOverHttp(host, 'alice');
  });

  test.each(cases.filter((c) => !json || !c.rawOnly).map((c) => [c.name, c] as const))('%s → 400 invalid_request', async (_name, c) => {
    const res = await run(host, c);
    expectProblem(res, 400, 'invalid_request', c.field);
    expect(host.routerErrors).toEqual([]);
  });

  test('nothing was changed by any of them and no attempt was counted', async () => {
    const res = await host.call('get', '/mfa/status', { user: 'alice' });
    expect(res.body).toMatchObject({ enabled: true, backupCodesRemaining: 10, locked: false });
    expect(host.events.filter((e) => e.type === 'mfa.failed')).toEqual([]);
  });
});

test('express.json() errors reach mfaErrorHandler as 400 invalid_request (field body)', async () => {
  const host = hostApp({ json: true });
  for (const raw of ['{"code":', '[1', 'nul']) {
    expectProblem(await host.call('post', '/mfa/verify', { raw }), 400, 'invalid_request', 'body');
  }
  const tooBig = await host.call('post', '/mfa/verify', { raw: JSON.stringify({ pad: 'x'.repeat(200_000) }) });
  expectProblem(tooBig, 400, 'invalid_request', 'body');
  expect(host.hostErrors).toEqual([]);
});

test('a JSON body the host parsed into something else (express.text()) is refused, not coerced', async () => {
  const host = hostApp();
  const app = express();
  app.use(express.text({ type: '*/*' }));
  app.use(host.app);
  const res = await request(app).post('/mfa/verify').set('Content-Type', 'application/json').send('{"challengeToken":"x","method":"totp","code":"123456"}');
  expectProblem(res, 400, 'invalid_request', 'body');
});

describe('routes read JSON only: 415 for form and text bodies, whatever parser the host mounted (#9.7)', () => {
  const form = { phone: '+14155550123' };
  test.each([
    ['no parser', (_app: express.Express) => undefined],
    ['express.urlencoded()', (app: express.Express) => void app.use(express.urlencoded({ extended: false }))],
    ['express.text()', (app: express.Express) => void app.use(express.text())],
  ])('with %s: a cross-site form post sends no SMS and changes nothing', async (_name, mount) => {
    const host = hostApp();
    const app = express();
    mount(app);
    app.use(host.app);
    const urlencoded = await request(app).post('/mfa/sms/setup').set('x-user', 'alice').type('form').send(form);
    expectProblem(urlencoded, 415, 'unsupported_media_type');
    const text = await request(app).post('/mfa/sms/setup').set('x-user', 'alice').set('Content-Type', 'text/plain').send(JSON.stringify(form));
    expectProblem(text, 415, 'unsupported_media_type');
    const multipart = await request(app).post('/mfa/sms/setup').set('x-user', 'alice').field('phone', form.phone);
    expectProblem(multipart, 415, 'unsupported_media_type');
    expect(host.outbox).toEqual([]);
    expect(await host.h.store.listFactors('alice')).toEqual([]);
    // The same request as JSON is what the route reads.
    expect((await request(app).post('/mfa/sms/setup').set('x-user', 'alice').send(form)).status).toBe(200);
  });
});

test('an empty body is an empty object: the first missing field is named', async () => {
  const host = hostApp();
  expectProblem(await host.call('post', '/mfa/verify', {}), 400, 'invalid_request', 'challengeToken');
  expectProblem(await host.call('post', '/mfa/verify', { raw: '' }), 400, 'invalid_request', 'challengeToken');
  expectProblem(await host.call('post', '/mfa/verify', { raw: '   ' }), 400, 'invalid_request', 'challengeToken');
});

describe('findings of the HTTP fuzz (test/fuzz/http-routes.test.ts)', () => {
  test.each(['/mfa/factors/%FF', '/mfa/trusted-devices/%E0%A4%A', '/mfa/factors/%'])('DELETE %s (not valid percent-encoding) is 400 invalid_request, not 500', async (path) => {
    const host = hostApp();
    const res = await host.call('delete', path, { user: 'alice' });
    expectProblem(res, 400, 'invalid_request', 'id');
    expect(host.routerErrors).toEqual([]);
  });

  test.each(['gzip', 'deflate', 'br'])('a body that claims %s but is not, on the host’s express.json() route, is 400 invalid_request from mfaErrorHandler', async (encoding) => {
    const host = hostApp();
    const res = await request(host.app).post('/login').set('Content-Type', 'application/json').set('Content-Encoding', encoding).send('{}');
    expectProblem(res, 400, 'invalid_request', 'body');
    expect(host.hostErrors).toEqual([]);
  });
});
