// packages/express/test/options.test.ts
// The factories validate their options once, at startup, with errors that name the option;
// the exports and the typed `req.mfa` are what the docs promise.
import express, { type Request } from 'express';
import request from 'supertest';
import { generateTotp } from '@secondfactor/core';
import * as pkg from '../src';
import { mfaGate, mfaRouter, requireMfa, mfaErrorHandler, problem, PROBLEM_STATUS, type MfaState } from '../src';
import { setup } from '../../core/test/support/harness';

const { mfa } = setup();
const getUserId = (req: Request) => req.get('x-user');

test('the package exports the documented API', () => {
  expect(Object.keys(pkg).sort()).toEqual(
    [
      'PROBLEM_STATUS', 'ProblemError', 'clearAssertionCookie', 'describeError', 'failureProblem', 'handleAsyncErrors', 'mfaAdminRouter', 'mfaErrorHandler', 'mfaGate', 'mfaRouter', 'problem',
      'problemForError', 'requireMfa', 'sendProblem',
    ].sort(),
  );
  expect(mfaRouter(mfa, { getUserId }).name).toBe('router');
  expect(mfaGate(mfa).name).toBe('mfaGateMiddleware');
  expect(requireMfa(mfa, { getUserId }).name).toBe('requireMfaMiddleware');
  expect(mfaErrorHandler().name).toBe('mfaErrorHandlerMiddleware');
});

test.each([
  ['mfaRouter without getUserId', () => mfaRouter(mfa, {} as never), /option `getUserId` is required/],
  ['mfaRouter with a misspelt option', () => mfaRouter(mfa, { getUserId, getUserid: getUserId } as never), /unsupported property, `getUserid`\. Did you mean to pass `getUserId`\?/],
  ['mfaRouter with a non-function hook', () => mfaRouter(mfa, { getUserId, verifyPassword: true } as never), /`verifyPassword` must be a function/],
  ['mfaRouter with maxAgeForProofSeconds above core’s bound', () => mfaRouter(mfa, { getUserId, maxAgeForProofSeconds: 3600 }), /maxAgeForProofSeconds/],
  ['mfaRouter without an engine', () => mfaRouter({} as never, { getUserId }), /expects the engine returned by createMfa/],
  ['a secure cookie on a sub-path (no __Host-)', () => mfaRouter(mfa, { getUserId, cookie: { path: '/app' } }), /cookie\.path/],
  ['SameSite=None without Secure', () => mfaGate(mfa, { cookie: { secure: false, sameSite: 'none' } }), /cookie\.sameSite/],
  ['a bad cookie name', () => mfaGate(mfa, { cookie: { name: 'bad name;' } }), /cookie\.name/],
  ['an unknown cookie option', () => mfaGate(mfa, { cookie: { domain: 'example.com' } as never }), /unsupported property, `domain`/],
  ['cookie.secure not a boolean', () => mfaGate(mfa, { cookie: { secure: 'no' as never } }), /cookie\.secure/],
  ['mfaGate with a misspelt option', () => mfaGate(mfa, { getUserID: getUserId } as never), /Did you mean to pass `getUserId`/],
  ['requireMfa with a negative maxAge', () => requireMfa(mfa, { getUserId, maxAge: -1 }), /maxAge/],
  ['requireMfa with a fractional maxAge', () => requireMfa(mfa, { getUserId, maxAge: 1.5 }), /maxAge/],
  ['requireMfa with a bad cookie name', () => requireMfa(mfa, { getUserId, cookieName: 'a=b' }), /cookieName/],
  ['mfaErrorHandler with a bad onError', () => mfaErrorHandler({ onError: 1 } as never), /onError/],
])('%s throws a TypeError at startup', (_name, make, message) => {
  expect(make).toThrow(TypeError);
  expect(make).toThrow(message);
});

test('cookie names: __Host- when secure, plain when not, custom base names', async () => {
  const issued: string[] = [];
  const host = setup();
  const enrol = await host.mfa.enroll('u', 'totp', {});
  const code = await generateTotp(enrol.secret, host.clock.now(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 });
  await host.mfa.confirm('u', enrol.factorId, { code: code });
  for (const cookie of [{ name: 'remember' }, { name: 'remember', secure: false }, { name: '__Host-already' }]) {
    host.clock.advance(30);
    const start = await host.mfa.login.start('u');
    if (!start.required) throw new Error('expected a challenge');
    const app = express().use(mfaRouter(host.mfa, { getUserId, cookie }));
    const res = await request(app).post('/verify').send({
      challengeToken: start.challengeToken, method: 'totp', trustDevice: true,
      code: await generateTotp(enrol.secret, host.clock.now(), { algorithm: 'SHA1', digits: 6, periodSeconds: 30 }),
    });
    expect(res.status).toBe(200);
    issued.push(String(res.headers['set-cookie']).split('=')[0]!);
  }
  expect(issued).toEqual(['__Host-remember', 'remember', '__Host-already']);
});

test('problem documents and status table', () => {
  expect(problem('too_many_attempts')).toEqual({
    type: 'urn:secondfactor:problem:too_many_attempts', title: 'Too many attempts', status: 429, code: 'too_many_attempts', detail: 'Too many attempts; try again later.',
  });
  expect(problem('invalid_request', { field: 'code', detail: 'code must be a string' })).toMatchObject({ status: 400, field: 'code' });
  expect(PROBLEM_STATUS).toEqual({
    invalid_request: 400, invalid_code: 401, challenge_expired: 401, unauthenticated: 401, mfa_required: 403, forbidden: 403, not_enrolled: 404,
    already_enrolled: 409, unsupported_media_type: 415, too_many_attempts: 429, internal_error: 500, sms_unavailable: 502, email_unavailable: 502, store_unavailable: 503,
  });
});

test('mfaErrorHandler passes errors it does not know to the next handler', async () => {
  const app = express();
  app.get('/x', () => {
    throw new Error('not ours');
  });
  app.use(mfaErrorHandler());
  app.use((err: Error, _req: Request, res: express.Response, _next: express.NextFunction) => void res.status(418).json({ host: err.message }));
  const res = await request(app).get('/x');
  expect(res.status).toBe(418);
  expect(res.body).toEqual({ host: 'not ours' });
});

test('req.mfa is typed through the Express namespace', async () => {
  const app = express();
  const token = (await mfa.assertions.issue('alice', ['otp'])).assertion;
  app.get('/p', requireMfa(mfa, { getUserId: () => 'alice' }), (req, res) => {
    const state: MfaState | undefined = req.mfa;
    const authTime: number | undefined = req.mfa?.authTime;
    res.json({ state, authTime });
  });
  const res = await request(app).get('/p').set('Authorization', `bearer ${token}`);
  expect(res.status).toBe(200);
  expect(res.body.state).toEqual({ userId: 'alice', amr: ['mfa', 'otp'], authTime: res.body.authTime });
  // Without maxAge the challenge header carries no max_age.
  const refused = await request(app).get('/p');
  expect(refused.headers['www-authenticate']).toBe('Bearer error="insufficient_user_authentication", error_description="A recent second-factor verification is required"');
  expect(refused.body.maxAge).toBeUndefined();
});
