// packages/express/test/openapi.test.ts
// docs/openapi.yaml is the contract: real answers from a supertest run of the whole flow, of
// the failure paths, of the policy's enrolment flow and of the admin router are validated
// (status, content type, required headers, JSON body) against the schema documented for that
// route and status. An undocumented route or status fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import type { MfaPolicy } from '@secondfactor/core';
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode, oathtool, setCookies, type Host, type Recorded } from './support/host-app';
import { wholeFlow } from './support/whole-flow';

type Json = Record<string, unknown>;
interface OpenApiResponse {
  $ref?: string;
  description?: string;
  headers?: Record<string, { $ref?: string; required?: boolean; schema?: Json }>;
  content?: Record<string, { schema: Json }>;
}
interface OpenApiOperation {
  responses: Record<string, OpenApiResponse>;
  'x-secondfactor-package'?: string;
}
interface OpenApiDoc {
  openapi: string;
  /** A path item's `servers` (the host's `/login`, the admin routes) sits beside its operations. */
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, Json>; responses: Record<string, OpenApiResponse>; headers: Record<string, { required?: boolean; schema: Json }> };
}

const doc = parse(readFileSync(join(__dirname, '../../../docs/openapi.yaml'), 'utf8')) as OpenApiDoc;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true, allowUnionTypes: true, formats: { 'date-time': (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) } });

/** `#/components/schemas/X` → a reference into one schema that holds them all. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', 'urn:secondfactor:openapi#/$defs/') : rewriteRefs(v)]));
  }
  return value;
}
ajv.addSchema({ $id: 'urn:secondfactor:openapi', $defs: rewriteRefs(doc.components.schemas) as Json });
const compiled = new Map<Json, ValidateFunction>();
const validatorFor = (schema: Json) => {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(rewriteRefs(schema) as Json);
    compiled.set(schema, v);
  }
  return v;
};

const resolveResponse = (r: OpenApiResponse): { name: string; response: OpenApiResponse } => {
  if (!r.$ref) return { name: '(inline)', response: r };
  const name = r.$ref.replace('#/components/responses/', '');
  const response = doc.components.responses[name];
  if (!response) throw new Error(`dangling ${r.$ref}`);
  return { name, response };
};

/** Where the document says a path is mounted: its own `servers`, or the document's (mfaRouter's `/mfa`). */
const ADMIN_SERVER = '/admin/mfa';
const serverOf = (template: string) => (doc.paths[template] as { servers?: { url: string }[] }).servers?.[0]?.url;

/** The documented operation of `path` among the routes of one mount point (`server`: undefined for mfaRouter). */
function operationFor(method: string, path: string, server?: string): { template: string; responses: Record<string, OpenApiResponse> } | undefined {
  for (const [template, item] of Object.entries(doc.paths)) {
    if (serverOf(template) !== server) continue;
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = item[method.toLowerCase()];
    if (re.test(path) && op) return { template, responses: op.responses };
  }
  return undefined;
}

const validated: { operation: string; status: number; response: string }[] = [];

/** Checks one recorded answer against the documented response for its route and status. */
function check(r: Recorded, documented: { operation: string; response: OpenApiResponse | undefined }) {
  const where = `${documented.operation} → ${r.status}`;
  if (!documented.response) throw new Error(`undocumented: ${where} (${r.text.slice(0, 200)})`);
  const { name, response } = resolveResponse(documented.response);
  for (const [header, spec] of Object.entries(response.headers ?? {})) {
    const h = spec.$ref ? doc.components.headers[spec.$ref.replace('#/components/headers/', '')]! : (spec as { required?: boolean; schema: Json });
    const value = r.headers[header.toLowerCase()];
    if (value === undefined) {
      if (h.required) throw new Error(`${where}: missing required header ${header}`);
      continue;
    }
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!validatorFor(h.schema)(v)) throw new Error(`${where}: header ${header}=${v} does not match ${JSON.stringify(h.schema)}`);
    }
  }
  const contentType = String(r.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!response.content) {
    if (r.text !== '' || contentType !== '') throw new Error(`${where}: documented without a body, got ${contentType} ${r.text}`);
  } else {
    const media = response.content[contentType];
    if (!media) throw new Error(`${where}: content type ${contentType} is not documented (${Object.keys(response.content).join(', ')})`);
    const validate = validatorFor(media.schema);
    if (!validate(r.body)) throw new Error(`${where} (${name}): ${ajv.errorsText(validate.errors)}\n${r.text}`);
  }
  validated.push({ operation: documented.operation, status: r.status, response: name });
}

function checkLog(log: Recorded[]) {
  for (const r of log) {
    const path = r.path.split('?')[0]!;
    if (path.startsWith('/mfa/')) {
      const op = operationFor(r.method, path.slice('/mfa'.length));
      if (!op) throw new Error(`undocumented route: ${r.method} ${path}`);
      check(r, { operation: `${r.method} ${op.template}`, response: op.responses[String(r.status)] });
    } else if (path.startsWith('/admin-api/')) {
      // The host mounted mfaAdminRouter() at /admin-api; the document's admin routes carry their own server.
      const op = operationFor(r.method, path.slice('/admin-api'.length), ADMIN_SERVER);
      if (!op) throw new Error(`undocumented admin route: ${r.method} ${path}`);
      check(r, { operation: `${r.method} ${op.template}`, response: op.responses[String(r.status)] });
    } else if (path === '/login') {
      // The gate's own answers; the host's session answer is the host's format.
      const gate = r.body as { mfaRequired?: boolean; mfaEnrollmentRequired?: boolean };
      if (gate.mfaRequired === true || gate.mfaEnrollmentRequired === true || r.status >= 500) {
        check(r, { operation: 'POST /login', response: doc.paths['/login']!.post!.responses[String(r.status)] });
      }
    } else if (path === '/admin' && r.status === 401) {
      check(r, { operation: 'requireMfa()', response: { $ref: '#/components/responses/StepUpRequired' } });
    }
  }
}

/** Failure paths that produce every documented error answer. */
async function failureBattery(): Promise<Host[]> {
  const host = hostApp();
  const { call } = host;
  const { secret, factorId, backupCodes } = await enrolTotpOverHttp(host, 'alice');
  const T = 'A'.repeat(43);
  // 400 on every route that reads input
  await call('post', '/mfa/totp/setup', { user: 'alice', body: { label: 5 } });
  await call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId, code: 123456 } });
  await call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: 5 } });
  await call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: [] } });
  await call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'nope' } });
  await call('post', '/mfa/email/confirm', { user: 'alice', body: {} });
  await call('post', '/mfa/challenge/sms', { body: {} });
  await call('post', '/mfa/challenge/email', { raw: '{' });
  await call('post', '/mfa/verify', { body: { challengeToken: T, method: 'totp', code: ['1'] } });
  await call('post', '/mfa/step-up', { user: 'alice', body: { code: 1 } });
  await call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: { code: {} } });
  await call('delete', `/mfa/factors/${factorId}`, { user: 'alice', raw: '[]' });
  await call('post', '/mfa/disable', { user: 'alice', body: { password: 1 } });
  await call('delete', `/mfa/trusted-devices/${'x'.repeat(200)}`, { user: 'alice' });
  // 401: nobody signed in, wrong code, wrong password, expired challenge
  for (const [m, p] of [['get', '/mfa/status'], ['get', '/mfa/trusted-devices'], ['delete', '/mfa/trusted-devices/x'], ['post', '/mfa/totp/setup'], ['post', '/mfa/totp/confirm'],
    ['post', '/mfa/sms/setup'], ['post', '/mfa/sms/confirm'], ['post', '/mfa/email/setup'], ['post', '/mfa/email/confirm'], ['post', '/mfa/step-up'],
    ['post', '/mfa/backup-codes/regenerate'], ['delete', '/mfa/factors/x'], ['post', '/mfa/disable']] as const) {
    await call(m, p, m === 'get' ? {} : { body: {} });
  }
  await call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(host, 'alice'), method: 'totp', code: '000000' === oathtool(secret, host.clock.now()) ? '111111' : '000000' } });
  await call('post', '/mfa/verify', { body: { challengeToken: T, method: 'totp', code: '123456' } });
  await call('post', '/mfa/challenge/sms', { body: { challengeToken: T } });
  await call('post', '/mfa/challenge/email', { body: { challengeToken: T } });
  await call('post', '/mfa/disable', { user: 'alice', body: { password: 'wrong' } });
  await call('post', '/mfa/step-up', { user: 'alice', body: { code: backupCodes[0]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } });
  await call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: { code: '000000' === oathtool(secret, host.clock.now()) ? '111111' : '000000' } });
  await call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId: 'nope', code: '123456' } });
  // 403 fresh proof
  await call('post', '/mfa/totp/setup', { user: 'alice', body: {} });
  await call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123' } });
  await call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'a@example.com' } });
  await call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: {} });
  await call('delete', `/mfa/factors/${factorId}`, { user: 'alice' });
  await call('post', '/mfa/disable', { user: 'alice', body: {} });
  // 404 / 409
  await call('post', '/mfa/challenge/sms', { user: 'bob', body: {} });
  await call('post', '/mfa/challenge/email', { user: 'bob', body: {} });
  await call('delete', '/mfa/factors/nope', { user: 'alice', body: { code: nextCode(host, secret) } });
  await call('delete', '/mfa/trusted-devices/nope', { user: 'alice' });
  await call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId, code: oathtool(secret, host.clock.now()) } });
  await call('post', '/mfa/step-up', { user: 'bob', body: { code: '123456' } });
  await call('post', '/mfa/disable', { user: 'bob', body: { code: '123456' } });
  await call('post', '/mfa/backup-codes/regenerate', { user: 'bob', body: { code: '123456' } });
  let res = await call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
  await call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (res.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
  await call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (res.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
  await call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(host, secret) } });
  res = await call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'alice@example.com', code: nextCode(host, secret) } });
  await call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: (res.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
  await call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: (res.body as { factorId: string }).factorId, code: host.outbox.at(-1)!.code } });
  await call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'alice@example.com', code: nextCode(host, secret) } });
  await call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: 'nope', code: '123456' } });
  await call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: 'nope', code: '123456' } });
  // Pending factors, to be confirmed during the backoff below.
  const pendingTotp = (await call('post', '/mfa/totp/setup', { user: 'alice', body: { code: nextCode(host, secret) } })).body as { factorId: string };
  const pendingSms = (await call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550188', code: nextCode(host, secret) } })).body as { factorId: string };
  host.clock.advance(31);
  const pendingEmail = (await call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'other@example.com', code: nextCode(host, secret) } })).body as { factorId: string };
  // 429: send cooldown, then the failure backoff on every verifying route
  host.clock.advance(31);
  const challengeToken = await challengeFor(host, 'alice');
  await call('post', '/mfa/challenge/sms', { body: { challengeToken } });
  await call('post', '/mfa/challenge/sms', { body: { challengeToken } });
  await call('post', '/mfa/challenge/email', { body: { challengeToken } });
  await call('post', '/mfa/challenge/email', { body: { challengeToken } });
  for (let i = 0; i < 5; i++) await call('post', '/mfa/step-up', { user: 'alice', body: { code: '000000' === oathtool(secret, host.clock.now()) ? '111111' : '000000' } });
  const code = oathtool(secret, host.clock.now());
  for (const p of ['/mfa/step-up', '/mfa/backup-codes/regenerate', '/mfa/disable', '/mfa/totp/setup', '/mfa/sms/setup', '/mfa/email/setup']) {
    await call('post', p, { user: 'alice', body: { code, phone: '+14155550199', email: 'third@example.com' } });
  }
  await call('post', '/mfa/totp/confirm', { user: 'alice', body: { factorId: pendingTotp.factorId, code } });
  await call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: pendingSms.factorId, code: '123456' } });
  await call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: pendingEmail.factorId, code: '123456' } });
  await call('delete', `/mfa/factors/${factorId}`, { user: 'alice', body: { code } });
  await call('post', '/mfa/verify', { body: { challengeToken, method: 'totp', code } });
  res = await call('post', '/mfa/totp/setup', { user: 'carol', body: {} });
  await call('post', '/mfa/totp/confirm', { user: 'carol', body: { factorId: (res.body as { factorId: string }).factorId, code: '000000' } });
  // a form body: 415 on every route that reads a body
  for (const [method, path] of [
    ['post', '/mfa/totp/setup'], ['post', '/mfa/totp/confirm'], ['post', '/mfa/sms/setup'], ['post', '/mfa/sms/confirm'], ['post', '/mfa/email/setup'],
    ['post', '/mfa/email/confirm'], ['post', '/mfa/challenge/sms'], ['post', '/mfa/challenge/email'], ['post', '/mfa/verify'], ['post', '/mfa/step-up'],
    ['post', '/mfa/backup-codes/regenerate'], ['delete', `/mfa/factors/${factorId}`], ['post', '/mfa/disable'],
  ] as const) {
    await call(method, path, { user: 'alice', raw: 'code=123456', contentType: 'application/x-www-form-urlencoded' });
  }
  await call('post', '/mfa/disable', { user: 'alice', body: { code: 123456 } });
  // requireMfa refusals
  await call('get', '/admin', { user: 'alice' });
  await call('get', '/admin', { user: 'alice', headers: { Authorization: `Bearer ${challengeToken}` } });

  // 500, 502, 503, and 204 from /verify
  const crashing = hostApp({ router: { onLoginComplete: () => { throw new Error('boom'); } } });
  const c = await enrolTotpOverHttp(crashing, 'alice');
  await crashing.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(crashing, 'alice'), method: 'totp', code: nextCode(crashing, c.secret) } });
  const silent = hostApp({ router: { onLoginComplete: (_req, res) => void res.status(204).end() } });
  const s = await enrolTotpOverHttp(silent, 'alice');
  await silent.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(silent, 'alice'), method: 'totp', code: nextCode(silent, s.secret), trustDevice: true } });
  const provider = { down: false, sent: [] as string[] };
  const sender = { send: async (m: { code: string }) => { if (provider.down) throw new Error('provider down'); provider.sent.push(m.code); } };
  const noProvider = hostApp({ mfa: { sms: sender, email: sender } });
  const n = await enrolTotpOverHttp(noProvider, 'alice');
  let r = await noProvider.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(noProvider, n.secret) } });
  await noProvider.call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (r.body as { factorId: string }).factorId, code: provider.sent.at(-1) } });
  r = await noProvider.call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'alice@example.com', code: nextCode(noProvider, n.secret) } });
  await noProvider.call('post', '/mfa/email/confirm', { user: 'alice', body: { factorId: (r.body as { factorId: string }).factorId, code: provider.sent.at(-1) } });
  provider.down = true;
  noProvider.clock.advance(31);
  await noProvider.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550177', code: nextCode(noProvider, n.secret) } });
  await noProvider.call('post', '/mfa/email/setup', { user: 'alice', body: { email: 'new@example.com', code: nextCode(noProvider, n.secret) } });
  const providerToken = await challengeFor(noProvider, 'alice');
  await noProvider.call('post', '/mfa/challenge/sms', { body: { challengeToken: providerToken } });
  noProvider.clock.advance(3600); // a fresh hour for the per-user send limit
  await noProvider.call('post', '/mfa/challenge/email', { body: { challengeToken: await challengeFor(noProvider, 'alice') } });
  const down = hostApp();
  await enrolTotpOverHttp(down, 'alice');
  const downToken = await challengeFor(down, 'alice');
  down.broken.add('*');
  await down.login('alice');
  for (const [m, p] of [['get', '/mfa/status'], ['get', '/mfa/trusted-devices'], ['delete', '/mfa/trusted-devices/x'], ['post', '/mfa/totp/setup'],
    ['post', '/mfa/totp/confirm'], ['post', '/mfa/sms/setup'], ['post', '/mfa/sms/confirm'], ['post', '/mfa/email/setup'], ['post', '/mfa/email/confirm'],
    ['post', '/mfa/step-up'], ['post', '/mfa/backup-codes/regenerate'], ['post', '/mfa/disable'], ['delete', '/mfa/factors/x']] as const) {
    await down.call(m, p, { user: 'alice', ...(m === 'get' ? {} : { body: { code: '123456', factorId: 'f', phone: '+14155550123', email: 'a@example.com' } }) });
  }
  await down.call('post', '/mfa/verify', { body: { challengeToken: downToken, method: 'totp', code: '123456' } });
  await down.call('post', '/mfa/challenge/sms', { body: { challengeToken: downToken } });
  await down.call('post', '/mfa/challenge/email', { body: { challengeToken: downToken } });

  // Step-up with a code sent for it: the signed-in user's challenge step (no challenge token),
  // then {method, code}; and the same for fresh proof.
  const bySms = hostApp();
  const t = await enrolTotpOverHttp(bySms, 'alice');
  const phone = await bySms.call('post', '/mfa/sms/setup', { user: 'alice', body: { phone: '+14155550123', code: nextCode(bySms, t.secret) } });
  await bySms.call('post', '/mfa/sms/confirm', { user: 'alice', body: { factorId: (phone.body as { factorId: string }).factorId, code: bySms.outbox.at(-1)!.code } });
  bySms.clock.advance(31);
  expect((await bySms.call('post', '/mfa/challenge/sms', { user: 'alice', body: {} })).status).toBe(202);
  expect((await bySms.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'sms', code: bySms.outbox.at(-1)!.code } })).status).toBe(200);
  bySms.clock.advance(31);
  await bySms.call('post', '/mfa/challenge/sms', { user: 'alice', body: {} });
  expect((await bySms.call('post', '/mfa/backup-codes/regenerate', { user: 'alice', body: { method: 'sms', code: bySms.outbox.at(-1)!.code } })).status).toBe(200);

  // The assertion cookie (router option assertionCookie) on /verify and /step-up, read by requireMfa.
  const withCookie = hostApp({ router: { assertionCookie: true } });
  const w = await enrolTotpOverHttp(withCookie, 'alice');
  const verified = await withCookie.call('post', '/mfa/verify', { body: { challengeToken: await challengeFor(withCookie, 'alice'), method: 'totp', code: nextCode(withCookie, w.secret), trustDevice: true } });
  expect(setCookies(verified).map((c) => c.split('=')[0])).toEqual(['__Host-sf_td', '__Host-sf_mfa']);
  const steppedUp = await withCookie.call('post', '/mfa/step-up', { user: 'alice', body: { code: nextCode(withCookie, w.secret) } });
  expect(setCookies(steppedUp).map((c) => c.split('=')[0])).toEqual(['__Host-sf_mfa']);
  withCookie.clock.advance(61);
  await withCookie.call('get', '/admin', { user: 'alice', headers: { Cookie: setCookies(verified)[1]!.split(';')[0]! } });
  return [host, crashing, silent, noProvider, down, bySms, withCookie];
}

/** The policy's enrolment flow (the gate's answer, setup and confirm with the token, the login it completes) and the admin router, with their failure answers. */
async function policyAndAdminBattery(): Promise<Host[]> {
  // alice and carol must use an authenticator app; bob is only nudged.
  const policy = (userId: string): MfaPolicy => (userId === 'bob' ? { required: false } : { required: true, methods: ['totp'] });
  const host = hostApp({ gate: { policy }, router: { assertionCookie: true } });
  const { call } = host;
  const gate = await host.login('alice');
  expect(gate.body).toMatchObject({ mfaEnrollmentRequired: true, methods: ['totp'] });
  const token = (gate.body as { enrollmentToken: string }).enrollmentToken;
  const unknown = 'A'.repeat(43);
  // Refused everywhere but the setup and confirm of the allowed types.
  expect((await call('post', '/mfa/verify', { body: { challengeToken: token, method: 'totp', code: '123456' } })).body.code).toBe('challenge_expired');
  expect((await call('get', '/mfa/status', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  expect((await call('get', '/admin', { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  for (const [path, body] of [['/mfa/sms/setup', { phone: '+14155550123' }], ['/mfa/email/setup', { email: 'alice@example.com' }]] as const) {
    const r = await call('post', path, { body: { enrollmentToken: token, ...body } });
    expect([path, r.status, r.body.field]).toEqual([path, 400, 'method']);
  }
  // An unknown token (401 challenge_expired) and another user's (403 forbidden), on every setup and confirm.
  for (const type of ['totp', 'sms', 'email']) {
    const input = { phone: '+14155550123', email: 'alice@example.com' };
    expect((await call('post', `/mfa/${type}/setup`, { body: { enrollmentToken: unknown, ...input } })).body).toMatchObject({ status: 401, code: 'challenge_expired' });
    expect((await call('post', `/mfa/${type}/confirm`, { body: { enrollmentToken: unknown, factorId: 'f', code: '123456' } })).body).toMatchObject({ status: 401, code: 'challenge_expired' });
    expect((await call('post', `/mfa/${type}/setup`, { user: 'bob', body: { enrollmentToken: token, ...input } })).body).toMatchObject({ status: 403, code: 'forbidden' });
    expect((await call('post', `/mfa/${type}/confirm`, { user: 'bob', body: { enrollmentToken: token, factorId: 'f', code: '123456' } })).body).toMatchObject({ status: 403, code: 'forbidden' });
  }
  const setup = await call('post', '/mfa/totp/setup', { body: { enrollmentToken: token, label: 'Phone' } });
  expect(setup.status).toBe(200);
  const { factorId, secret } = setup.body as { factorId: string; secret: string };
  const wrong = oathtool(secret, host.clock.now()) === '000000' ? '111111' : '000000';
  expect((await call('post', '/mfa/totp/confirm', { body: { enrollmentToken: token, factorId, code: wrong } })).body.code).toBe('invalid_code');
  // The confirmation completes the login: the default answer, with the first factor's backup codes and the assertion cookie.
  const done = await call('post', '/mfa/totp/confirm', { body: { enrollmentToken: token, factorId, code: oathtool(secret, host.clock.now()) } });
  expect(done.status).toBe(200);
  expect(Object.keys(done.body).sort()).toEqual(['accessToken', 'backupCodes', 'expiresIn', 'factor', 'tokenType']);
  expect(setCookies(done).map((c) => c.split('=')[0])).toEqual(['__Host-sf_mfa']);
  // Spent: a replay on setup or confirm.
  expect((await call('post', '/mfa/totp/setup', { body: { enrollmentToken: token } })).body.code).toBe('challenge_expired');
  expect((await call('post', '/mfa/totp/confirm', { body: { enrollmentToken: token, factorId, code: nextCode(host, secret) } })).body.code).toBe('challenge_expired');
  // carol's only factor (SMS) does not count: she enrols an app; not her first factor, so no backup codes.
  const sms = await call('post', '/mfa/sms/setup', { user: 'carol', body: { phone: '+14155550123' } });
  expect((await call('post', '/mfa/sms/confirm', { user: 'carol', body: { factorId: sms.body.factorId, code: host.outbox.at(-1)!.code } })).status).toBe(200);
  const carolToken = ((await host.login('carol')).body as { enrollmentToken: string }).enrollmentToken;
  const carolSetup = await call('post', '/mfa/totp/setup', { body: { enrollmentToken: carolToken } });
  const carolDone = await call('post', '/mfa/totp/confirm', { body: { enrollmentToken: carolToken, factorId: carolSetup.body.factorId, code: oathtool(carolSetup.body.secret, host.clock.now()) } });
  expect(Object.keys(carolDone.body).sort()).toEqual(['accessToken', 'expiresIn', 'factor', 'tokenType']);

  // The admin router (at /admin-api, the host's x-admin check).
  const admin = hostApp({ mfa: { limits: { lockAfterFailures: 5, backoffAfterFailures: 5 } } });
  const ADMIN = { 'x-admin': 'admin-1' };
  const routes = [['get', '/admin-api/users/alice'], ['post', '/admin-api/users/alice/reset'], ['post', '/admin-api/users/alice/unlock'], ['get', '/admin-api/stats'], ['get', '/admin-api/events']] as const;
  for (const [method, path] of routes) {
    for (const headers of [{}, { 'x-admin': 'user-1' }] as Record<string, string>[]) {
      expect((await admin.call(method, path, { user: 'alice', headers, ...(method === 'post' ? { body: {} } : {}) })).status).toBe(403);
    }
  }
  const a = await enrolTotpOverHttp(admin, 'alice');
  const bad = oathtool(a.secret, admin.clock.now()) === '000000' ? '111111' : '000000';
  for (let i = 0; i < 5; i++) await admin.call('post', '/mfa/step-up', { user: 'alice', body: { code: bad } });
  expect((await admin.call('get', '/admin-api/users/alice', { headers: ADMIN })).body).toMatchObject({ locked: true, factors: [{ type: 'totp' }] });
  expect((await admin.call('get', '/admin-api/users/nobody', { headers: ADMIN })).body).toMatchObject({ enabled: false, events: [] });
  expect((await admin.call('post', '/admin-api/users/alice/unlock', { headers: ADMIN, body: {} })).status).toBe(204);
  expect((await admin.call('post', '/admin-api/users/alice/unlock', { headers: ADMIN })).status).toBe(204);
  expect((await admin.call('post', '/admin-api/users/alice/reset', { headers: ADMIN, body: { reason: 'lost phone; identity checked' } })).status).toBe(204);
  expect((await admin.call('post', '/admin-api/users/bob/reset', { headers: ADMIN })).status).toBe(204);
  // Every page of alice's events, through the cursors, then all users'.
  let cursor: string | null = '';
  const seen: string[] = [];
  while (cursor !== null) {
    const page = await admin.call('get', `/admin-api/events?userId=alice&limit=3${cursor ? `&cursor=${cursor}` : ''}`, { headers: ADMIN });
    expect(page.status).toBe(200);
    seen.push(...(page.body.events as { id: string }[]).map((e) => e.id));
    cursor = page.body.nextCursor as string | null;
  }
  expect(seen.length).toBeGreaterThan(6);
  expect(new Set(seen).size).toBe(seen.length);
  const since = admin.clock.now() - 86_400_000;
  expect((await admin.call('get', `/admin-api/events?since=${new Date(since).toISOString()}&until=${admin.clock.now() + 1}&limit=200`, { headers: ADMIN })).body.events.length).toBeGreaterThan(seen.length);
  expect((await admin.call('get', '/admin-api/stats', { headers: ADMIN })).body.days).toHaveLength(31);
  expect((await admin.call('get', `/admin-api/stats?since=${since}&until=${new Date(admin.clock.now() + 1).toISOString()}`, { headers: ADMIN })).body.days.at(-1)).toMatchObject({ failures: 5, locks: 1 });
  // 400: a bad id, body, cursor, time or limit
  for (const [method, path, init] of [
    ['get', `/admin-api/users/${'x'.repeat(256)}`, {}], ['post', '/admin-api/users/alice/reset', { body: { reason: 5 } }],
    ['post', '/admin-api/users/alice/reset', { body: { reason: 'x'.repeat(501) } }], ['post', '/admin-api/users/alice/unlock', { raw: '{' }],
    ['get', '/admin-api/events?cursor=%25%25', {}], ['get', '/admin-api/events?cursor=bm90LWEtY3Vyc29y', {}], ['get', '/admin-api/events?since=yesterday', {}],
    ['get', '/admin-api/events?until=1e3', {}], ['get', '/admin-api/events?limit=0', {}], ['get', '/admin-api/events?limit=500', {}],
    ['get', `/admin-api/events?userId=${'u'.repeat(256)}`, {}], ['get', '/admin-api/stats?until=tomorrow', {}], ['get', `/admin-api/stats?since=${admin.clock.now() + 1}`, {}],
  ] as const) {
    const r = await admin.call(method, path, { headers: ADMIN, ...init });
    expect([path.slice(0, 60), r.status, r.body.code]).toEqual([path.slice(0, 60), 400, 'invalid_request']);
  }
  // 415: a form body
  for (const path of ['/admin-api/users/alice/reset', '/admin-api/users/alice/unlock']) {
    expect((await admin.call('post', path, { headers: ADMIN, raw: 'reason=x', contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
  }
  // 503: the store is down
  admin.broken.add('*');
  for (const [method, path] of routes) {
    const r = await admin.call(method, path, { headers: ADMIN, ...(method === 'post' ? { body: {} } : {}) });
    expect([path, r.status, r.body.code]).toEqual([path, 503, 'store_unavailable']);
  }
  return [host, admin];
}

describe('docs/openapi.yaml', () => {
  test('is OpenAPI 3.1 and every $ref resolves', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/(schemas|responses|headers|parameters)\/([A-Za-z]+)"/g)) {
      expect((doc.components as unknown as Record<string, Record<string, unknown>>)[m[1]!]?.[m[2]!]).toBeDefined();
    }
  });

  test('the WebAuthn schemas take the JSON browsers and @simplewebauthn produce, and refuse what lacks a required member', () => {
    // The shapes of WebAuthn Level 3 toJSON() / @simplewebauthn v13 (real answers are validated by
    // the WebAuthn package's tests); here: the schemas compile strictly and are neither too
    // tight for extra members nor loose enough to take a wrong object.
    const b64 = 'q83vEjRWeJA';
    const key = { id: b64, type: 'public-key', transports: ['usb', 'hybrid'] };
    const schema = (name: string) => validatorFor({ $ref: `#/components/schemas/${name}` });
    const samples: [string, Json, string][] = [
      ['PublicKeyCredentialCreationOptionsJSON', {
        challenge: b64, rp: { name: 'Acme', id: 'localhost' }, user: { id: b64, name: 'alice@example.com', displayName: 'alice@example.com' },
        pubKeyCredParams: [{ alg: -8, type: 'public-key' }, { alg: -7, type: 'public-key' }, { alg: -257, type: 'public-key' }], timeout: 60000, attestation: 'none',
        excludeCredentials: [key], authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred', requireResidentKey: false }, extensions: { credProps: true }, hints: [],
      }, 'pubKeyCredParams'],
      ['PublicKeyCredentialRequestOptionsJSON', { rpId: 'localhost', challenge: b64, timeout: 60000, userVerification: 'preferred', allowCredentials: [key] }, 'challenge'],
      ['RegistrationResponseJSON', {
        id: b64, rawId: b64, type: 'public-key', authenticatorAttachment: 'cross-platform', clientExtensionResults: { credProps: { rk: false } },
        response: { clientDataJSON: b64, attestationObject: b64, transports: ['usb'], publicKeyAlgorithm: -7, publicKey: b64, authenticatorData: b64 },
      }, 'rawId'],
      ['AuthenticationResponseJSON', {
        id: b64, rawId: b64, type: 'public-key', authenticatorAttachment: 'platform', clientExtensionResults: {},
        response: { clientDataJSON: b64, authenticatorData: b64, signature: b64, userHandle: b64 },
      }, 'response'],
    ];
    for (const [name, sample, required] of samples) {
      expect([name, schema(name)(sample)]).toEqual([name, true]);
      const { [required]: _, ...without } = sample;
      expect([name, required, schema(name)(without)]).toEqual([name, required, false]);
      if (name.endsWith('OptionsJSON')) expect([name, schema(name)({ ...sample, challenge: 'not base64url!' })]).toEqual([name, false]);
    }
    expect(schema('WebauthnSetup')({ factorId: 'f1', options: samples[0]![1] })).toBe(true);
    expect(schema('WebauthnChallenge')({ options: samples[1]![1] })).toBe(true);
    expect(schema('WebauthnChallenge')({ options: samples[1]![1], secret: 'x' })).toBe(false);
  });

  test('real answers of the whole flow and of every failure path match the documented schemas', async () => {
    const flow = hostApp();
    await wholeFlow(flow);
    const hosts = [flow, ...(await failureBattery()), ...(await policyAndAdminBattery())];
    for (const h of hosts) checkLog(h.log);

    // Every documented operation was exercised, and every documented reusable answer was seen —
    // except the routes of a factor type from another package (WebAuthn), which these hosts do
    // not register: that package's tests validate its answers against this document.
    const operations = new Set(validated.map((v) => v.operation));
    const otherPackage = new Set<string>();
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((k) => ['get', 'post', 'delete', 'put', 'patch'].includes(k))) {
        if (item[method]!['x-secondfactor-package'] !== undefined) otherPackage.add(`${method.toUpperCase()} ${template}`);
        else expect([...operations]).toContain(`${method.toUpperCase()} ${template}`);
      }
    }
    expect([...otherPackage].sort()).toEqual(['POST /challenge/webauthn', 'POST /webauthn/confirm', 'POST /webauthn/setup']);
    const answers = new Set(validated.map((v) => v.response));
    for (const name of Object.keys(doc.components.responses)) expect([...answers]).toContain(name);
    // Each documented status of each operation that the failure paths aim at was produced.
    const seen = new Set(validated.map((v) => `${v.operation} ${v.status}`));
    const missing: string[] = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'delete'].includes(method) || otherPackage.has(`${method.toUpperCase()} ${template}`)) continue;
        for (const status of Object.keys(op.responses)) {
          if (status === '500' && !['/verify'].includes(template)) continue; // one 500 is enough: the mapping is shared
          const key = `${method.toUpperCase()} ${template} ${status}`;
          if (!seen.has(key)) missing.push(key);
        }
      }
    }
    expect(missing).toEqual([]);
  }, 90_000); // the whole flow and the failure battery: ~16 s alone, more on a loaded CI machine
});
