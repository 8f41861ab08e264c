// packages/express/test/support/host-app.ts
// A tiny host application for the HTTP tests: its own users and password check, a stand-in
// session (the `x-user` header), the MFA router, the login gate and a step-up protected route,
// over the core test harness (memory store, fake clock, bcrypt cost 4).
import { execFileSync } from 'node:child_process';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { memoryStore, type CodeMessage, type MfaStore } from '@secondfactor/core';
import { mfaAdminRouter, mfaErrorHandler, mfaGate, mfaRouter, requireMfa, type MfaGateOptions, type MfaRouterOptions, type TrustedDeviceCookieOptions } from '../../src';
import { setup, type SetupOverrides } from '../../../core/test/support/harness';

export const PASSWORDS: Record<string, string> = { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' };
const USER_AGENT = 'secondfactor-test/1.0 (X11; Linux x86_64) Firefox/140.0';

/** A TOTP code computed by the real `oathtool` binary at the fake clock's time. */
export function oathtool(secret: string, nowMs: number): string {
  return execFileSync('oathtool', ['--totp', '-b', '-N', `@${Math.floor(nowMs / 1000)}`, secret], { encoding: 'utf8' }).trim();
}

/** A store whose calls can be made to fail on demand (outage injection). */
function breakableStore(inner: MfaStore = memoryStore()) {
  const state = { broken: new Set<string>() };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.broken.has(String(prop)) || state.broken.has('*')) return Promise.reject(new Error(`store down: ${String(prop)} ECONNREFUSED 10.0.0.7`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, state };
}

export interface Recorded {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

export interface HostOptions {
  /** Install express.json() for the whole app (default false: the router parses by itself). */
  json?: boolean;
  mfa?: SetupOverrides;
  router?: Partial<MfaRouterOptions>;
  cookie?: TrustedDeviceCookieOptions;
  stepUpMaxAge?: number;
  /** More options of the login's gate (a `policy`). */
  gate?: Omit<MfaGateOptions, 'cookie'>;
}

export function hostApp(options: HostOptions = {}) {
  const outbox: CodeMessage[] = [];
  const sender = { send: async (m: CodeMessage) => void outbox.push(m) };
  const broken = breakableStore();
  const h = setup({ store: broken.store, sms: sender, email: { send: async (m: CodeMessage) => void outbox.push(m) }, ...options.mfa });
  const hostErrors: unknown[] = [];
  const routerErrors: unknown[] = [];
  const sessionsIssued: { userId: string; trustedDevice: boolean }[] = [];
  const app = express();
  if (options.json) app.use(express.json());

  // The host's "session": who is signed in, as its own auth would say.
  const currentUser = (req: Request) => req.get('x-user');

  app.use('/mfa', mfaRouter(h.mfa, {
    getUserId: currentUser,
    verifyPassword: (_req, userId, password) => PASSWORDS[userId] === password,
    getAccountName: (_req, userId) => `${userId}@example.com`,
    onError: (error) => void routerErrors.push(error),
    ...(options.cookie ? { cookie: options.cookie } : {}),
    ...options.router,
  }));

  // The host's own password login: its own body parser, its own check, then the gate.
  function checkPassword(req: Request, res: Response, next: NextFunction) {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string' || PASSWORDS[username] !== password) {
      res.status(401).json({ error: 'invalid_credentials' });
      return;
    }
    res.locals.userId = username;
    next();
  }
  function issueSession(_req: Request, res: Response) {
    const userId = res.locals.userId as string;
    const gate = res.locals.mfaGate as { trustedDevice: boolean; enrollment?: unknown } | undefined;
    const trustedDevice = gate?.trustedDevice ?? false;
    sessionsIssued.push({ userId, trustedDevice });
    res.cookie('host_session', `session-of-${userId}`, { httpOnly: true });
    res.status(200).json({ session: `session-of-${userId}`, trustedDevice, ...(gate?.enrollment ? { enrollment: gate.enrollment } : {}) });
  }
  app.post('/login', express.json(), checkPassword, mfaGate(h.mfa, { ...(options.cookie ? { cookie: options.cookie } : {}), ...options.gate }), issueSession);

  // The host's admin API: its own admin check names the actor (here a header set by its admin session).
  app.use('/admin-api', mfaAdminRouter(h.mfa, { authorize: (req) => (req.get('x-admin')?.startsWith('admin-') ? req.get('x-admin') : false), onError: () => {} }));

  app.get('/admin', requireMfa(h.mfa, { maxAge: options.stepUpMaxAge ?? 60, getUserId: currentUser }), (req, res) => {
    res.status(200).json({ admin: true, mfa: req.mfa });
  });

  app.use(mfaErrorHandler());
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    hostErrors.push(error);
    res.status(500).json({ hostError: true });
  });

  const log: Recorded[] = [];
  async function call(
    method: 'get' | 'post' | 'delete',
    path: string,
    init: { user?: string; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
  ) {
    let t = request(app)[method](path).set('User-Agent', USER_AGENT);
    if (init.user) t = t.set('x-user', init.user);
    for (const [k, v] of Object.entries(init.headers ?? {})) t = t.set(k, v);
    if (init.raw !== undefined) t = t.set('Content-Type', init.contentType ?? 'application/json').send(init.raw);
    else if (init.body !== undefined) t = t.send(init.body as object);
    const res = await t;
    log.push({ method: method.toUpperCase(), path, status: res.status, headers: res.headers, text: res.text, body: res.body });
    return res;
  }

  /** Password step: the gate's answer. */
  const login = (user: string, headers: Record<string, string> = {}) => call('post', '/login', { body: { username: user, password: PASSWORDS[user] }, headers });

  return { app, h, mfa: h.mfa, clock: h.clock, events: h.events, outbox, broken: broken.state.broken, hostErrors, routerErrors, sessionsIssued, log, call, login };
}

export type Host = ReturnType<typeof hostApp>;

/** Moves the fake clock to the next TOTP step and returns a fresh code from oathtool. */
export function nextCode(host: Host, secret: string): string {
  host.clock.advance(30);
  return oathtool(secret, host.clock.now());
}

/** The `name=value` of a Set-Cookie header, and its attributes. */
export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const v = res.headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

/** Enrols and confirms TOTP for `user` over HTTP; returns the secret, factor id and backup codes. */
export async function enrolTotpOverHttp(host: Host, user: string) {
  const setupRes = await host.call('post', '/mfa/totp/setup', { user, body: { label: 'Phone' } });
  if (setupRes.status !== 200) throw new Error(`setup ${setupRes.status} ${setupRes.text}`);
  const { factorId, secret } = setupRes.body as { factorId: string; secret: string };
  const confirm = await host.call('post', '/mfa/totp/confirm', { user, body: { factorId, code: oathtool(secret, host.clock.now()) } });
  if (confirm.status !== 200) throw new Error(`confirm ${confirm.status} ${confirm.text}`);
  host.clock.advance(30);
  return { secret, factorId, backupCodes: (confirm.body as { backupCodes: string[] }).backupCodes };
}

/** Password step then the challenge token (fails the test if no challenge came). */
export async function challengeFor(host: Host, user: string): Promise<string> {
  const res = await host.login(user);
  if (res.status !== 200 || !(res.body as { mfaRequired?: boolean }).mfaRequired) throw new Error(`expected a challenge, got ${res.status} ${res.text}`);
  return (res.body as { challengeToken: string }).challengeToken;
}
