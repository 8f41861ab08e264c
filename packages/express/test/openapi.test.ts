// packages/express/test/openapi.test.ts
// docs/openapi.yaml is the contract: real answers from a supertest run of the whole flow and of
// the failure paths are validated (status, content type, required headers, JSON body) against
// the schema documented for that route and status. An undocumented route or status fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { challengeFor, enrolTotpOverHttp, hostApp, nextCode, oathtool, setCookies, type Host, type Recorded } from './support/host-app';
import { wholeFlow } from './support/whole-flow';

type Json = Record<string, unknown>;
interface OpenApiResponse {
  $ref?: string;
  description?: string;
  headers?: Record<string, { $ref?: string; required?: boolean; schema?: Json }>;
  content?: Record<string, { schema: Json }>;
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse>; 'x-secondfactor-package'?: string }>>;
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

function operationFor(method: string, path: string): { template: string; responses: Record<string, OpenApiResponse> } | undefined {
  for (const [template, item] of Object.entries(doc.paths)) {
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
    } else if (path === '/login') {
      // The gate's own answers; the host's session answer is the host's format.
      if ((r.body as { mfaRequired?: boolean }).mfaRequired === true || r.status >= 500) {
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
    const hosts = [flow, ...(await failureBattery())];
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
