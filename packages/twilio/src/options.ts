// packages/twilio/src/options.ts
// twilioSms's options, in their two forms (credentials or a host-built client), checked once up front.
import type RequestClient from 'twilio/lib/base/RequestClient';
import { MfaConfigError, type CodeMessage } from '@secondfactor/core';

/** What `twilioSms` needs from a Twilio client: `messages.create`. A `twilio.Twilio` instance fits. */
export interface TwilioMessagesClient {
  messages: {
    create(params: { to: string; body: string; from?: string; messagingServiceSid?: string }): Promise<unknown>;
  };
}

interface TwilioSmsCommonOptions {
  /** Sender: an E.164 number (`+14155550100`), a short code or an alphanumeric sender ID. Exactly one of `from` / `messagingServiceSid`. */
  from?: string;
  /** A Messaging Service SID (`MG…`), letting Twilio pick the sender. Exactly one of `from` / `messagingServiceSid`. */
  messagingServiceSid?: string;
  /** The SMS text. Default: `123456 is your <issuer> verification code.`, kept to one segment. */
  body?: (message: CodeMessage) => string;
  /** Adds a WebOTP line (`@example.com #123456`) so browsers offer the code only on this host. */
  webOtpDomain?: string;
  /** Give up on a send after this many milliseconds (default 10000); the send then fails with `sms_unavailable`. */
  timeoutMs?: number;
}

/** `twilioSms` builds the client with the official SDK. */
export interface TwilioSmsCredentialsOptions extends TwilioSmsCommonOptions {
  /** Account SID, `AC` + 32 hex digits. */
  accountSid: string;
  authToken: string;
  /** A custom SDK HTTP client (a `twilio.RequestClient`), e.g. for a proxy or tests. Its own `timeout` applies to the socket. */
  httpClient?: RequestClient;
  client?: never;
}

/** The host built the Twilio client (API keys, regions, custom HTTP client…). */
export interface TwilioSmsClientOptions extends TwilioSmsCommonOptions {
  client: TwilioMessagesClient;
  accountSid?: never;
  authToken?: never;
  httpClient?: never;
}

export type TwilioSmsOptions = TwilioSmsCredentialsOptions | TwilioSmsClientOptions;

const DEFAULT_TIMEOUT_MS = 10_000;

export interface ResolvedTwilioSmsOptions {
  credentials: { accountSid: string; authToken: string; httpClient: RequestClient | undefined } | undefined;
  client: TwilioMessagesClient | undefined;
  sender: { from: string } | { messagingServiceSid: string };
  body: ((message: CodeMessage) => string) | undefined;
  webOtpDomain: string | undefined;
  timeoutMs: number;
}

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/i;
const MESSAGING_SERVICE_SID = /^MG[0-9a-f]{32}$/i;
const E164 = /^\+[1-9]\d{6,14}$/;
const SHORT_CODE = /^\d{3,8}$/;
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
const HOSTNAME = /^(?=.{1,100}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Checks every option and throws `MfaConfigError` (a `TypeError`) naming the first bad one. */
export function resolveTwilioSmsOptions(options: TwilioSmsOptions): ResolvedTwilioSmsOptions {
  if (!isObject(options)) throw new MfaConfigError('options', 'must be an object: twilioSms({ accountSid, authToken, from }) or twilioSms({ client, from })');
  const raw = options as unknown as Record<string, unknown>;

  let credentials: ResolvedTwilioSmsOptions['credentials'];
  let client: TwilioMessagesClient | undefined;
  if (raw.client !== undefined) {
    for (const key of ['accountSid', 'authToken', 'httpClient'] as const) {
      if (raw[key] !== undefined) throw new MfaConfigError(key, 'cannot be combined with `client`; configure the client you pass instead');
    }
    const candidate = raw.client;
    // The SDK's `messages` is a function object with methods, so accept both.
    const messages: unknown = isObject(candidate) ? candidate.messages : undefined;
    if ((!isObject(messages) && typeof messages !== 'function') || typeof (messages as { create?: unknown }).create !== 'function') {
      throw new MfaConfigError('client', 'must be a Twilio client (an object with messages.create), e.g. twilio(accountSid, authToken)');
    }
    client = candidate as unknown as TwilioMessagesClient;
  } else {
    if (typeof raw.accountSid !== 'string' || !ACCOUNT_SID.test(raw.accountSid)) {
      throw new MfaConfigError('accountSid', 'must be a Twilio Account SID: it must start with AC, followed by 32 hex digits (or pass `client`)');
    }
    if (typeof raw.authToken !== 'string' || raw.authToken.trim() === '') {
      throw new MfaConfigError('authToken', 'must be a non-empty string (the Twilio Auth Token)');
    }
    const httpClient = raw.httpClient;
    if (httpClient !== undefined && (!isObject(httpClient) || typeof httpClient.request !== 'function')) {
      throw new MfaConfigError('httpClient', 'must be a twilio RequestClient (an object with a request method)');
    }
    credentials = { accountSid: raw.accountSid, authToken: raw.authToken, httpClient: httpClient as RequestClient | undefined };
  }

  const { from, messagingServiceSid } = raw;
  let sender: ResolvedTwilioSmsOptions['sender'];
  if (from !== undefined && messagingServiceSid !== undefined) {
    throw new MfaConfigError('from', 'and `messagingServiceSid` are exclusive; give exactly one');
  } else if (from !== undefined) {
    if (typeof from !== 'string' || !(E164.test(from) || SHORT_CODE.test(from) || ALPHANUMERIC_SENDER.test(from))) {
      throw new MfaConfigError('from', 'must be an E.164 number (+14155550100), a short code or an alphanumeric sender ID (up to 11 letters, digits, spaces)');
    }
    sender = { from };
  } else if (messagingServiceSid !== undefined) {
    if (typeof messagingServiceSid !== 'string' || !MESSAGING_SERVICE_SID.test(messagingServiceSid)) {
      throw new MfaConfigError('messagingServiceSid', 'must be a Messaging Service SID: MG followed by 32 hex digits');
    }
    sender = { messagingServiceSid };
  } else {
    throw new MfaConfigError('from', 'or `messagingServiceSid` is required (exactly one)');
  }

  if (raw.body !== undefined && typeof raw.body !== 'function') {
    throw new MfaConfigError('body', 'must be a function (message) => string');
  }

  let webOtpDomain: string | undefined;
  if (raw.webOtpDomain !== undefined) {
    const domain = typeof raw.webOtpDomain === 'string' ? raw.webOtpDomain.toLowerCase() : undefined;
    if (domain === undefined || !HOSTNAME.test(domain)) {
      throw new MfaConfigError('webOtpDomain', 'must be a bare host name such as example.com (no scheme, port or path; punycode for IDNs; at most 100 characters)');
    }
    webOtpDomain = domain;
  }

  const timeoutMs = raw.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 120_000) {
    throw new MfaConfigError('timeoutMs', 'must be an integer number of milliseconds between 1 and 120000');
  }

  return { credentials, client, sender, body: raw.body as ResolvedTwilioSmsOptions['body'], webOtpDomain, timeoutMs };
}
