// packages/twilio/test/twilio-sms.test.ts
// twilioSms against a local fake Twilio API, through the real twilio SDK: the request, and error mapping.
import { inspect } from 'node:util';
import twilio from 'twilio';
import { MfaError, type CodeMessage } from '@secondfactor/core';
import { twilioSms, TwilioTransportError } from '@secondfactor/twilio';
import { startFakeTwilio, twilioError, type FakeTwilio } from './fake-twilio';
import { LocalRequestClient } from './local-request-client';

const accountSid = 'AC' + '0123456789abcdef'.repeat(2);
const authToken = 'test-auth-token-5f1e';
const from = '+15005550006';
const phone = '+14155550123';
const code = '842917';
const message: CodeMessage = { to: phone, code, purpose: 'login', issuer: 'Acme' };

let fake: FakeTwilio;
beforeEach(async () => {
  fake = await startFakeTwilio();
});
afterEach(async () => {
  await fake.close();
});

function sender(extra: { timeoutMs?: number; httpTimeoutMs?: number; webOtpDomain?: string } = {}) {
  const httpClient = new LocalRequestClient(fake.base, { autoRetry: false, ...(extra.httpTimeoutMs ? { timeout: extra.httpTimeoutMs } : {}) });
  return twilioSms({ accountSid, authToken, from, httpClient, timeoutMs: extra.timeoutMs, webOtpDomain: extra.webOtpDomain });
}

async function sendError(promise: Promise<void>): Promise<MfaError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MfaError);
  const mfaError = error as MfaError;
  // Never the code or the full number in the message.
  expect(mfaError.message).not.toContain(code);
  expect(mfaError.message).not.toContain(phone.slice(1));
  return mfaError;
}

describe('twilioSms({ accountSid, authToken, from, httpClient }) with the real SDK', () => {
  test('POSTs To/From/Body to the Messages resource with Basic auth', async () => {
    await sender().send(message);

    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe(`/2010-04-01/Accounts/${accountSid}/Messages.json`);
    expect(request!.headers['x-twilio-host']).toBe('api.twilio.com');
    expect(request!.headers.authorization).toBe('Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64'));
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.form).toEqual({ To: phone, From: from, Body: `${code} is your Acme verification code.` });
    expect(request!.form.Body).toContain(code);
  });

  test('enrollment wording and the WebOTP line', async () => {
    await sender({ webOtpDomain: 'App.Example.com' }).send({ ...message, purpose: 'enroll' });
    expect(fake.requests[0]!.form.Body).toBe(`${code} is your Acme code to confirm this phone.\n\n@app.example.com #${code}`);
  });

  test('messagingServiceSid instead of From', async () => {
    const messagingServiceSid = 'MG' + 'f'.repeat(32);
    const sms = twilioSms({ accountSid, authToken, messagingServiceSid, httpClient: new LocalRequestClient(fake.base) });
    await sms.send(message);
    expect(fake.requests[0]!.form).toEqual({ To: phone, MessagingServiceSid: messagingServiceSid, Body: expect.stringContaining(code) });
  });

  test('a custom body', async () => {
    const sms = twilioSms({ accountSid, authToken, from, httpClient: new LocalRequestClient(fake.base), body: (m) => `Code ${m.code} (${m.purpose})` });
    await sms.send(message);
    expect(fake.requests[0]!.form.Body).toBe(`Code ${code} (login)`);
  });

  test('a destination that is not E.164 is refused before any request', async () => {
    const error = await sendError(sender().send({ ...message, to: '4155550123' }));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'phone' });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('error mapping', () => {
  test.each([
    [21211, "The 'To' number +14155550123 is not a valid phone number."],
    [21614, "'To' number is not a valid mobile number"],
    [21408, 'Permission to send an SMS has not been enabled for the region indicated by the To number'],
    [21610, 'Attempt to send to unsubscribed recipient'],
  ])('400 with Twilio error %i → invalid_request (field phone)', async (twilioCode, text) => {
    fake.reply(twilioError(400, twilioCode, text));
    const error = await sendError(sender().send(message));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'phone' });
    expect(error.cause).toBeInstanceOf(twilio.RestException);
    expect(error.cause).toMatchObject({ status: 400, code: twilioCode });
  });

  test('429 (Twilio 20429) → sms_unavailable', async () => {
    fake.reply(twilioError(429, 20429, 'Too Many Requests'));
    const error = await sendError(sender().send(message));
    expect(error.code).toBe('sms_unavailable');
    expect(error.cause).toMatchObject({ status: 429, code: 20429 });
  });

  test('429 without a JSON body → sms_unavailable (no automatic retry)', async () => {
    fake.reply({ status: 429, text: 'slow down' });
    const error = await sendError(sender().send(message));
    expect(error.code).toBe('sms_unavailable');
    expect(fake.requests).toHaveLength(1);
  });

  test('Twilio 60212 (too many concurrent requests for the number) → sms_unavailable', async () => {
    fake.reply(twilioError(400, 60212, 'Too many concurrent requests for phone number'));
    expect((await sendError(sender().send(message))).code).toBe('sms_unavailable');
  });

  test('500 → sms_unavailable with the RestException as cause', async () => {
    fake.reply({ status: 500, text: '<html>Internal Server Error</html>' });
    const error = await sendError(sender().send(message));
    expect(error.code).toBe('sms_unavailable');
    expect(error.cause).toBeInstanceOf(twilio.RestException);
    expect(error.cause).toMatchObject({ status: 500 });
  });

  test('503 with a Twilio body → sms_unavailable', async () => {
    fake.reply(twilioError(503, 20503, 'Service unavailable'));
    expect((await sendError(sender().send(message))).code).toBe('sms_unavailable');
  });

  test('other 4xx (bad credentials, 20003) → sms_unavailable, not a phone problem', async () => {
    fake.reply(twilioError(401, 20003, 'Authenticate'));
    const error = await sendError(sender().send(message));
    expect(error.code).toBe('sms_unavailable');
    expect(error.field).toBeUndefined();
  });

  test('connection refused → sms_unavailable; the cause holds neither the code nor the credentials', async () => {
    await fake.close();
    const error = await sendError(sender().send(message));
    expect(error.code).toBe('sms_unavailable');
    expect(error.cause).toBeInstanceOf(TwilioTransportError);
    expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
    const logged = inspect(error, { depth: 10 });
    expect(logged).not.toContain(code);
    expect(logged).not.toContain(authToken);
    expect(logged).not.toContain(Buffer.from(`${accountSid}:${authToken}`).toString('base64'));
    fake = await startFakeTwilio(); // for afterEach
  });

  test('a fake that never answers: timeoutMs ends the send even though the HTTP client would wait 30 s', async () => {
    fake.reply('hang');
    const started = Date.now();
    const error = await sendError(sender({ timeoutMs: 200 }).send(message));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('sms_unavailable');
    expect(error.cause).toMatchObject({ name: 'SendTimeoutError', timeoutMs: 200 });
    expect(fake.requests).toHaveLength(1);
  });

  test('a fake that never answers: the RequestClient `timeout` option aborts the request (ECONNABORTED)', async () => {
    fake.reply('hang');
    const started = Date.now();
    const error = await sendError(sender({ httpTimeoutMs: 200 }).send(message));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('sms_unavailable');
    expect(error.cause).toBeInstanceOf(TwilioTransportError);
    expect(error.cause).toMatchObject({ code: 'ECONNABORTED' });
    const logged = inspect(error, { depth: 10 });
    expect(logged).not.toContain(code);
    expect(logged).not.toContain(authToken);
  });
});

describe('twilioSms({ client, from }) with a host-built client', () => {
  test('a real twilio client (its own httpClient) sends the same request', async () => {
    const client = twilio(accountSid, authToken, { httpClient: new LocalRequestClient(fake.base), autoRetry: false });
    await twilioSms({ client, from }).send(message);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.path).toBe(`/2010-04-01/Accounts/${accountSid}/Messages.json`);
    expect(fake.requests[0]!.headers.authorization).toBe('Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64'));
    expect(fake.requests[0]!.form).toEqual({ To: phone, From: from, Body: `${code} is your Acme verification code.` });
  });

  test('errors from a host-built client are mapped too', async () => {
    fake.reply(twilioError(400, 21614, "'To' number is not a valid mobile number"));
    const client = twilio(accountSid, authToken, { httpClient: new LocalRequestClient(fake.base), autoRetry: false });
    const error = await sendError(twilioSms({ client, from }).send(message));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'phone' });
  });

  test('any object with messages.create works; a plain Error from it → sms_unavailable with that cause', async () => {
    const calls: unknown[] = [];
    const failure = new Error('boom');
    const client = {
      messages: {
        async create(params: unknown) {
          calls.push(params);
          if (calls.length > 1) throw failure;
          return {};
        },
      },
    };
    const sms = twilioSms({ client, messagingServiceSid: 'MG' + '1'.repeat(32) });
    await sms.send(message);
    expect(calls[0]).toEqual({ to: phone, messagingServiceSid: 'MG' + '1'.repeat(32), body: `${code} is your Acme verification code.` });
    const error = await sendError(sms.send(message));
    expect(error).toMatchObject({ code: 'sms_unavailable', cause: failure });
  });

  test('a client that throws synchronously is still mapped', async () => {
    const client = {
      messages: {
        create(): Promise<unknown> {
          throw new Error('Required parameter missing');
        },
      },
    };
    expect((await sendError(twilioSms({ client, from }).send(message))).code).toBe('sms_unavailable');
  });
});
