// packages/smtp/src/map-error.ts
// Turns what nodemailer throws into MfaError: a refused recipient, or a provider failure (fail closed).
// Messages are fixed text plus the SMTP reply code: never the code, never the address.
import { MfaError } from '@secondfactor/core';

/** RCPT TO replies that mean "this address cannot get mail": bad syntax (501), no such user (550, 551), bad mailbox name (553). */
const RECIPIENT_REFUSED_CODES: ReadonlySet<number> = new Set([501, 550, 551, 553]);

const UNREACHABLE = new Set(['ECONNECTION', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'ETIMEDOUT']);

interface NodemailerErrorShape {
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
  cause?: unknown;
}

/** True when nodemailer reports that the server refused the recipient at RCPT TO. */
function isRecipientRefused(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, responseCode, command } = error as NodemailerErrorShape;
  return (
    code === 'EENVELOPE' &&
    typeof responseCode === 'number' &&
    RECIPIENT_REFUSED_CODES.has(responseCode) &&
    (command === undefined || (typeof command === 'string' && /^RCPT\b/i.test(command)))
  );
}

/** The `MfaError` a failed `sendMail` becomes. */
export function toMfaError(error: unknown): MfaError {
  if (error instanceof MfaError) return error;
  if (isRecipientRefused(error)) {
    return new MfaError('invalid_request', 'This email address cannot receive mail', { field: 'email', cause: error });
  }
  const { code, responseCode } = (typeof error === 'object' && error !== null ? error : {}) as NodemailerErrorShape;
  if (code === 'EABORT') {
    return new MfaError('email_unavailable', 'The email provider did not answer in time', { cause: error });
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new MfaError('email_unavailable', 'The email provider could not be reached', { cause: error });
  }
  if (code === 'EAUTH' || code === 'ENOAUTH') {
    return new MfaError('email_unavailable', 'The email provider refused the credentials', { cause: error });
  }
  if (typeof responseCode === 'number') {
    return new MfaError('email_unavailable', `The email provider refused the message (SMTP ${responseCode})`, { cause: error });
  }
  return new MfaError('email_unavailable', 'The email provider failed', { cause: error });
}
