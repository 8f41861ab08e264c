// packages/smtp/src/smtp-email.ts
// The email CodeSender: one plain-text message per code, through a nodemailer transport.
import { MfaConfigError, MfaError, type CodeMessage, type CodeSender } from '@secondfactor/core';
import { toMfaError } from './map-error';
import { defaultSubject, defaultText } from './message-content';
import { resolveSmtpEmailOptions, type SmtpEmailOptions } from './options';

const EMAIL = /^[^\s@<>,;"]{1,64}@[^\s@<>,;"]{1,190}$/;

function render(option: string, fn: (message: CodeMessage) => string, message: CodeMessage): string {
  const value = fn(message);
  if (typeof value !== 'string' || value.trim() === '') throw new MfaConfigError(option, 'must return a non-empty string');
  return value;
}

/**
 * A `CodeSender` that emails codes over SMTP with nodemailer.
 *
 * Options are checked at once; a bad one throws `MfaConfigError` (a `TypeError`) naming it.
 * A send that fails throws `MfaError`: `invalid_request` (field `email`) when the server refuses
 * the recipient at RCPT TO (501, 550, 551, 553), `email_unavailable` otherwise (connection
 * refused, timeouts, authentication, other 4xx/5xx replies), with nodemailer's error as `cause`.
 * Error messages never contain the code.
 *
 * @example
 * ```ts
 * import { smtpEmail } from '@secondfactor/smtp';
 *
 * const email = smtpEmail({
 *   transport: { host: 'smtp.example.com', port: 465, secure: true, auth: { user: 'mfa', pass: process.env.SMTP_PASS! } },
 *   from: '"Acme" <no-reply@acme.example>',
 * });
 * // or: smtpEmail({ transport: nodemailer.createTransport({ pool: true, ... }), from: 'no-reply@acme.example' })
 *
 * const mfa = createMfa({ issuer: 'Acme', email, ... });
 * ```
 */
export function smtpEmail(options: SmtpEmailOptions): CodeSender {
  const resolved = resolveSmtpEmailOptions(options);
  const { transporter, from, timeoutMs } = resolved;

  return {
    async send(message) {
      if (typeof message.to !== 'string' || message.to.length > 254 || !EMAIL.test(message.to)) {
        throw new MfaError('invalid_request', 'email must be an email address', { field: 'email' });
      }
      const subject = resolved.subject ? render('subject', resolved.subject, message) : defaultSubject(message);
      const text = resolved.text ? render('text', resolved.text, message) : defaultText(message);
      const html = resolved.html ? render('html', resolved.html, message) : undefined;
      let info: unknown;
      try {
        info = await transporter.sendMail({
          from,
          to: message.to,
          subject,
          text,
          ...(html === undefined ? {} : { html }),
          headers: { 'Auto-Submitted': 'auto-generated' }, // RFC 3834: no vacation auto-replies
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw toMfaError(error);
      }
      const rejected = (info as { rejected?: unknown } | undefined)?.rejected;
      if (Array.isArray(rejected) && rejected.length > 0) {
        throw new MfaError('invalid_request', 'This email address cannot receive mail', { field: 'email' });
      }
    },
  };
}
