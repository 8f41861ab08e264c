// packages/smtp/src/index.ts
// @secondfactor/smtp: an email CodeSender over nodemailer (SMTP).
export { smtpEmail } from './smtp-email';
export type { SmtpEmailOptions } from './options';
