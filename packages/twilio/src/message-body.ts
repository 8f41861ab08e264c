// packages/twilio/src/message-body.ts
// The SMS text: the default wording (code first, one segment) and the optional WebOTP origin line.
import type { CodeMessage } from '@secondfactor/core';
import { fitsOneSegment } from './sms-segments';

/**
 * The default text: `123456 is your Acme verification code.` (`… code to confirm this phone.` when
 * enrolling). The issuer is shortened, then dropped, so that the whole SMS, WebOTP line included,
 * stays within one segment.
 */
export function defaultSmsBody(message: CodeMessage, webOtpDomain?: string): string {
  const suffix = webOtpDomain === undefined ? '' : webOtpLine(webOtpDomain, message.code);
  const what = message.purpose === 'enroll' ? 'code to confirm this phone' : 'verification code';
  const issuer = Array.from(message.issuer.trim());
  for (let length = issuer.length; length > 0; length -= 1) {
    const text = `${message.code} is your ${issuer.slice(0, length).join('').trimEnd()} ${what}.${suffix}`;
    if (fitsOneSegment(text)) return text;
  }
  return `${message.code} is your ${what}.${suffix}`;
}

/**
 * The WebOTP / origin-bound one-time code line (`@example.com #123456`), as the last line of the
 * SMS after a blank line, so browsers offer the code only on that origin.
 */
export function webOtpLine(domain: string, code: string): string {
  return `\n\n@${domain} #${code}`;
}
