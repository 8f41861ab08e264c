// packages/twilio/test/options.test.ts
// twilioSms checks its options when called, and names the bad one.
import { MfaConfigError } from '@secondfactor/core';
import { twilioSms, type TwilioSmsOptions } from '@secondfactor/twilio';

const accountSid = 'AC' + 'a'.repeat(32);
const authToken = 'token';
const client = { messages: { create: async () => ({}) } };

function optionError(options: unknown): MfaConfigError {
  try {
    twilioSms(options as TwilioSmsOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(MfaConfigError);
    return error as MfaConfigError;
  }
  throw new Error('expected twilioSms to throw');
}

describe('twilioSms options', () => {
  test('valid forms build a sender', () => {
    expect(typeof twilioSms({ accountSid, authToken, from: '+14155550100' }).send).toBe('function');
    expect(typeof twilioSms({ accountSid, authToken, messagingServiceSid: 'MG' + '0'.repeat(32) }).send).toBe('function');
    expect(typeof twilioSms({ client, from: 'Acme' }).send).toBe('function');
    expect(typeof twilioSms({ client, from: '12345' }).send).toBe('function');
  });

  test.each<[string, unknown, string | RegExp]>([
    ['options', undefined, /must be an object/],
    ['accountSid', { authToken, from: '+14155550100' }, /must start with AC/],
    ['accountSid', { accountSid: 'SK' + 'a'.repeat(32), authToken, from: '+14155550100' }, /must start with AC/],
    ['accountSid', { accountSid: 'AC123', authToken, from: '+14155550100' }, /32 hex digits/],
    ['authToken', { accountSid, from: '+14155550100' }, /non-empty/],
    ['authToken', { accountSid, authToken: ' ', from: '+14155550100' }, /non-empty/],
    ['from', { accountSid, authToken }, /`messagingServiceSid` is required/],
    ['from', { accountSid, authToken, from: '+14155550100', messagingServiceSid: 'MG' + '0'.repeat(32) }, /exclusive/],
    ['from', { accountSid, authToken, from: '(415) 555-0100' }, /E\.164/],
    ['from', { accountSid, authToken, from: 'Way Too Long Sender' }, /alphanumeric/],
    ['messagingServiceSid', { accountSid, authToken, messagingServiceSid: 'MS123' }, /MG/],
    ['httpClient', { accountSid, authToken, from: '+14155550100', httpClient: {} }, /RequestClient/],
    ['client', { client: {}, from: '+14155550100' }, /messages\.create/],
    ['accountSid', { client, accountSid, from: '+14155550100' }, /cannot be combined with `client`/],
    ['httpClient', { client, httpClient: {}, from: '+14155550100' }, /cannot be combined/],
    ['body', { client, from: '+14155550100', body: 'text' }, /function/],
    ['webOtpDomain', { client, from: '+14155550100', webOtpDomain: 'https://example.com' }, /bare host name/],
    ['webOtpDomain', { client, from: '+14155550100', webOtpDomain: 'example.com:8443' }, /bare host name/],
    ['timeoutMs', { client, from: '+14155550100', timeoutMs: 0 }, /between 1 and 120000/],
    ['timeoutMs', { client, from: '+14155550100', timeoutMs: 1.5 }, /integer/],
  ])('bad %s is refused (case %#)', (option, options, message) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toMatch(message);
  });

  test('a body function that returns nothing fails the send, naming the option', async () => {
    const sms = twilioSms({ client, from: '+14155550100', body: () => '' });
    await expect(sms.send({ to: '+14155550123', code: '123456', purpose: 'login', issuer: 'Acme' })).rejects.toThrow(/`body` must return a non-empty string/);
  });
});
