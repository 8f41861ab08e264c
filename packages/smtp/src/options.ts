// packages/smtp/src/options.ts
// smtpEmail's options: a nodemailer transport (options, URL or Transporter), the sender, the wording; checked up front.
import nodemailer, { type Transporter, type TransportConfig } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import { MfaConfigError, type CodeMessage } from '@secondfactor/core';

export interface SmtpEmailOptions {
  /**
   * Nodemailer transport options (`{ host, port, secure, auth }`), a connection URL
   * (`smtps://user:pass@smtp.example.com`), or a Transporter you built with `nodemailer.createTransport`.
   */
  transport: TransportConfig | string | Transporter;
  /** The From header: `no-reply@example.com` or `"Acme" <no-reply@example.com>`. */
  from: string;
  /** Subject line. Default: `Acme verification code` / `Confirm your email address for Acme`. No code in it by default. */
  subject?: (message: CodeMessage) => string;
  /** Plain-text body. Default: a short text with the code on its own line. */
  text?: (message: CodeMessage) => string;
  /** Optional HTML body, sent alongside the text. None by default. */
  html?: (message: CodeMessage) => string;
  /** Give up on a send after this many milliseconds (default 15000); it then fails with `email_unavailable`. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

export interface ResolvedSmtpEmailOptions {
  transporter: Transporter;
  from: string;
  subject: ((message: CodeMessage) => string) | undefined;
  text: ((message: CodeMessage) => string) | undefined;
  html: ((message: CodeMessage) => string) | undefined;
  timeoutMs: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function resolveTransport(transport: unknown): Transporter {
  if (isObject(transport) && typeof transport.sendMail === 'function') return transport as unknown as Transporter;
  if (!(isObject(transport) || (typeof transport === 'string' && transport.trim() !== ''))) {
    throw new MfaConfigError('transport', 'must be nodemailer transport options ({ host, port, secure, auth }), a connection URL or a Transporter');
  }
  try {
    return nodemailer.createTransport(transport as TransportConfig | string);
  } catch (error) {
    throw new MfaConfigError('transport', `was refused by nodemailer: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Checks every option and throws `MfaConfigError` (a `TypeError`) naming the first bad one. */
export function resolveSmtpEmailOptions(options: SmtpEmailOptions): ResolvedSmtpEmailOptions {
  if (!isObject(options)) throw new MfaConfigError('options', 'must be an object: smtpEmail({ transport, from })');
  const raw = options as unknown as Record<string, unknown>;

  const { from } = raw;
  const parsed = typeof from === 'string' && !/[\r\n]/.test(from) ? addressparser(from, { flatten: true }) : [];
  if (parsed.length !== 1 || !/^[^\s@]+@[^\s@]+$/.test(parsed[0]!.address)) {
    throw new MfaConfigError('from', 'must be one email address, e.g. no-reply@example.com or "Acme" <no-reply@example.com>');
  }

  for (const key of ['subject', 'text', 'html'] as const) {
    if (raw[key] !== undefined && typeof raw[key] !== 'function') throw new MfaConfigError(key, 'must be a function (message) => string');
  }

  const timeoutMs = raw.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 300_000) {
    throw new MfaConfigError('timeoutMs', 'must be an integer number of milliseconds between 1 and 300000');
  }

  return {
    transporter: resolveTransport(raw.transport),
    from: from as string,
    subject: raw.subject as ResolvedSmtpEmailOptions['subject'],
    text: raw.text as ResolvedSmtpEmailOptions['text'],
    html: raw.html as ResolvedSmtpEmailOptions['html'],
    timeoutMs,
  };
}
