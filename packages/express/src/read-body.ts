// packages/express/src/read-body.ts
// The JSON body of a request, whether or not the host installed express.json(): a body already
// parsed by the host is used as is; otherwise the raw stream is read here (JSON only, UTF-8,
// at most 16 kB). Anything that is not a JSON object is `400 invalid_request` (field `body`).
// A body that is not declared JSON is `415`, even when the host's own parser (express.urlencoded,
// express.text) already turned it into an object: a cross-site form can send those without a
// CORS preflight, never application/json.
import type { Request } from 'express';
import { invalidRequest, ProblemError } from './problem';

const BODY_LIMIT_BYTES = 16 * 1024;

export type JsonBody = Record<string, unknown>;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function asObject(value: unknown): JsonBody {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw invalidRequest('body', 'The request body must be a JSON object.');
  }
  return value as JsonBody;
}

function isEmptyPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.keys(value).length === 0;
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function readRaw(req: Request): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: unknown, text?: string) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      req.removeListener('aborted', onAborted);
      if (error) reject(error);
      else resolve(text ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > BODY_LIMIT_BYTES) {
        req.resume(); // discard the rest
        finish(invalidRequest('body', `The request body must be at most ${BODY_LIMIT_BYTES / 1024} kB.`));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = () => {
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
      try {
        finish(null, text.decode(Buffer.concat(chunks)));
      } catch {
        finish(invalidRequest('body', 'The request body is not valid UTF-8.'));
      }
    };
    const onError = () => finish(invalidRequest('body', 'The request body could not be read.'));
    const onAborted = () => finish(invalidRequest('body', 'The request body could not be read.'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** The request's JSON object body (`{}` when there is none). Throws `ProblemError` (400) otherwise. */
export async function readJsonBody(req: Request): Promise<JsonBody> {
  const type = req.headers['content-type'] ?? '';
  if (hasBody(req) && !JSON_TYPE.test(type)) throw new ProblemError('unsupported_media_type');
  const parsed: unknown = req.body;
  const unread = hasBody(req) && !req.readableEnded;
  // Express 4's body-parser leaves `{}` (and no `_body` mark) for a body it did not parse: read it here.
  const placeholder = unread && isEmptyPlainObject(parsed) && (req as { _body?: unknown })._body !== true;
  if (parsed !== undefined && !placeholder) return asObject(parsed);
  if (!unread) return {};

  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) throw invalidRequest('body', 'The request body must be UTF-8.');
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') throw invalidRequest('body', 'Compressed request bodies are not accepted.');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > BODY_LIMIT_BYTES) {
    throw invalidRequest('body', `The request body must be at most ${BODY_LIMIT_BYTES / 1024} kB.`);
  }

  const text = await readRaw(req);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest('body', 'The request body is not valid JSON.');
  }
  const body = asObject(value);
  req.body = body;
  return body;
}
