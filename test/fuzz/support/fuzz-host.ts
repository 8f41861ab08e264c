// test/fuzz/support/fuzz-host.ts
// The host application the HTTP fuzz runs against, on a real listening server: mfaRouter at
// /mfa (assertion cookie on), the host's password login with mfaGate at /login, requireMfa
// with and without maxAge at /admin and /admin-any-age, mfaAdminRouter at /support (the host's
// admin check: the `x-admin` header carries ADMIN_KEY), a second login at /login-policy whose
// gate applies an enforcement policy (a user without a counted factor gets an enrolment token),
// mfaErrorHandler, and a last host error handler that records anything the library let through
// (the fuzz fails on it). Every event core emits is kept until the fuzz reads it.
// Users are enrolled through core directly (memory store, fake clock, bcrypt cost 4); a user
// whose state a lucky request changed (disable, remove, regenerate) is replaced by a fresh one.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { backupCodes, createMfa, email, generateTotp, memoryStore, sms, totp, type CodeMessage, type Mfa, type MfaEvent, type MfaPolicy } from '@secondfactor/core';

const OOB = { resendCooldownSeconds: 0, sendLimits: { perUserPerHour: 1000, perDestinationPerHour: 1000, perIpPerHour: 100_000, globalPerHour: 10_000_000 } };
import { mfaAdminRouter, mfaErrorHandler, mfaGate, mfaRouter, problem, requireMfa, sendProblem } from '@secondfactor/express';
import { fakeClock, KEY_1, SIGNING_KEY } from '../../../packages/core/test/support/harness';

const STEP_UP_MAX_AGE = 60;
/** The `x-admin` header value the host's admin check accepts (anything else: not an admin). */
export const ADMIN_KEY = 'fuzz-admin-key-7f3a';
/** The actor the admin check names (recorded with every admin action). */
export const ADMIN_ACTOR = 'support-agent-1';

/**
 * The enforcement policy of /login-policy: MFA required now (no grace); an authenticator app or
 * email counts — for carol only email, so carol (TOTP only) is sent to enrol as bob (nothing) is.
 */
export function policyFor(userId: string): MfaPolicy {
  return { required: true, methods: userId.startsWith('carol.') ? ['email'] : ['totp', 'email'] };
}

/** What a pool slot is enrolled with. */
export const PROFILES = [
  { base: 'alice', totp: true, sms: true, email: true, device: true },
  { base: 'bob', totp: false, sms: false, email: false, device: false },
  { base: 'carol', totp: true, sms: false, email: false, device: true },
  { base: 'dave', totp: true, sms: false, email: true, device: false },
] as const;

export interface Fixture {
  id: string;
  password: string;
  secret: string | null;
  factorIds: string[];
  backupCodes: string[];
  deviceToken: string | null;
  deviceId: string | null;
}

const TOTP = { algorithm: 'SHA1' as const, digits: 6 as const, periodSeconds: 30 };
const UA = 'secondfactor-fuzz/1.0 (X11; Linux x86_64) Firefox/140.0';

export async function startFuzzHost() {
  const clock = fakeClock();
  const outbox: CodeMessage[] = [];
  /** Every event since the fuzz last took them (it splices the array after each request). */
  const events: MfaEvent[] = [];
  const sender = { send: async (m: CodeMessage) => void outbox.push(m) };
  const mfa: Mfa = createMfa({
    issuer: 'Fuzz Co',
    store: memoryStore(),
    encryptionKeys: { current: 'k1', keys: { k1: KEY_1 } },
    signingKey: SIGNING_KEY,
    clock: clock.now,
    // Every request comes from 127.0.0.1: the per-IP limits would end the fuzz's reach early.
    limits: { perIpPerWindow: 1_000_000, lockAfterFailures: 60, backoffAfterFailures: 40, backoffBaseSeconds: 1, backoffMaxSeconds: 60 },
    challenge: { maxAttempts: 10 },
    onEvent: (event) => void events.push(event),
    factors: [
      totp(),
      sms({ sender, ...OOB }),
      email({ sender, ...OOB }),
      backupCodes({ bcryptCost: 4 }),
    ],
  });

  const fixtures: Fixture[] = [];
  const passwords = new Map<string, string>();
  let generation = 0;

  async function enrol(slot: number): Promise<Fixture> {
    const p = PROFILES[slot]!;
    const id = `${p.base}.${generation++}`;
    const f: Fixture = { id, password: `${id}-password`, secret: null, factorIds: [], backupCodes: [], deviceToken: null, deviceId: null };
    passwords.set(id, f.password);
    if (p.totp) {
      const e = await mfa.enroll(id, 'totp', { label: 'Phone' });
      const r = await mfa.confirm(id, e.factorId, { code: await generateTotp(e.secret, clock.now(), TOTP) });
      if (!r.ok) throw new Error(`fixture: TOTP confirm failed (${r.reason})`);
      f.secret = e.secret;
      f.factorIds.push(e.factorId);
      f.backupCodes = r.backupCodes ?? [];
    }
    for (const [type, destination] of [['sms', '+1 415 555 0123'], ['email', `${p.base}@example.com`]] as const) {
      if (!p[type]) continue;
      // With MFA already on, adding a factor needs fresh proof: an assertion, as after a step-up.
      const proof = f.factorIds.length > 0 ? { assertion: (await mfa.assertions.issue(id, ['otp'])).assertion } : undefined;
      const e = await mfa.enroll(id, type, { input: { [type === 'sms' ? 'phone' : 'email']: destination }, ...(proof ? { proof } : {}) });
      const r = await mfa.confirm(id, e.factorId, { code: outbox.at(-1)!.code });
      if (!r.ok) throw new Error(`fixture: ${type} confirm failed (${r.reason})`);
      f.factorIds.push(e.factorId);
    }
    if (p.device) {
      const s = await mfa.login.start(id);
      if (!s.required) throw new Error('fixture: expected a challenge');
      const r = await mfa.login.verify(s.challengeToken, { method: 'backup_code', code: f.backupCodes.pop()!, trustDevice: true }, { userAgent: UA });
      if (!r.ok || !r.trustedDevice) throw new Error('fixture: trusted device not issued');
      f.deviceToken = r.trustedDevice.token;
      f.deviceId = r.trustedDevice.id;
    }
    fixtures[slot] = f;
    return f;
  }
  for (let i = 0; i < PROFILES.length; i++) await enrol(i);

  const hostErrors: unknown[] = [];
  const routerErrors: unknown[] = [];
  const app = express();

  // The host's session stand-in: the `x-user` header names the signed-in user (a real session
  // store returns any string; the host keeps ids within 255 characters, as getUserId requires).
  const currentUser = (req: Request) => {
    const u = req.get('x-user');
    return u !== undefined && u.length <= 255 ? u : undefined;
  };

  app.use('/mfa', mfaRouter(mfa, {
    getUserId: currentUser,
    verifyPassword: (_req, userId, password) => passwords.get(userId) === password,
    getAccountName: (_req, userId) => `${userId.replace(/:/g, '_').slice(0, 100)}@example.com`,
    assertionCookie: true,
    onError: (error) => void routerErrors.push(error),
  }));

  function checkPassword(req: Request, res: Response, next: NextFunction) {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string' || passwords.get(username) !== password) {
      sendProblem(res, problem('unauthenticated', { detail: 'Wrong user name or password.' }));
      return;
    }
    res.locals.userId = username;
    next();
  }
  app.post('/login', express.json(), checkPassword, mfaGate(mfa), (_req, res) => {
    const userId = res.locals.userId as string;
    const trustedDevice = (res.locals.mfaGate as { trustedDevice: boolean }).trustedDevice;
    res.status(200).json({ session: `session-of-${userId}`, trustedDevice });
  });
  app.post('/login-policy', express.json(), checkPassword, mfaGate(mfa, { policy: (userId) => policyFor(userId) }), (_req, res) => {
    const userId = res.locals.userId as string;
    const trustedDevice = (res.locals.mfaGate as { trustedDevice: boolean }).trustedDevice;
    res.status(200).json({ session: `session-of-${userId}`, trustedDevice });
  });
  app.use('/support', mfaAdminRouter(mfa, {
    authorize: (req) => (req.get('x-admin') === ADMIN_KEY ? ADMIN_ACTOR : false),
    onError: (error) => void routerErrors.push(error),
  }));
  app.get('/admin', requireMfa(mfa, { maxAge: STEP_UP_MAX_AGE, getUserId: currentUser }), (req, res) => {
    res.status(200).json({ admin: true, mfa: req.mfa });
  });
  app.get('/admin-any-age', requireMfa(mfa, { getUserId: currentUser }), (req, res) => {
    res.status(200).json({ admin: true, mfa: req.mfa });
  });
  app.use(mfaErrorHandler({ onError: (error) => void routerErrors.push(error) }));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    hostErrors.push(error);
    res.status(500).json({ hostError: true });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  return {
    mfa, clock, outbox, events, fixtures, port, agent, hostErrors, routerErrors, enrol,
    totpNow: (secret: string) => generateTotp(secret, clock.now(), TOTP),
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FuzzHost = Awaited<ReturnType<typeof startFuzzHost>>;
