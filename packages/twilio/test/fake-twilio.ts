// packages/twilio/test/fake-twilio.ts
// A local stand-in for the Twilio REST API (node:http on 127.0.0.1): records requests, answers as told.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  form: Record<string, string>;
}

/** How the fake answers one request: a status with a JSON or text body, or never. */
export type FakeReply = { status: number; json?: unknown; text?: string } | 'hang';

export interface FakeTwilio {
  base: string;
  requests: RecordedRequest[];
  /** Sets the answer for the following requests (default: 201 with a queued message). */
  reply(answer: FakeReply): void;
  close(): Promise<void>;
}

function queuedMessage(form: Record<string, string>): unknown {
  return {
    sid: 'SM' + 'a'.repeat(32),
    account_sid: 'AC' + '0'.repeat(32),
    to: form.To,
    from: form.From ?? null,
    messaging_service_sid: form.MessagingServiceSid ?? null,
    body: form.Body,
    status: 'queued',
    num_segments: '1',
    direction: 'outbound-api',
    api_version: '2010-04-01',
    date_created: new Date().toUTCString(),
    uri: '/2010-04-01/Accounts/AC.../Messages/SM....json',
  };
}

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const requests: RecordedRequest[] = [];
  let answer: FakeReply | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, form });
      if (answer === 'hang') return;
      const { status, json, text } = answer ?? { status: 201, json: queuedMessage(form) };
      if (text !== undefined) {
        res.writeHead(status, { 'content-type': 'text/html' }).end(text);
      } else {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json ?? {}));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    reply(next) {
      answer = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A body in Twilio's error format, as the real API sends it. */
export function twilioError(status: number, code: number, message: string): FakeReply {
  return { status, json: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}
