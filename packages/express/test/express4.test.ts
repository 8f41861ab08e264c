// packages/express/test/express4.test.ts
// The same package on Express 4: `express` (the peer the package imports) resolves to Express
// 4.22 here, as it would in an Express 4 host. Async errors must reach the error handlers,
// which Express 4 does not do by itself for rejected promises.
jest.mock('express', () => jest.requireActual('express4'));

import express from 'express';
import request from 'supertest';
import { mfaGate, requireMfa, mfaErrorHandler } from '../src';
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode, setCookies } from './support/host-app';
import { expectProblem } from './support/problems';
import { wholeFlow } from './support/whole-flow';

test('this suite really runs on Express 4', () => {
  const v4 = jest.requireActual<{ version: string }>('express4/package.json').version;
  expect(v4).toMatch(/^4\./);
  expect(express).toBe(jest.requireActual('express4'));
  // Express 5 removed app.del; Express 4 still has it.
  expect(typeof (express() as unknown as { del?: unknown }).del).toBe('function');
});

describe('whole flow on Express 4', () => {
  test('without express.json()', async () => {
    const host = hostApp({ json: false });
    await wholeFlow(host);
    expect(host.routerErrors).toEqual([]);
    expect(host.hostErrors).toEqual([]);
  });

  test('with express.json() (body-parser 1.x)', async () => {
    const host = hostApp({ json: true });
    await wholeFlow(host, 'bob');
    expect(host.routerErrors).toEqual([]);
  });
});

describe('async errors on Express 4', () => {
  test('a store outage inside an async route reaches the router error handler: 503 problem', async () => {
    const host = hostApp();
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const challengeToken = await challengeFor(host, 'alice');
    host.broken.add('*');
    expectProblem(await host.call('get', '/mfa/status', { user: 'alice' }), 503, 'store_unavailable');
    expectProblem(await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret) } }), 503, 'store_unavailable');
    expect(host.routerErrors).toHaveLength(2);
  });

  test('an async throw in onLoginComplete reaches the router error handler: bare 500 problem, without the login\'s cookies', async () => {
    const host = hostApp({ cookie: { secure: false }, router: { assertionCookie: { secure: false }, onLoginComplete: async () => { await Promise.resolve(); throw new Error('boom'); } } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const challengeToken = await challengeFor(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code: nextCode(host, secret), trustDevice: true } });
    expectProblem(res, 500, 'internal_error');
    expect(setCookies(res)).toEqual([]);
    expect((host.routerErrors[0] as Error).message).toBe('boom');
  });

  test('onLoginComplete answering a redirect on Express 4 carries the login\'s cookies', async () => {
    const host = hostApp({ cookie: { secure: false }, router: { assertionCookie: { secure: false }, onLoginComplete: (_req, res) => res.redirect('/home') } });
    const { secret } = await enrolTotpOverHttp(host, 'alice');
    const res = await host.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: nextCode(host, secret), trustDevice: true } });
    expect(res.status).toBe(302);
    expect(setCookies(res).map((c) => c.split('=')[0])).toEqual(['sf_td', 'sf_mfa']);
  });

  test('gate and requireMfa: async errors reach the host error handler, nothing passes', async () => {
    const host = hostApp();
    await enrolTotpOverHttp(host, 'alice');
    const app = express();
    const reached: string[] = [];
    let passed = 0;
    const pass = (_req: unknown, res: { json(b: unknown): void }) => { passed++; res.json({ ok: true }); };
    app.post('/login', (_req, res, next) => { res.locals.userId = 'alice'; next(); }, mfaGate(host.mfa), pass);
    app.post('/login-rejects', mfaGate(host.mfa, { getUserId: () => Promise.reject(new Error('session lookup failed')) }), pass);
    app.get('/admin', requireMfa(host.mfa, { getUserId: async () => { throw new Error('who are you'); } }), pass);
    app.use(mfaErrorHandler());
    app.use((err: Error, _req: unknown, res: { status(n: number): { json(b: unknown): void } }, _next: unknown) => {
      reached.push(err.message);
      res.status(500).json({ host: true });
    });
    host.broken.add('listFactors');
    expectProblem(await request(app).post('/login'), 503, 'store_unavailable');
    expect((await request(app).post('/login-rejects')).status).toBe(500);
    // requireMfa only asks getUserId for a valid assertion.
    const token = (await host.mfa.assertions.issue('alice', ['otp'])).assertion;
    expect((await request(app).get('/admin').set('Authorization', `Bearer ${token}`)).status).toBe(500);
    expect(reached).toEqual(['session lookup failed', 'who are you']);
    expect(passed).toBe(0);
  });

  test('malformed input is still 400 invalid_request, with and without express.json()', async () => {
    for (const json of [false, true]) {
      const host = hostApp({ json });
      expectProblem(await host.call('post', '/mfa/verify', { body: { challengeToken: 'A'.repeat(43), method: 'totp', code: 123456 } }), 400, 'invalid_request', 'code');
      expectProblem(await host.call('post', '/mfa/verify', { raw: '{"code":' }), 400, 'invalid_request', 'body');
      expectProblem(await host.call('post', '/mfa/verify', { raw: '[]' }), 400, 'invalid_request', 'body');
      expectProblem(await host.call('post', '/mfa/verify', { raw: '{"challengeToken":"x"}', contentType: 'text/plain' }), 415, 'unsupported_media_type');
    }
  });
});
