// SMS over HTTP end to end (issue #6): core + express + the real twilio SDK against a local fake
// Twilio API. Enrolment, login, pumping limits and provider failures.
import express from 'express';
import request from 'supertest';
import { backupCodes, createMfa, memoryStore, sms, totp, type SmsOptions } from '@secondfactor/core';
import { mfaGate, mfaRouter, mfaErrorHandler } from '@secondfactor/express';
import { twilioSms } from '@secondfactor/twilio';
import { startFakeTwilio, type FakeTwilio } from '../../packages/twilio/test/fake-twilio';
import { LocalRequestClient } from '../../packages/twilio/test/local-request-client';

const SID = 'AC' + '1'.repeat(32);
const PHONE = '+14155550123';
let fake: FakeTwilio;

beforeAll(async () => {
  fake = await startFakeTwilio();
});
afterAll(() => fake.close());

function build(overrides: Omit<SmsOptions, 'sender'> = {}) {
  let now = Date.UTC(2026, 0, 1, 0, 0, 10);
  const store = memoryStore();
  const mfa = createMfa({
    issuer: 'Acme',
    store,
    encryptionKeys: { current: 'k1', keys: { k1: Buffer.alloc(32, 9).toString('base64') } },
    signingKey: 'sms-http-signing-key-0123456789abcdef0123',
    factors: [
      totp(),
      sms({ sender: twilioSms({ accountSid: SID, authToken: 'secret-token', from: '+15005550006', httpClient: new LocalRequestClient(fake.base), timeoutMs: 1000 }), ...overrides }),
      backupCodes({ bcryptCost: 4 }),
    ],
    clock: () => now,
  });
  const app = express();
  app.set('trust proxy', false);
  app.use(express.json());
  app.use('/mfa', mfaRouter(mfa, { getUserId: (req) => req.get('x-user') ?? undefined, cookie: { secure: false } }));
  app.post('/login', (req, res, next) => { res.locals.userId = req.body.user; next(); }, mfaGate(mfa), (_req, res) => { res.json({ session: true }); });
  app.use(mfaErrorHandler());
  return { app, mfa, store, advance: (s: number) => { now += s * 1000; } };
}

/** The code in the last message the fake received. */
const lastCode = () => /(\d{6})/.exec(fake.requests.at(-1)!.form.Body ?? '')![1]!;

async function enrolSms(t: ReturnType<typeof build>, user = 'alice') {
  const setup = await request(t.app).post('/mfa/sms/setup').set('x-user', user).send({ phone: PHONE });
  expect(setup.status).toBe(200);
  const confirm = await request(t.app).post('/mfa/sms/confirm').set('x-user', user).send({ factorId: setup.body.factorId, code: lastCode() });
  expect(confirm.status).toBe(200);
  t.advance(31);
  return confirm.body;
}

beforeEach(() => {
  fake.reply({ status: 201 } as never);
  fake.requests.length = 0;
});

test('enrol a phone with a code sent through Twilio, then log in by SMS', async () => {
  fake.reply(undefined as never);
  const t = build();
  const setup = await request(t.app).post('/mfa/sms/setup').set('x-user', 'alice').send({ phone: '+1 415 555 0123' });
  expect(setup.status).toBe(200);
  expect(setup.body.sentTo).toBe('+1 ••• ••• 0123');
  expect(fake.requests).toHaveLength(1);
  const sent = fake.requests[0]!;
  expect(sent.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
  expect(sent.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:secret-token`).toString('base64')}`);
  expect(sent.form).toMatchObject({ To: PHONE, From: '+15005550006' });
  expect(JSON.stringify(setup.body)).not.toContain(lastCode());

  const confirm = await request(t.app).post('/mfa/sms/confirm').set('x-user', 'alice').send({ factorId: setup.body.factorId, code: lastCode() });
  expect(confirm.status).toBe(200);
  expect(confirm.body.backupCodes).toHaveLength(10); // SMS is never the only factor (SMS-10)
  expect(confirm.body.factor).toMatchObject({ type: 'sms', restricted: true });
  t.advance(31);

  const login = await request(t.app).post('/login').send({ user: 'alice' });
  expect(login.body).toMatchObject({ mfaRequired: true, methods: ['sms', 'backup_code'] });
  const challenge = await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: login.body.challengeToken, phone: '+15550000000' });
  expect(challenge.status).toBe(202);
  expect(challenge.body).toEqual({ sentTo: '+1 ••• ••• 0123' });
  expect(fake.requests.at(-1)!.form.To).toBe(PHONE); // the stored number, never the body's
  const verify = await request(t.app).post('/mfa/verify').send({ challengeToken: login.body.challengeToken, method: 'sms', code: lastCode() });
  expect(verify.status).toBe(200);
  expect(verify.body.tokenType).toBe('Bearer');
});

test('invalid or non-mobile numbers are 400 invalid_request and Twilio is not called', async () => {
  const t = build();
  for (const phone of ['12345', '+442079460000', 4155550123, ['+14155550123']]) {
    const r = await request(t.app).post('/mfa/sms/setup').set('x-user', 'alice').send({ phone });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'invalid_request', field: 'phone' });
  }
  expect(fake.requests).toHaveLength(0);
});

test('no send without a valid challenge', async () => {
  const t = build();
  await enrolSms(t);
  const before = fake.requests.length;
  const r = await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: 'A'.repeat(43) });
  expect(r.status).toBe(401);
  expect(r.body.code).toBe('challenge_expired');
  expect(fake.requests.length).toBe(before);
});

test('pumping limits: past the per-user budget → 429 with Retry-After and Twilio is not called', async () => {
  const t = build({ resendCooldownSeconds: 0, sendLimits: { perUserPerHour: 3, perDestinationPerHour: 10, perIpPerHour: 10, globalPerHour: 100 } });
  await enrolSms(t); // 1
  const login = await request(t.app).post('/login').send({ user: 'alice' });
  const token = login.body.challengeToken;
  expect((await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token })).status).toBe(202); // 2
  expect((await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token })).status).toBe(202); // 3
  const before = fake.requests.length;
  const r = await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token });
  expect(r.status).toBe(429);
  expect(r.body.code).toBe('too_many_attempts');
  expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  expect(fake.requests.length).toBe(before);
});

test('resend cooldown: a second send within 30 s → 429, after it → a new code that replaces the old one', async () => {
  const t = build();
  await enrolSms(t);
  const token = (await request(t.app).post('/login').send({ user: 'alice' })).body.challengeToken;
  expect((await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token })).status).toBe(202);
  const first = lastCode();
  const early = await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token });
  expect(early.status).toBe(429);
  expect(early.headers['retry-after']).toBeDefined();
  t.advance(30);
  expect((await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token })).status).toBe(202);
  const second = lastCode();
  if (first !== second) {
    const old = await request(t.app).post('/mfa/verify').send({ challengeToken: token, method: 'sms', code: first });
    expect(old.status).toBe(401);
  }
  expect((await request(t.app).post('/mfa/verify').send({ challengeToken: token, method: 'sms', code: second })).status).toBe(200);
});

test.each([
  ['Twilio 400 / 21211 invalid number', { status: 400, json: { code: 21211, message: "The 'To' number is not valid.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 } }, 400, 'invalid_request'],
  ['Twilio 429', { status: 429, json: { code: 20429, message: 'Too Many Requests', status: 429 } }, 502, 'sms_unavailable'],
  ['Twilio 500', { status: 500, json: { code: 20500, message: 'Internal Server Error', status: 500 } }, 502, 'sms_unavailable'],
  ['Twilio never answers (timeout)', 'hang', 502, 'sms_unavailable'],
] as const)('%s at login: mapped to a clear error; no usable code, no user failure counted', async (_name, reply, status, code) => {
  const t = build();
  await enrolSms(t);
  const token = (await request(t.app).post('/login').send({ user: 'alice' })).body.challengeToken;
  fake.reply(reply as never);
  const r = await request(t.app).post('/mfa/challenge/sms').send({ challengeToken: token });
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(r.body.code).toBe(code);
  expect(JSON.stringify(r.body)).not.toMatch(/secret-token|AC1111/);
  fake.reply(undefined as never);
  expect((await t.store.getAttemptState('alice'))?.failures ?? 0).toBe(0);
  // Every 6-digit code the fake saw for this challenge is useless: none was stored.
  for (const req of fake.requests) {
    const sentCode = /(\d{6})/.exec(req.form.Body ?? '')?.[1];
    if (!sentCode) continue;
    const v = await request(t.app).post('/mfa/verify').send({ challengeToken: token, method: 'sms', code: sentCode });
    if (v.status === 200) throw new Error('a code from a failed send logged in');
  }
  expect((await t.mfa.status('alice')).locked).toBe(false);
}, 15_000);
