// packages/smtp/test/smtp-email.test.ts
// smtpEmail against a real local SMTP server (smtp-server): the delivered message, and error mapping.
import net from 'node:net';
import { inspect } from 'node:util';
import nodemailer from 'nodemailer';
import { MfaConfigError, MfaError, type CodeMessage } from '@secondfactor/core';
import { smtpEmail, type SmtpEmailOptions } from '@secondfactor/smtp';
import { parseRaw, startSmtpSink, type SmtpSink } from './smtp-sink';

const code = '842917';
const message: CodeMessage = { to: 'alice@example.com', code, purpose: 'login', issuer: 'Acme' };

let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

function transportTo(port: number) {
  return { host: '127.0.0.1', port, secure: false, ignoreTLS: true } as const;
}

async function sendError(promise: Promise<void>): Promise<MfaError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MfaError);
  expect((error as MfaError).message).not.toContain(code);
  return error as MfaError;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('smtpEmail over a real SMTP server', () => {
  test('delivers one message: From, To, Subject, and the code in the text', async () => {
    sink = await startSmtpSink();
    const email = smtpEmail({ transport: transportTo(sink.port), from: '"Acme" <no-reply@acme.test>' });
    await email.send(message);

    expect(sink.received).toHaveLength(1);
    const [mail] = sink.received;
    expect(mail!.from).toBe('no-reply@acme.test');
    expect(mail!.to).toEqual(['alice@example.com']);
    const { headers, body } = parseRaw(mail!.raw);
    expect(headers.from).toBe('Acme <no-reply@acme.test>');
    expect(headers.to).toBe('alice@example.com');
    expect(headers.subject).toBe('Acme verification code');
    expect(headers.subject).not.toContain(code);
    expect(headers['auto-submitted']).toBe('auto-generated');
    expect(headers['content-type']).toMatch(/^text\/plain/);
    expect(body.match(/^\s*(\d{6})\s*$/m)?.[1]).toBe(code);
  });

  test('enrollment wording', async () => {
    sink = await startSmtpSink();
    await smtpEmail({ transport: transportTo(sink.port), from: 'no-reply@acme.test' }).send({ ...message, purpose: 'enroll' });
    const { headers, body } = parseRaw(sink.received[0]!.raw);
    expect(headers.subject).toBe('Confirm your email address for Acme');
    expect(body).toContain('confirm this email address');
    expect(body).toContain(code);
  });

  test('custom subject, text and html; an existing Transporter', async () => {
    sink = await startSmtpSink();
    const transporter = nodemailer.createTransport(transportTo(sink.port));
    const email = smtpEmail({
      transport: transporter,
      from: 'no-reply@acme.test',
      subject: (m) => `Sign-in code for ${m.issuer}`,
      text: (m) => `Code: ${m.code}`,
      html: (m) => `<p>Code: <b>${m.code}</b></p>`,
    });
    await email.send(message);
    const { headers, body } = parseRaw(sink.received[0]!.raw);
    expect(headers.subject).toBe('Sign-in code for Acme');
    expect(headers['content-type']).toMatch(/^multipart\/alternative/);
    expect(body).toContain(`Code: ${code}`);
    expect(body).toContain(`<b>${code}</b>`);
  });

  test('the server refuses the recipient (550 at RCPT TO) → invalid_request, field email', async () => {
    sink = await startSmtpSink({ refuseRecipient: (address) => (address.startsWith('ghost@') ? 550 : undefined) });
    const email = smtpEmail({ transport: transportTo(sink.port), from: 'no-reply@acme.test' });
    const error = await sendError(email.send({ ...message, to: 'ghost@example.com' }));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'email' });
    expect(error.message).not.toContain('ghost@example.com');
    expect(error.cause).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
    expect(sink.received).toHaveLength(0);
  });

  test('553 at RCPT TO → invalid_request as well', async () => {
    sink = await startSmtpSink({ refuseRecipient: () => 553 });
    const error = await sendError(smtpEmail({ transport: transportTo(sink.port), from: 'no-reply@acme.test' }).send(message));
    expect(error).toMatchObject({ code: 'invalid_request', field: 'email' });
  });

  test('a temporary refusal (450 at RCPT TO) → email_unavailable, not a bad address', async () => {
    sink = await startSmtpSink({ refuseRecipient: () => 450 });
    const error = await sendError(smtpEmail({ transport: transportTo(sink.port), from: 'no-reply@acme.test' }).send(message));
    expect(error.code).toBe('email_unavailable');
    expect(error.field).toBeUndefined();
    expect(error.cause).toMatchObject({ responseCode: 450 });
  });

  test('server down (closed port) → email_unavailable with the connection error as cause', async () => {
    const port = await closedPort();
    const email = smtpEmail({ transport: transportTo(port), from: 'no-reply@acme.test' });
    const error = await sendError(email.send(message));
    expect(error.code).toBe('email_unavailable');
    expect(error.cause).toMatchObject({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' });
    expect(inspect(error, { depth: 10 })).not.toContain(code);
  });

  test('a server that never greets → email_unavailable after timeoutMs', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const close = () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      silent.close(() => resolve());
    });
    sink = { port, received: [], close };
    const started = Date.now();
    const error = await sendError(smtpEmail({ transport: transportTo(port), from: 'no-reply@acme.test', timeoutMs: 300 }).send(message));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('email_unavailable');
    expect(error.cause).toMatchObject({ code: 'EABORT' });
  });

  test('a destination that is not an address is refused before connecting', async () => {
    const email = smtpEmail({ transport: transportTo(await closedPort()), from: 'no-reply@acme.test' });
    for (const to of ['', 'alice', 'alice@example.com, bob@example.com', 'Alice <alice@example.com>']) {
      const error = await sendError(email.send({ ...message, to }));
      expect(error).toMatchObject({ code: 'invalid_request', field: 'email' });
    }
  });
});

describe('smtpEmail options', () => {
  const transport = { host: '127.0.0.1', port: 2525, secure: false, ignoreTLS: true };

  test.each<[string, unknown, RegExp]>([
    ['options', null, /must be an object/],
    ['from', { transport }, /one email address/],
    ['from', { transport, from: 'not an address' }, /one email address/],
    ['from', { transport, from: 'a@example.com, b@example.com' }, /one email address/],
    ['from', { transport, from: 'a@example.com\r\nBcc: x@example.com' }, /one email address/],
    ['subject', { transport, from: 'a@example.com', subject: 'Code' }, /function/],
    ['text', { transport, from: 'a@example.com', text: 42 }, /function/],
    ['html', { transport, from: 'a@example.com', html: '<p>' }, /function/],
    ['timeoutMs', { transport, from: 'a@example.com', timeoutMs: -1 }, /between 1 and 300000/],
    ['transport', { from: 'a@example.com' }, /transport options/],
    ['transport', { transport: '', from: 'a@example.com' }, /transport options/],
  ])('bad %s is refused (case %#)', (option, options, pattern) => {
    let thrown: unknown;
    try {
      smtpEmail(options as SmtpEmailOptions);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toBeInstanceOf(MfaConfigError);
    expect((thrown as MfaConfigError).option).toBe(option);
    expect((thrown as Error).message).toMatch(pattern);
  });

  test('valid forms: options object, URL, Transporter', () => {
    expect(typeof smtpEmail({ transport, from: 'a@example.com' }).send).toBe('function');
    expect(typeof smtpEmail({ transport: 'smtp://127.0.0.1:2525', from: '"Acme Inc." <a@example.com>' }).send).toBe('function');
    expect(typeof smtpEmail({ transport: nodemailer.createTransport({ jsonTransport: true }), from: 'a@example.com' }).send).toBe('function');
  });

  test('a text function that returns nothing fails the send, naming the option', async () => {
    const email = smtpEmail({ transport: { jsonTransport: true }, from: 'a@example.com', text: () => '' });
    await expect(email.send(message)).rejects.toThrow(/`text` must return a non-empty string/);
  });
});
