// packages/smtp/src/message-content.ts
// The default email wording: a subject without the code, and a short plain-text body with the code on its own line.
import type { CodeMessage } from '@secondfactor/core';

/** `Acme verification code`, or `Confirm your email address for Acme` when enrolling. */
export function defaultSubject(message: CodeMessage): string {
  return message.purpose === 'enroll' ? `Confirm your email address for ${message.issuer}` : `${message.issuer} verification code`;
}

/** The plain-text body. The code sits alone on its line so it is easy to read and copy. */
export function defaultText(message: CodeMessage): string {
  if (message.purpose === 'enroll') {
    return [
      `Use this code to confirm this email address for ${message.issuer}:`,
      '',
      `    ${message.code}`,
      '',
      'If you did not ask for this, you can ignore this email. Do not share this code with anyone.',
      '',
    ].join('\n');
  }
  return [
    `Your ${message.issuer} verification code is:`,
    '',
    `    ${message.code}`,
    '',
    'Do not share this code with anyone. If you did not just try to sign in, someone may know your password: change it.',
    '',
  ].join('\n');
}
