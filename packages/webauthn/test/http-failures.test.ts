// packages/webauthn/test/http-failures.test.ts
// What is refused over HTTP, each as its own stable problem+json: responses for another origin or rp
// id, replays, another login's challenge, another user's key, a counter that went back (and its
// clone warning), a missing user verification, malformed bytes and shapes (400, never a 500, never
// a counted attempt), and ten parallel copies of one valid response (exactly one logs in).
import { cborMap, encodeCbor } from './support/cbor';
import type { Host } from '../../express/test/support/host-app';
import { expectProblem } from '../../express/test/support/problems';
import { enrolKey, eventsJson, keyProof, loginOptions, ORIGIN, setupKey, startLogin, verify, webauthnHost } from './support/http';
import { SoftAuthenticator } from './support/soft-authenticator';

/** Alice with one USB key (counter starts at 0), mid-login: the challenge token and the request options. */
async function aliceLoggingIn(host: Host = webauthnHost()) {
  const key = new SoftAuthenticator();
  const enrolled = await enrolKey(host, 'alice', key, { label: 'USB' });
  const token = await startLogin(host, 'alice');
  const options = await loginOptions(host, token);
  return { host, key, token, options, factorId: enrolled.factorId };
}

/** The failures recorded for alice's logins, by reason. */
const failures = (host: Host) => host.events.filter((e) => e.type === 'mfa.failed').map((e) => e.reason);

/** After each refusal, the right answer still logs in: the refusal burned nothing it should not have. */
async function stillLogsIn(host: Host, token: string, key: SoftAuthenticator, options: Parameters<SoftAuthenticator['get']>[0]) {
  const ok = await verify(host, token, key.get(options, { origin: ORIGIN }));
  expect(ok.status).toBe(200);
}

test('an assertion made for another origin → 401 invalid_code, counted', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const res = await verify(host, token, key.get(options, { origin: 'https://localhost.evil.example' }));
  expectProblem(res, 401, 'invalid_code');
  expect(failures(host)).toEqual(['invalid_code']);
  await stillLogsIn(host, token, key, options);
});

test('an origin that differs only by port → 401 invalid_code', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  expectProblem(await verify(host, token, key.get(options, { origin: 'http://localhost:3001' })), 401, 'invalid_code');
});

test('an assertion for another rp id (authenticator data hashed for another site) → 401 invalid_code', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const res = await verify(host, token, key.get(options, { origin: ORIGIN, rpId: 'evil.example' }));
  expectProblem(res, 401, 'invalid_code');
  expect(failures(host)).toEqual(['invalid_code']);
  await stillLogsIn(host, token, key, options);
});

test('a replayed assertion: the same response twice → the second is 401 challenge_expired', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const response = key.get(options, { origin: ORIGIN });
  expect((await verify(host, token, response)).status).toBe(200);
  expectProblem(await verify(host, token, response), 401, 'challenge_expired');
  // …and replayed into a new login: its challenge is another one.
  const next = await startLogin(host, 'alice');
  await loginOptions(host, next);
  expectProblem(await verify(host, next, response), 401, 'invalid_code');
});

test('a response to login A\'s options sent to login B → 401 invalid_code (the challenge is bound to its login)', async () => {
  const host = webauthnHost();
  const key = new SoftAuthenticator();
  await enrolKey(host, 'alice', key);
  const a = await startLogin(host, 'alice');
  const b = await startLogin(host, 'alice');
  const optionsA = await loginOptions(host, a);
  const optionsB = await loginOptions(host, b);
  expect(optionsA.challenge).not.toBe(optionsB.challenge);
  const forA = key.get(optionsA, { origin: ORIGIN });
  expectProblem(await verify(host, b, forA), 401, 'invalid_code');
  // A without its step: no challenge kept for it → the same refusal.
  const c = await startLogin(host, 'alice');
  expectProblem(await verify(host, c, key.get(optionsA, { origin: ORIGIN })), 401, 'invalid_code');
  // A's own login still accepts it (its counter is still ahead of the stored one).
  expect((await verify(host, a, forA)).status).toBe(200);
});

test('a login challenge does not answer a step-up, nor a step-up challenge a login', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const forLogin = key.get(options, { origin: ORIGIN });
  expectProblem(await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response: forLogin } }), 401, 'invalid_code');
  const proof = await keyProof(host, 'alice', key);
  expectProblem(await verify(host, token, proof.response), 401, 'invalid_code');
});

test('another user\'s credential answering alice\'s challenge → 401 invalid_code', async () => {
  const host = webauthnHost();
  const alices = new SoftAuthenticator();
  const bobs = new SoftAuthenticator();
  await enrolKey(host, 'alice', alices);
  await enrolKey(host, 'bob', bobs);
  const token = await startLogin(host, 'alice');
  const options = await loginOptions(host, token);
  expect(options.allowCredentials!.map((c) => c.id)).toEqual([alices.credentials[0]!.id]);
  // Bob's key signs alice's challenge, correctly, for the right origin and rp id.
  const res = await verify(host, token, bobs.get(options, { origin: ORIGIN, credentialId: bobs.credentials[0]!.id }));
  expectProblem(res, 401, 'invalid_code');
  // With alice's credential id but bob's key: the signature does not verify.
  const forged = bobs.get(options, { origin: ORIGIN, credentialId: bobs.credentials[0]!.id });
  const swapped = { ...forged, id: alices.credentials[0]!.id, rawId: alices.credentials[0]!.id, response: { ...forged.response, userHandle: alices.credentials[0]!.userHandle } };
  expectProblem(await verify(host, token, swapped), 401, 'invalid_code');
  await stillLogsIn(host, token, alices, options);
});

test('a counter that did not advance → 401 and a webauthn.clone_warning event (no key material in it)', async () => {
  const { host, key, token, options, factorId } = await aliceLoggingIn();
  const first = key.get(options, { origin: ORIGIN, counter: 5 });
  expect((await verify(host, token, first)).status).toBe(200);

  const next = await startLogin(host, 'alice');
  const nextOptions = await loginOptions(host, next);
  // A clone that still says 5 (or less): validly signed, fresh challenge, counter behind.
  const cloned = key.get(nextOptions, { origin: ORIGIN, counter: 3 });
  expectProblem(await verify(host, next, cloned), 401, 'invalid_code');
  const warning = host.events.find((e) => e.type === 'webauthn.clone_warning');
  expect(warning).toMatchObject({ userId: 'alice', factorId, factorType: 'webauthn', outcome: 'failure', reason: 'replayed', purpose: 'login' });
  expect(Object.keys(warning!).sort()).toEqual(['at', 'factorId', 'factorType', 'ip', 'outcome', 'purpose', 'reason', 'type', 'userAgent', 'userId']);
  for (const secret of [cloned.response.signature, nextOptions.challenge, Buffer.from(key.credentials[0]!.cosePublicKey).toString('base64url')]) {
    expect(eventsJson(host)).not.toContain(secret);
  }
  // The same counter again is refused too; the stored counter did not move.
  expectProblem(await verify(host, next, key.get(nextOptions, { origin: ORIGIN, counter: 5 })), 401, 'invalid_code');
  expect((await host.h.store.getFactor('alice', factorId))!.counter).toBe(5);
  expect(host.events.filter((e) => e.type === 'webauthn.clone_warning')).toHaveLength(2);
  // The genuine key, counting on: accepted.
  expect((await verify(host, next, key.get(nextOptions, { origin: ORIGIN, counter: 6 }))).status).toBe(200);
});

test('userVerification required: a registration or an assertion without UV → 401 invalid_code', async () => {
  const host = webauthnHost({ webauthn: { userVerification: 'required' } });
  const key = new SoftAuthenticator();
  const { factorId, options: creation } = await setupKey(host, 'alice');
  expect(creation.authenticatorSelection).toMatchObject({ userVerification: 'required' });
  const noUv = await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response: key.create(creation, { origin: ORIGIN, uv: false }) } });
  expectProblem(noUv, 401, 'invalid_code');
  const withUv = await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response: key.create(creation, { origin: ORIGIN }) } });
  expect(withUv.status).toBe(200);

  const token = await startLogin(host, 'alice');
  const options = await loginOptions(host, token);
  expect(options.userVerification).toBe('required');
  expectProblem(await verify(host, token, key.get(options, { origin: ORIGIN, uv: false })), 401, 'invalid_code');
  // Present but not verified, even with the UV bit alone and no UP: refused as well.
  expectProblem(await verify(host, token, key.get(options, { origin: ORIGIN, up: false })), 401, 'invalid_code');
  const ok = await verify(host, token, key.get(options, { origin: ORIGIN }));
  expect(ok.status).toBe(200);
  expect(await host.mfa.assertions.verify((ok.body as { accessToken: string }).accessToken)).toMatchObject({ ok: true, amr: ['mfa', 'hwk', 'user'] });
});

test('malformed CBOR in a registration → 400 invalid_request naming response, nothing counted', async () => {
  const host = webauthnHost();
  const key = new SoftAuthenticator();
  const { factorId, options } = await setupKey(host, 'alice');
  const good = key.create(options, { origin: ORIGIN });
  const deepNesting = new Uint8Array(6000).fill(0x81); // [[[[…: an array nested 6000 deep, never closed
  const broken: [string, Uint8Array][] = [
    ['random bytes', Uint8Array.from([0xff, 0x00, 0x13, 0x37, 0xde, 0xad])],
    ['truncated', Buffer.from(good.response.attestationObject, 'base64url').subarray(0, 40)],
    ['a text string, not a map', encodeCbor('fmt')],
    ['authData a string', encodeCbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', 'not bytes']]))],
    ['authData without attested credential', encodeCbor(cborMap([['fmt', 'none'], ['attStmt', cborMap([])], ['authData', new Uint8Array(37)]]))],
    ['deep nesting', deepNesting],
    ['indefinite-length map never closed', Uint8Array.from([0xbf, 0x63, 0x66, 0x6d, 0x74])],
  ];
  for (const [what, bytes] of broken) {
    const response = { ...good, response: { ...good.response, attestationObject: Buffer.from(bytes).toString('base64url') } };
    const res = await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response } });
    expect({ what, status: res.status }).toEqual({ what, status: 400 });
    expectProblem(res, 400, 'invalid_request', 'response');
  }
  expect(failures(host)).toEqual([]);
  expect(host.routerErrors).toEqual([]);
  expect(host.hostErrors).toEqual([]);
  // The setup is intact: the genuine response still confirms it.
  expect((await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response: good } })).status).toBe(200);
});

test('malformed bytes in an assertion → 400 invalid_request naming response, nothing counted', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const good = key.get(options, { origin: ORIGIN });
  const variants: [string, Record<string, unknown>][] = [
    ['authenticatorData too short', { authenticatorData: Buffer.alloc(20).toString('base64url') }],
    ['authenticatorData with extension flag but no CBOR', { authenticatorData: Buffer.concat([Buffer.alloc(32), Buffer.from([0x85, 0, 0, 0, 1])]).toString('base64url') }],
    ['clientDataJSON not JSON', { clientDataJSON: Buffer.from('{"type":').toString('base64url') }],
    ['clientDataJSON not UTF-8', { clientDataJSON: Buffer.from([0xc3, 0x28, 0xa0, 0xa1]).toString('base64url') }],
    ['clientDataJSON without challenge', { clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', origin: ORIGIN })).toString('base64url') }],
    ['signature padded base64', { signature: `${good.response.signature}==` }],
    ['signature not a string', { signature: 12 }],
  ];
  for (const [what, patch] of variants) {
    const res = await verify(host, token, { ...good, response: { ...good.response, ...patch } });
    expect({ what, status: res.status }).toEqual({ what, status: 400 });
    expectProblem(res, 400, 'invalid_request', 'response');
  }
  expect(failures(host)).toEqual([]);
  expect(host.routerErrors).toEqual([]);
  expect((await verify(host, token, good)).status).toBe(200);
});

test('malformed JSON shapes → 400 invalid_request naming response (or body), never a 500', async () => {
  const { host, key, token, options } = await aliceLoggingIn();
  const good = key.get(options, { origin: ORIGIN });
  const shapes: [string, unknown][] = [
    ['a string', 'eyJpZCI6IngifQ'],
    ['an array', [good]],
    ['null', null],
    ['a number', 42],
    ['empty object', {}],
    ['id a number', { ...good, id: 5, rawId: 5 }],
    ['rawId differs', { ...good, rawId: 'AAAA' }],
    ['type wrong', { ...good, type: 'password' }],
    ['response a string', { ...good, response: 'x' }],
    ['response an array', { ...good, response: [] }],
    ['unexpected field', { ...good, extra: true }],
    ['unexpected inner field', { ...good, response: { ...good.response, attestationObject2: 'AA' } }],
    ['clientExtensionResults missing', { ...good, clientExtensionResults: undefined }],
    ['authenticatorAttachment bogus', { ...good, authenticatorAttachment: 'usb' }],
    ['__proto__ key', JSON.parse(`{"__proto__":{"polluted":1},"id":"${good.id}"}`)],
    ['a registration where an assertion is expected', key.create({ rp: { id: 'localhost', name: 'x' }, user: { id: 'AAAA', name: 'a', displayName: 'a' }, challenge: options.challenge, pubKeyCredParams: [{ type: 'public-key', alg: -7 }] }, { origin: ORIGIN })],
  ];
  for (const [what, response] of shapes) {
    const res = await verify(host, token, response);
    expect({ what, status: res.status, field: (res.body as { field?: string }).field }).toEqual({ what, status: 400, field: 'response' });
    expectProblem(res, 400, 'invalid_request', 'response');
  }
  // Missing entirely, or a code where a response belongs.
  expectProblem(await host.call('post', '/mfa/verify', { body: { challengeToken: token, method: 'webauthn' } }), 400, 'invalid_request', 'response');
  expectProblem(await host.call('post', '/mfa/verify', { body: { challengeToken: token, method: 'webauthn', code: '123456' } }), 400, 'invalid_request', 'response');
  // Not JSON at all: the body is named.
  expectProblem(await host.call('post', '/mfa/verify', { raw: `{"challengeToken":"${token}","method":"webauthn","response":{` }), 400, 'invalid_request', 'body');
  // The same shapes on step-up and confirm.
  expectProblem(await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response: { id: 1 } } }), 400, 'invalid_request', 'response');
  expectProblem(await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId: 'x', response: [] } }), 400, 'invalid_request', 'response');
  // A response without `method`: the engine asks for the method (400, nothing counted).
  const noMethod = await host.call('post', '/mfa/disable', { user: 'alice', body: { response: good } });
  expectProblem(noMethod, 400, 'invalid_request', 'method');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(failures(host)).toEqual([]);
  expect(host.routerErrors).toEqual([]);
  expect(host.hostErrors).toEqual([]);
  expect((await verify(host, token, good)).status).toBe(200);
});

test('ten parallel /verify with the same valid response → exactly one 200', async () => {
  const { host, key, token, options, factorId } = await aliceLoggingIn();
  const response = key.get(options, { origin: ORIGIN });
  const results = await Promise.all(Array.from({ length: 10 }, () => verify(host, token, response)));
  const statuses = results.map((r) => r.status).sort();
  expect(statuses.filter((s) => s === 200)).toHaveLength(1);
  expect(statuses.filter((s) => s !== 200).every((s) => s === 401 || s === 429)).toBe(true);
  for (const r of results.filter((x) => x.status !== 200)) expect((r.body as { code: string }).code).toMatch(/^(challenge_expired|invalid_code|too_many_attempts)$/);
  expect(host.events.filter((e) => e.type === 'mfa.verified')).toHaveLength(1);
  expect((await host.h.store.getFactor('alice', factorId))!.counter).toBe(1);
  expect(host.routerErrors).toEqual([]);
});

test('the wrong ceremony (a registration at /verify, an assertion at confirm) is bad input, never a counted attempt', async () => {
  const host = webauthnHost();
  const key = new SoftAuthenticator();
  const { factorId, options: creation } = await setupKey(host, 'alice');
  const registration = key.create(creation, { origin: ORIGIN });
  // Confirm, sent an assertion: more times than the challenge, backoff and state limits allow.
  const stray = new SoftAuthenticator();
  stray.create({ ...creation, excludeCredentials: [] }, { origin: ORIGIN });
  const assertion = stray.get({ challenge: creation.challenge, rpId: 'localhost' }, { origin: ORIGIN });
  for (let i = 0; i < 8; i++) {
    expectProblem(await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response: assertion } }), 400, 'invalid_request', 'response');
  }
  expect((await host.call('post', '/mfa/webauthn/confirm', { user: 'alice', body: { factorId, response: registration } })).status).toBe(200);

  // /verify and /step-up, sent a registration: the same.
  const token = await startLogin(host, 'alice');
  const options = await loginOptions(host, token);
  for (let i = 0; i < 8; i++) {
    expectProblem(await verify(host, token, registration), 400, 'invalid_request', 'response');
    expectProblem(await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response: registration } }), 400, 'invalid_request', 'response');
  }
  expect(failures(host)).toEqual([]);
  expect((await verify(host, token, key.get(options, { origin: ORIGIN }))).status).toBe(200);
});

test('ten parallel /step-up with the same valid response → exactly one 200', async () => {
  const host = webauthnHost();
  const key = new SoftAuthenticator();
  await enrolKey(host, 'alice', key);
  const { response } = await keyProof(host, 'alice', key);
  const results = await Promise.all(Array.from({ length: 10 }, () => host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response } })));
  expect(results.map((r) => r.status).filter((s) => s === 200)).toHaveLength(1);
  for (const r of results.filter((x) => x.status !== 200)) expect([401, 429]).toContain(r.status);
  expect(host.routerErrors).toEqual([]);
});

test('a challenge past its timeout is no challenge: step-up → 401 invalid_code; a login past its own expiry → 401 challenge_expired', async () => {
  const host = webauthnHost({ webauthn: { timeoutSeconds: 60 } });
  const key = new SoftAuthenticator();
  await enrolKey(host, 'alice', key);
  const { response } = await keyProof(host, 'alice', key);
  host.clock.advance(61);
  expectProblem(await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'webauthn', response } }), 401, 'invalid_code');

  const token = await startLogin(host, 'alice');
  const options = await loginOptions(host, token);
  expect(options.timeout).toBe(60_000);
  host.clock.advance(61);
  expectProblem(await verify(host, token, key.get(options, { origin: ORIGIN })), 401, 'invalid_code');
  host.clock.advance(300);
  expectProblem(await verify(host, token, key.get(options, { origin: ORIGIN })), 401, 'challenge_expired');
  expectProblem(await host.call('post', '/mfa/challenge/webauthn', { body: { challengeToken: token } }), 401, 'challenge_expired');
});
