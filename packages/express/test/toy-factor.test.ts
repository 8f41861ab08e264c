// packages/express/test/toy-factor.test.ts
// The test of the plugin design (issue #10): a factor type defined here, in a test file — not in
// core or express — enrols, logs in, steps up and is removed over HTTP, using every capability
// of the interface: a sealed secret, enrolment state, a per-login challenge step, a `response`
// input, a counter the flow advances atomically, and its own events. Nothing in core or express
// names it.
import { createHmac, } from 'node:crypto';
import { backupCodes, MfaError, totp, type FactorPlugin } from '@secondfactor/core';
import { hostApp } from './support/host-app';

/**
 * A "challenge-response token": pairing shows a shared key once; each verification signs a fresh
 * nonce with it together with a counter that must always grow (a cloned token is refused).
 */
function toyToken(): FactorPlugin {
  const sign = (key: string, nonce: string, counter: number) => createHmac('sha256', Buffer.from(key, 'base64url')).update(`${nonce}.${counter}`).digest('base64url');
  const parse = (response: unknown) => {
    const r = response as { nonceSignature?: unknown; counter?: unknown } | undefined;
    if (!r || typeof r.nonceSignature !== 'string' || !Number.isInteger(r.counter) || (r.counter as number) < 1) {
      throw new MfaError('invalid_request', 'response must be {nonceSignature, counter}', { field: 'response' });
    }
    return { signature: r.nonceSignature, counter: r.counter as number };
  };
  const check = async (ctx: Parameters<FactorPlugin['verify']>[0], factor: Parameters<NonNullable<FactorPlugin['enroll']>['finish']>[1]['factor'], secret: string, input: { signature: string; counter: number }) => {
    const key = await ctx.openSecret(factor);
    return sign(key, secret, input.counter) === input.signature;
  };
  return {
    type: 'toy_token',
    input: 'response',
    phishingResistant: false,
    restricted: false,
    parseInput: ({ response }) => parse(response),
    describe: (f) => ({ serial: String(f.data.serial) }),
    enroll: {
      parse: (_ctx, body) => {
        if (typeof body.serial !== 'string' || !/^[A-Z0-9]{4,12}$/.test(body.serial)) throw new MfaError('invalid_request', 'serial must be 4-12 of [A-Z0-9]', { field: 'serial' });
        return body.serial;
      },
      async begin(ctx, { input }) {
        const key = Buffer.from(ctx.randomBytes(32)).toString('base64url');
        const nonce = Buffer.from(ctx.randomBytes(16)).toString('base64url');
        return { data: { serial: input }, secret: key, show: { pairingKey: key, nonce }, state: { secret: nonce, ttlSeconds: 120 }, label: `Token ${input as string}` };
      },
      async finish(ctx, { factor, input, state }) {
        const answer = input as { signature: string; counter: number };
        if (!state || !(await check(ctx, factor, state.secret, answer))) return { ok: false, reason: 'invalid_code' };
        return { ok: true, counter: answer.counter };
      },
    },
    async challenge(ctx, { factors }) {
      const nonce = Buffer.from(ctx.randomBytes(16)).toString('base64url');
      return { factorId: null, state: { secret: nonce, ttlSeconds: 60 }, show: { nonce, tokens: factors.map((f) => f.data.serial) } };
    },
    async verify(ctx, { factors, input, state }) {
      const answer = input as { signature: string; counter: number };
      if (!state) return { ok: false, reason: 'invalid_code' };
      for (const f of factors) {
        if (!(await check(ctx, f, state.secret, answer))) continue;
        if (f.counter !== null && answer.counter <= f.counter) return { ok: false, reason: 'replayed', warning: 'toy_token.clone_suspected', factorId: f.id };
        return { ok: true, factorId: f.id, amr: ['hwk'], counter: answer.counter };
      }
      return { ok: false, reason: 'invalid_code' };
    },
  };
}

/** The token in the user's hand: its key and its own counter. */
function device(pairingKey: string) {
  let counter = 0;
  return {
    answer(nonce: string, at = ++counter) {
      return { nonceSignature: createHmac('sha256', Buffer.from(pairingKey, 'base64url')).update(`${nonce}.${at}`).digest('base64url'), counter: at };
    },
  };
}

function app() {
  return hostApp({ mfa: { factors: [toyToken(), totp(), backupCodes({ bcryptCost: 4 })] } });
}

test('a factor type defined outside core enrols, logs in, steps up and is removed over HTTP', async () => {
  const host = app();
  expect(host.mfa.factorTypes.map((t) => t.type)).toEqual(['toy_token', 'totp', 'backup_code']);

  // Enrol: its own setup field, validated by the plugin (a 400 names it, nothing is created).
  const bad = await host.call('post', '/mfa/toy_token/setup', { user: 'alice', body: { serial: 'lower-case' } });
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ code: 'invalid_request', field: 'serial' });
  const setup = await host.call('post', '/mfa/toy_token/setup', { user: 'alice', body: { serial: 'TK1234' } });
  expect(setup.status).toBe(200);
  const { factorId, pairingKey, nonce } = setup.body as { factorId: string; pairingKey: string; nonce: string };
  const token = device(pairingKey);
  // A wrong answer does not confirm; the right one does, and the first factor brings backup codes.
  const wrong = await host.call('post', '/mfa/toy_token/confirm', { user: 'alice', body: { factorId, response: device('x'.repeat(43)).answer(nonce) } });
  expect(wrong.status).toBe(401);
  const confirmed = await host.call('post', '/mfa/toy_token/confirm', { user: 'alice', body: { factorId, response: token.answer(nonce) } });
  expect(confirmed.status).toBe(200);
  expect(confirmed.body).toMatchObject({ factor: { id: factorId, type: 'toy_token', label: 'Token TK1234', serial: 'TK1234' } });
  expect((confirmed.body as { backupCodes: string[] }).backupCodes).toHaveLength(10);
  const status = await host.call('get', '/mfa/status', { user: 'alice' });
  expect(status.body).toMatchObject({ enabled: true, factors: [{ type: 'toy_token', serial: 'TK1234', phishingResistant: false }] });
  // The pairing key is shown once: stored only sealed.
  expect(JSON.stringify(await host.h.store.listFactors('alice'))).not.toContain(pairingKey);

  // Log in: the gate offers it; its challenge step gives a nonce bound to this login.
  const gate = await host.login('alice');
  expect(gate.body).toMatchObject({ mfaRequired: true, methods: ['toy_token', 'backup_code'] });
  const challengeToken = (gate.body as { challengeToken: string }).challengeToken;
  const step = await host.call('post', '/mfa/challenge/toy_token', { body: { challengeToken } });
  expect(step.status).toBe(200);
  expect(step.body).toMatchObject({ tokens: ['TK1234'] });
  const loginNonce = (step.body as { nonce: string }).nonce;
  const answer = token.answer(loginNonce);
  const verified = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'toy_token', response: answer } });
  expect(verified.status).toBe(200);
  const assertion = (verified.body as { accessToken: string }).accessToken;
  expect((await host.mfa.assertions.verify(assertion)).ok).toBe(true);
  // The same answer again: the challenge is spent.
  const again = await host.call('post', '/mfa/verify', { body: { challengeToken, method: 'toy_token', response: answer } });
  expect(again.status).toBe(401);
  expect(again.body).toMatchObject({ code: 'challenge_expired' });

  // Step-up: the signed-in user asks for a nonce (no challenge token) and answers it.
  host.clock.advance(120);
  expect((await host.call('get', '/admin', { user: 'alice', headers: { authorization: `Bearer ${assertion}` } })).status).toBe(401);
  const upStep = await host.call('post', '/mfa/challenge/toy_token', { user: 'alice', body: {} });
  expect(upStep.status).toBe(200);
  // A cloned token (a counter that did not grow) is refused and reported.
  const cloned = await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'toy_token', response: token.answer((upStep.body as { nonce: string }).nonce, 1) } });
  expect(cloned.status).toBe(401);
  expect(host.events.some((e) => e.type === 'toy_token.clone_suspected' && e.userId === 'alice')).toBe(true);
  const up = await host.call('post', '/mfa/step-up', { user: 'alice', body: { method: 'toy_token', response: token.answer((upStep.body as { nonce: string }).nonce) } });
  expect(up.status).toBe(200);
  const fresh = (up.body as { accessToken: string }).accessToken;
  const admin = await host.call('get', '/admin', { user: 'alice', headers: { authorization: `Bearer ${fresh}` } });
  expect(admin.status).toBe(200);
  expect(admin.body).toMatchObject({ mfa: { userId: 'alice', amr: ['mfa', 'hwk'] } });

  // Remove it with the token itself as fresh proof; it was the only factor, so MFA is off.
  const proofStep = await host.call('post', '/mfa/challenge/toy_token', { user: 'alice', body: {} });
  const removed = await host.call('delete', `/mfa/factors/${factorId}`, {
    user: 'alice', body: { method: 'toy_token', response: token.answer((proofStep.body as { nonce: string }).nonce) },
  });
  expect(removed.status).toBe(204);
  expect((await host.call('get', '/mfa/status', { user: 'alice' })).body).toMatchObject({ enabled: false, factors: [] });
  expect((await host.login('alice')).body).toMatchObject({ session: 'session-of-alice' });
});

test("a toy token's challenge of one login does not answer another's, and its state is single use", async () => {
  const host = app();
  const setup = await host.call('post', '/mfa/toy_token/setup', { user: 'alice', body: { serial: 'TK1' + '000' } });
  const { factorId, pairingKey, nonce } = setup.body as { factorId: string; pairingKey: string; nonce: string };
  const token = device(pairingKey);
  expect((await host.call('post', '/mfa/toy_token/confirm', { user: 'alice', body: { factorId, response: token.answer(nonce) } })).status).toBe(200);

  const first = (await host.login('alice')).body as { challengeToken: string };
  const second = (await host.login('alice')).body as { challengeToken: string };
  const nonceOfFirst = ((await host.call('post', '/mfa/challenge/toy_token', { body: { challengeToken: first.challengeToken } })).body as { nonce: string }).nonce;
  await host.call('post', '/mfa/challenge/toy_token', { body: { challengeToken: second.challengeToken } });
  // An answer to the first login's nonce, sent to the second login: refused.
  const crossed = await host.call('post', '/mfa/verify', { body: { challengeToken: second.challengeToken, method: 'toy_token', response: token.answer(nonceOfFirst) } });
  expect(crossed.status).toBe(401);
  // The method of another type, or an answer in the wrong shape, is bad input.
  const shape = await host.call('post', '/mfa/verify', { body: { challengeToken: first.challengeToken, method: 'toy_token', response: { counter: 'x' } } });
  expect(shape.status).toBe(400);
  expect(shape.body).toMatchObject({ code: 'invalid_request', field: 'response' });
  const code = await host.call('post', '/mfa/verify', { body: { challengeToken: first.challengeToken, method: 'toy_token', code: '123456' } });
  expect(code.status).toBe(400);
  expect(code.body).toMatchObject({ field: 'response' });
  expect((await host.call('post', '/mfa/verify', { body: { challengeToken: first.challengeToken, method: 'toy_token', response: token.answer(nonceOfFirst) } })).status).toBe(200);
});
