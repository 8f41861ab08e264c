// packages/twilio/src/twilio-sms.ts
// The Twilio SMS CodeSender: builds (or takes) a Twilio client and sends one code per message.
import twilio from 'twilio';
import { MfaConfigError, MfaError, type CodeSender } from '@secondfactor/core';
import { withDeadline } from './deadline';
import { toMfaError } from './map-error';
import { defaultSmsBody, webOtpLine } from './message-body';
import { resolveTwilioSmsOptions, type ResolvedTwilioSmsOptions, type TwilioMessagesClient, type TwilioSmsOptions } from './options';

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * A `CodeSender` that texts codes through Twilio Programmable Messaging (`messages.create`).
 *
 * Options are checked at once; a bad one throws `MfaConfigError` (a `TypeError`) naming it.
 * A send that fails throws `MfaError`: `invalid_request` (field `phone`) when Twilio refuses the
 * number (21211, 21614, 21408, 21610), `sms_unavailable` otherwise (rate limits, 5xx, network
 * errors, timeouts). Error messages never contain the code or the phone number.
 *
 * @example
 * ```ts
 * import { twilioSms } from '@secondfactor/twilio';
 *
 * // Let the package build the client with the official SDK:
 * const sms = twilioSms({
 *   accountSid: process.env.TWILIO_ACCOUNT_SID!,
 *   authToken: process.env.TWILIO_AUTH_TOKEN!,
 *   from: '+14155550100',            // or messagingServiceSid: 'MG…'
 *   webOtpDomain: 'app.example.com', // optional: adds "@app.example.com #123456"
 * });
 *
 * // Or pass a client you built (API key, region, proxy…):
 * import twilio from 'twilio';
 * const sms2 = twilioSms({ client: twilio(apiKeySid, apiKeySecret, { accountSid }), messagingServiceSid: 'MG…' });
 *
 * const mfa = createMfa({ issuer: 'Acme', sms, ... });
 * ```
 */
export function twilioSms(options: TwilioSmsOptions): CodeSender {
  const resolved = resolveTwilioSmsOptions(options);
  const client: TwilioMessagesClient = resolved.client ?? buildClient(resolved.credentials!, resolved.timeoutMs);
  const { sender, webOtpDomain, timeoutMs } = resolved;

  return {
    async send(message) {
      if (typeof message.to !== 'string' || !E164.test(message.to)) {
        throw new MfaError('invalid_request', 'phone must be a number in E.164 format', { field: 'phone' });
      }
      let body: string;
      if (resolved.body) {
        body = resolved.body(message);
        if (typeof body !== 'string' || body.trim() === '') throw new MfaConfigError('body', 'must return a non-empty string');
        if (webOtpDomain !== undefined) body += webOtpLine(webOtpDomain, message.code);
      } else {
        body = defaultSmsBody(message, webOtpDomain);
      }
      try {
        await withDeadline(Promise.resolve().then(() => client.messages.create({ to: message.to, body, ...sender })), timeoutMs);
      } catch (error) {
        throw toMfaError(error);
      }
    },
  };
}

function buildClient(credentials: NonNullable<ResolvedTwilioSmsOptions['credentials']>, timeoutMs: number): TwilioMessagesClient {
  try {
    return twilio(credentials.accountSid, credentials.authToken, {
      // The SDK only applies `timeout` to the RequestClient it builds itself; a custom httpClient
      // keeps its own. The deadline in send() bounds the wait either way.
      ...(credentials.httpClient ? { httpClient: credentials.httpClient } : { timeout: timeoutMs }),
      autoRetry: false, // core decides about retries; a retried send could deliver two codes
    });
  } catch (error) {
    throw new MfaConfigError('accountSid', `was refused by the Twilio SDK: ${error instanceof Error ? error.message : String(error)}`);
  }
}
