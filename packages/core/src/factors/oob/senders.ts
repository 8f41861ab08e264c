// packages/core/src/factors/oob/senders.ts
// How out-of-band codes leave the process. Hosts implement `CodeSender` (or use
// @secondfactor/twilio, @secondfactor/smtp); core never does network I/O itself.
import { MfaError } from '../../errors';
import { parsePhoneNumber } from './phone';

/** One code to deliver. `to` is an E.164 number (SMS) or an email address. */
export interface CodeMessage {
  to: string;
  code: string;
  /** `login` (a sign-in code) or `enroll` (proving a new phone/address). */
  purpose: 'login' | 'enroll';
  /** The `issuer` given to `createMfa`, for the message text. */
  issuer: string;
  locale?: string;
}

/**
 * Delivers a code. Throw `MfaError('invalid_request', …, {field})` when the destination is bad and
 * `MfaError('sms_unavailable' | 'email_unavailable')` when the provider fails; anything else thrown is
 * treated as a provider failure. A failed send never leaves a usable code behind.
 */
export interface CodeSender {
  send(message: CodeMessage): Promise<void>;
}

/** Masks a phone number for display: `+1 ••• ••• 0123` style, keeping the country code and last 4 digits. */
export function maskPhone(e164: string): string {
  const digits = e164.replace(/[^\d]/g, '');
  const last = digits.slice(-4);
  const cc = parsePhoneNumber(e164)?.countryCallingCode;
  return cc ? `+${cc} ••• ••• ${last}` : `••• ••• ${last}`;
}

/** Masks an email address: `a•••@example.com`. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return '•••';
  return `${address[0]}•••${address.slice(at)}`;
}

export interface ConsoleSenderOptions {
  /** Where lines go (default `console.log`). */
  log?: (line: string) => void;
  /**
   * Development mode: keep the last code per destination readable through `lastCode(to)` so a dev UI
   * can show it. Refused when NODE_ENV is `production`. Codes are never written to the log.
   */
  devMode?: boolean;
  channel?: 'sms' | 'email';
}

export interface ConsoleSender extends CodeSender {
  /** The last code sent to `to`, in dev mode only; undefined otherwise. */
  lastCode(to: string): string | undefined;
}

/** A sender for development: logs "code sent to +1 ••• ••• 0123", never the code. */
export function consoleSender(options: ConsoleSenderOptions = {}): ConsoleSender {
  const log = options.log ?? ((line: string) => console.log(line));
  const devMode = options.devMode === true;
  if (devMode && process.env.NODE_ENV === 'production') {
    throw new TypeError('secondfactor: consoleSender({devMode: true}) is refused when NODE_ENV=production');
  }
  const channel = options.channel ?? 'sms';
  const last = new Map<string, string>();
  return {
    async send(message) {
      if (!message.to) throw new MfaError('invalid_request', 'No destination', { field: 'to' });
      const shown = channel === 'email' ? maskEmail(message.to) : maskPhone(message.to);
      log(`[secondfactor] ${message.purpose} code sent to ${shown} (${channel}, console sender)`);
      if (devMode) last.set(message.to, message.code);
    },
    lastCode(to) {
      return devMode ? last.get(to) : undefined;
    },
  };
}
