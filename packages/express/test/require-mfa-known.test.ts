// packages/express/test/require-mfa-known.test.ts
// requireMfa answers without waiting when it can (#13): a request whose first token is an
// assertion this instance verified before, of the user getUserId names synchronously, is passed on
// before the middleware returns. Every other request takes the full path, with the same answers:
// another user's, stale or unknown tokens, an asynchronous getUserId, a getUserId that throws.
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { mfaErrorHandler, requireMfa, type MfaRequiredInfo, type RequireMfaOptions } from '../src';
import { setup } from '../../core/test/support/harness';

type FakeRequest = { headers: Record<string, string>; user?: string; mfa?: unknown };

/** Runs the middleware on a bare request object: whether it passed on before returning, and how it ended. */
async function run(guard: ReturnType<typeof requireMfa>, req: FakeRequest) {
  let passedOn: { error: unknown } | null = null;
  const finished = new Promise<{ error: unknown }>((resolve) => {
    guard(req as unknown as Request, {} as Response, ((error?: unknown) => {
      passedOn = { error };
      resolve({ error });
    }) as NextFunction);
  });
  const synchronously = passedOn !== null;
  return { synchronously, ...(await finished) };
}

async function fixture() {
  const h = setup();
  const alice = (await h.mfa.assertions.issue('alice', ['otp'])).assertion;
  return { h, alice };
}

describe('requireMfa passes a known assertion on at once', () => {
  test('first seen: checked in full, passed on later; from then on passed on before the middleware returns, with the same req.mfa', async () => {
    const { h, alice } = await fixture();
    const guard = requireMfa(h.mfa, { maxAge: 60, getUserId: (req) => (req as unknown as FakeRequest).user });
    const first: FakeRequest = { headers: { authorization: `Bearer ${alice}` }, user: 'alice' };
    expect(await run(guard, first)).toEqual({ synchronously: false, error: undefined });
    const again: FakeRequest = { headers: { authorization: `Bearer ${alice}` }, user: 'alice' };
    expect(await run(guard, again)).toEqual({ synchronously: true, error: undefined });
    expect(again.mfa).toEqual(first.mfa);
    expect(again.mfa).toEqual({ userId: 'alice', amr: ['mfa', 'otp'], authTime: h.clock.now() });
  });

  test('a token in the assertion cookie alike', async () => {
    const { h, alice } = await fixture();
    const guard = requireMfa(h.mfa, { maxAge: 60, getUserId: () => 'alice' });
    const viaCookie = () => ({ headers: { cookie: `theme=dark; sf_mfa=${alice}` } });
    expect((await run(guard, viaCookie())).synchronously).toBe(false);
    expect((await run(guard, viaCookie())).synchronously).toBe(true);
  });

  test('not for a token of another user, a stale one, an asynchronous getUserId, or a first token that is not known', async () => {
    const { h, alice } = await fixture();
    await h.mfa.assertions.verify(alice); // known from here on
    const bearer = { authorization: `Bearer ${alice}` };
    const asked: string[] = [];
    const guard = (getUserId: RequireMfaOptions['getUserId'], maxAge = 60) => requireMfa(h.mfa, { maxAge, getUserId });
    expect(await run(guard(() => 'bob'), { headers: bearer })).toMatchObject({ synchronously: false });
    expect(await run(guard(async () => 'alice'), { headers: bearer })).toEqual({ synchronously: false, error: undefined });
    // The unknown first token: the full path goes on to the known cookie and passes.
    const garbageFirst = { headers: { authorization: 'Bearer not.a.token', cookie: `sf_mfa=${alice}` } };
    expect(await run(guard(() => { asked.push('once'); return 'alice'; }), garbageFirst)).toEqual({ synchronously: false, error: undefined });
    expect(asked).toEqual(['once']);
    h.clock.advance(61);
    expect(await run(guard(() => 'alice'), { headers: bearer })).toMatchObject({ synchronously: false });
  });
});

describe('what the full path answers is unchanged', () => {
  /** A guarded GET /p whose onRequired records the reasons, and whose getUserId counts its calls. */
  async function app(getUserId: RequireMfaOptions['getUserId']) {
    const { h, alice } = await fixture();
    const reasons: MfaRequiredInfo['reason'][] = [];
    let asked = 0;
    const counted: RequireMfaOptions['getUserId'] = (req, res) => {
      asked += 1;
      return getUserId(req, res);
    };
    const a = express().get('/p', requireMfa(h.mfa, {
      maxAge: 60, getUserId: counted,
      onRequired: (_req, _res, next, info) => {
        reasons.push(info.reason);
        next();
      },
    }), (req, res) => void res.json(req.mfa ?? { refused: true }));
    // Not ours: mfaErrorHandler passes it on, to the host's own error handler.
    const errors: string[] = [];
    a.use(mfaErrorHandler(), (error: Error, _req: Request, res: Response, _next: NextFunction) => {
      errors.push(error.message);
      res.status(500).json({ error: 'host_error' });
    });
    await h.mfa.assertions.verify(alice); // known from here on
    const get = () => request(a).get('/p').set('Authorization', `Bearer ${alice}`);
    return { h, get, reasons, errors, asked: () => asked };
  }

  test('a known assertion of another user: other_user, getUserId asked once', async () => {
    const t = await app(() => 'bob');
    expect((await t.get()).body).toEqual({ refused: true });
    expect(t.reasons).toEqual(['other_user']);
    expect(t.asked()).toBe(1);
  });

  test('a known assertion past maxAge: stale, getUserId asked once (to tell stale from other_user)', async () => {
    const t = await app(() => 'alice');
    t.h.clock.advance(61);
    expect((await t.get()).body).toEqual({ refused: true });
    expect(t.reasons).toEqual(['stale']);
    expect(t.asked()).toBe(1);
  });

  test('an asynchronous getUserId is awaited once; its rejection and a synchronous throw reach the host\'s error handler, never unhandled', async () => {
    const ok = await app(async () => 'alice');
    expect((await ok.get()).body).toMatchObject({ userId: 'alice' });
    expect(ok.asked()).toBe(1);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const failing of [async () => Promise.reject(new Error('session store down')), () => { throw new Error('session store down'); }]) {
        const t = await app(failing);
        const res = await t.get();
        expect([res.status, res.body]).toEqual([500, { error: 'host_error' }]);
        expect(t.errors).toEqual(['session store down']);
        expect(t.asked()).toBe(1);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
