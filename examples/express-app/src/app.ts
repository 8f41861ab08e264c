// examples/express-app/src/app.ts
// An ordinary Express auth server — its own users table, bcrypt passwords, its own session cookie —
// with secondfactor added in ONE marked block (see "secondfactor: begin" below). Exported for tests.
import { createHash } from 'node:crypto';
import path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { backupCodes, composeStores, createMfa, sms, totp, type CodeSender, type Mfa, type MfaStore } from '@secondfactor/core';
import { clearAssertionCookie, describeError, mfaAdminRouter, mfaErrorHandler, mfaGate, mfaRouter, requireMfa, type MfaGateResult } from '@secondfactor/express';
import { knexStore, migrate as migrateMfa } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { webauthn } from '@secondfactor/webauthn';
import { serveSimpleWebAuthn, SIMPLEWEBAUTHN_BROWSER_URL } from './browser-library';
import type { DevSmsSender } from './dev-codes';
import { adminPage, enrollPage, homePage, loginPage, notFoundPage, registerPage, secondFactorPage, settingsPage, stepUpPage, type MfaBanner } from './pages';
import { openApiDocument } from './openapi';
import { createPolicy } from './policy';
import { createSessions, type Session } from './session';
import { createUsers, migrateUsers, RegistrationError, type User } from './users';

declare global {
  namespace Express {
    interface Request {
      /** The signed-in host user (from the host's own session cookie). */
      user?: User;
      hostSession?: Session;
    }
  }
}

export interface AppKeys {
  /** 32 bytes, base64: encrypts TOTP secrets at rest. */
  mfaEncryptionKey: string;
  /** ≥ 32 characters: signs MFA assertions (HS256). */
  mfaSigningKey: string;
  /** ≥ 32 characters: signs the host's session cookie (HS256). */
  sessionSecret: string;
}

export interface AppConfig {
  /** The host's database: its `users` table and, through @secondfactor/knex, the MFA tables. */
  knex: Knex;
  keys: AppKeys;
  /** Short-lived MFA state (challenges, codes, counters) in Redis instead of the database. */
  redis?: Redis;
  /** Overrides the whole MFA store (tests). */
  store?: MfaStore;
  /** Sends SMS codes; without it the SMS factor is off. */
  sms?: CodeSender;
  /**
   * Development only, and only when set explicitly (SMS_DEV_MODE=true): the SMS sender that lets the
   * pages show the last code ("dev mode: your code is …") to the holder of the login challenge or
   * to the signed-in owner of the phone.
   */
  devCodes?: DevSmsSender;
  /**
   * Security keys and passkeys: the relying-party id (the site's host name) and the exact origins
   * the pages are served from (`http://localhost:PORT` in development). Without it the factor is off.
   */
  webauthn?: WebAuthnSettings;
  /**
   * Emails of the administrators: they may use the admin tools (look up, reset and unlock users; the
   * figures), and the policy requires them to use a security key or an authenticator app.
   */
  adminEmails?: string[];
  /** Days an administrator without a second factor may still sign in, from the first time the policy saw them (default 7). */
  adminGraceDays?: number;
  /** How often expired MFA rows and old audit events are purged from the database (seconds, default 600; 0: never). */
  purgeIntervalSeconds?: number;
  /** Days security events are kept in the audit log (default 365). */
  auditRetentionDays?: number;
  /** Where the example logs unexpected errors (default console.error); lines never hold bound values. */
  log?: (line: string) => void;
  /** Epoch milliseconds; injected by tests (fake clock). Default `Date.now`. */
  clock?: () => number;
  /** Seconds a second-factor verification stays fresh for /admin (default 300). */
  stepUpMaxAge?: number;
  /** `Secure` cookies (and the `__Host-` trusted-device and assertion cookies). Default false: local http. */
  secureCookies?: boolean;
  /** bcrypt cost for passwords and backup codes (default 10; tests use 4). */
  bcryptCost?: number;
  /** The name shown in authenticator apps. */
  issuer?: string;
  sessionTtlSeconds?: number;
  /** Called by close() after the database is closed (e.g. to quit Redis). */
  onClose?: () => Promise<void>;
}

export interface WebAuthnSettings {
  rpId: string;
  origins: string[];
}

export interface ExampleApp {
  app: express.Express;
  mfa: Mfa;
  /** The host's database (tests). */
  knex: Knex;
  /** Creates or upgrades all tables (host users and MFA). Safe on every start. */
  migrate(): Promise<void>;
  /** The purge timer's work, once: expired MFA rows, and audit events older than the retention (tests). */
  purge(): Promise<void>;
  close(): Promise<void>;
}

const UNSAFE = /^(?:POST|PUT|PATCH|DELETE)$/;
const DAY_MS = 86_400_000;

/** Problem document (RFC 9457) for the host's own JSON errors, in the same shape secondfactor uses. */
function hostProblem(res: Response, status: number, code: string, detail: string, field?: string): void {
  res.status(status).type('application/problem+json').setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ type: `urn:example:problem:${code}`, title: detail, status, code, detail, ...(field ? { field } : {}) }));
}

/** A top-level page load (GET preferring HTML over JSON): it gets a redirect or a page instead of a JSON error. */
const wantsHtml = (req: Request): boolean => req.method === 'GET' && req.accepts(['json', 'html']) === 'html';

/** Only local paths: no `//host`, no `\`, no scheme. */
function safeNext(value: unknown, fallback = '/'): string {
  return typeof value === 'string' && /^\/(?![/\\])[\w\-./?=&%]*$/.test(value) ? value : fallback;
}

export function createApp(config: AppConfig): ExampleApp {
  const { knex, keys } = config;
  const now = config.clock ?? Date.now;
  const bcryptCost = config.bcryptCost ?? 10;
  const maxAge = config.stepUpMaxAge ?? 300; // step-up freshness for /admin, seconds
  const issuer = config.issuer ?? 'Acme';
  const secureCookies = config.secureCookies ?? false;
  const users = createUsers(knex, { bcryptCost, now });
  const sessions = createSessions({ secret: keys.sessionSecret, ttlSeconds: config.sessionTtlSeconds ?? 8 * 3600, secure: secureCookies, now });
  const migrations: Array<() => Promise<void>> = [() => migrateUsers(knex)];
  const app = express();
  app.disable('x-powered-by');

  // ---- the host's HTTP basics ----
  app.use(function securityHeaders(_req, res, next) {
    res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });
  app.use(express.static(path.join(__dirname, '..', 'public'), { index: false, maxAge: 0 }));
  if (config.webauthn) app.get(SIMPLEWEBAUTHN_BROWSER_URL, serveSimpleWebAuthn()); // the pages' WebAuthn library, same origin
  app.get('/mfa/openapi.json', openApiDocument()); // the HTTP API of the /mfa routes, for OpenAPI viewers
  // CSRF: cookies are SameSite=Lax, and every state-changing request must be JSON
  // (`Content-Type: application/json`, which a cross-site form cannot send without a CORS
  // preflight we never grant) and, when the browser says where it comes from, same-origin.
  app.use(function csrfGuard(req, res, next) {
    if (!UNSAFE.test(req.method)) return next();
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    const crossOrigin = (origin !== undefined && origin !== 'null' && safeHost(origin) !== req.get('host')) || origin === 'null' || (site !== undefined && site !== 'same-origin' && site !== 'none');
    if (crossOrigin || !/^application\/json\s*(?:;|$)/i.test(req.get('content-type') ?? '')) {
      return hostProblem(res, 403, 'csrf', 'State-changing requests must be same-origin JSON (Content-Type: application/json).');
    }
    next();
  });
  app.use(express.json({ limit: '16kb' }));
  app.use(async function loadSession(req, _res, next) {
    const session = await sessions.read(req);
    if (session) {
      req.hostSession = session;
      req.user = { id: session.userId, email: session.email };
    }
    next();
  });

  const requireLogin: RequestHandler = (req, res, next) => {
    if (req.user) return next();
    if (wantsHtml(req)) return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    hostProblem(res, 401, 'unauthenticated', 'Sign in first.');
  };
  const html = (res: Response, body: string, status = 200) => {
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(body);
  };

  /**
   * Issues the host's own session and answers the login page's fetch; `extra` carries what the login
   * page shows next (the policy's reminder, or the backup codes of a factor enrolled at login).
   */
  async function signIn(res: Response, userId: string, amr: string[], next = '/settings', extra: Record<string, unknown> = {}): Promise<void> {
    const user = await users.findById(userId);
    if (!user) return hostProblem(res, 401, 'invalid_credentials', 'Invalid email or password.');
    await sessions.issue(res, { userId: user.id, email: user.email, amr });
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ ok: true, redirect: next, ...extra });
  }
  /** The password step. Same answer (and same bcrypt work) for an unknown email and a wrong password. */
  const checkPassword: RequestHandler = async (req, res, next) => {
    const user = await users.checkLogin(req.body?.email, req.body?.password);
    if (!user) return hostProblem(res, 401, 'invalid_credentials', 'Invalid email or password.');
    res.locals.userId = user.id;
    next();
  };
  /** The password was enough (no factor needed, or a trusted device): the gate's reminder goes to the page. */
  const issueHostSession: RequestHandler = (req, res) => {
    const enrollment = (res.locals.mfaGate as MfaGateResult | undefined)?.enrollment;
    return signIn(res, res.locals.userId as string, ['pwd'], safeNext(req.body?.next, '/settings'), enrollment ? { enrollment } : {});
  };
  const adminEmails = new Set((config.adminEmails ?? []).map((e) => e.trim().toLowerCase()));
  const isAdmin = (req: Request) => req.user !== undefined && adminEmails.has(req.user.email);
  /** The admin tools answer 403 to everyone else (the page itself stays the step-up demo for any user). */
  const requireAdmin: RequestHandler = (req, res, next) => {
    if (isAdmin(req)) return next();
    hostProblem(res, 403, 'forbidden', 'Only administrators can use the admin tools.');
  };
  const log = config.log ?? ((line: string) => console.error(line));
  // The host's MFA policy (src/policy.ts): administrators must use a security key or an authenticator app after a grace period.
  const hostPolicy = createPolicy(knex, {
    isAdminEmail: (email) => adminEmails.has(email), emailOf: async (id) => (await users.findById(id))?.email ?? null,
    methods: config.webauthn ? ['webauthn', 'totp'] : ['totp'], graceDays: config.adminGraceDays ?? 7, now,
  });
  migrations.push(() => hostPolicy.migrate());

  // --- secondfactor: begin
  const durable = knexStore(knex, { tablePrefix: 'mfa_' });
  const ephemeral = config.redis ? redisStore(config.redis, { keyPrefix: 'example:mfa:' }) : undefined;
  const store = config.store ?? (ephemeral ? composeStores({ durable, ephemeral }) : durable);
  migrations.push(() => migrateMfa(knex, { tablePrefix: 'mfa_' }));
  const encryptionKeys = { current: 'k1', keys: { k1: keys.mfaEncryptionKey } };
  const securityKeys = config.webauthn ? [webauthn({ rpId: config.webauthn.rpId, rpName: issuer, origins: config.webauthn.origins })] : [];
  const factors = [totp(), ...securityKeys, ...(config.sms ? [sms({ sender: config.sms })] : []), backupCodes({ bcryptCost })];
  const mfa = createMfa({ issuer, store, encryptionKeys, signingKey: keys.mfaSigningKey, clock: now, factors });
  const cookie = { secure: secureCookies }; // trusted-device and assertion cookies: Secure and __Host- in production
  const getUserId = (req: Request) => req.user?.id;
  app.use('/mfa', mfaRouter(mfa, {
    getUserId, cookie, assertionCookie: cookie,
    // At a login's enrolment step there is no host session yet: the name comes from the users table.
    getAccountName: async (req, userId) => req.user?.email ?? (await users.findById(userId))?.email,
    verifyPassword: (_req, userId, password) => users.checkPassword(userId, password), allowPasswordToDisable: true, // opt-in, counted like codes
    // After a second factor, or after enrolling the first one at login (then with its backup codes, shown once).
    onLoginComplete: (_req, res, { userId, amr, backupCodes }) => signIn(res, userId, amr, '/settings', backupCodes ? { backupCodes } : {}),
  }));
  app.post('/login', checkPassword, mfaGate(mfa, { cookie, policy: (userId) => hostPolicy.policy(userId) }), issueHostSession);
  app.post('/logout', (_req, res, next) => { clearAssertionCookie(res, cookie); next(); });
  const toStepUpPage = (req: Request, res: Response) => { if (wantsHtml(req)) res.redirect(303, `/step-up?next=${encodeURIComponent(req.originalUrl)}`); };
  const stepUp = requireMfa(mfa, { maxAge, getUserId, assertionCookie: cookie, onRequired: toStepUpPage });
  app.get('/admin', requireLogin, stepUp, adminHandler);
  // Support (reset, unlock, a user's events, the figures) for administrators with a fresh second factor; the actor is the admin's id.
  app.use('/admin/mfa', requireLogin, requireAdmin, stepUp, mfaAdminRouter(mfa, { authorize: (req) => (isAdmin(req) ? req.user!.id : false) }));
  app.use(mfaErrorHandler());
  // --- secondfactor: end

  // ---- the host's admin tools, on the engine above ----
  /** The step-up demo for everyone; for administrators also the tools and the figures of the last 14 days. */
  async function adminHandler(req: Request, res: Response): Promise<void> {
    const tools = isAdmin(req) ? { stats: await mfa.admin.stats({ since: Math.floor(now() / DAY_MS) * DAY_MS - 13 * DAY_MS }) } : undefined;
    html(res, adminPage(req.user!, { authTime: req.mfa!.authTime, amr: req.mfa!.amr, maxAge, ...(tools ? { tools } : {}) }));
  }
  // Finding a user by email (the admin API takes ids): the same admin check and step-up.
  app.get('/admin/find-user', requireLogin, requireAdmin, stepUp, async (req, res) => {
    const user = await users.findByEmail(req.query.email);
    if (!user) return hostProblem(res, 404, 'not_found', 'No user with this email.', 'email');
    res.setHeader('Cache-Control', 'no-store');
    res.json(user);
  });

  // ---- housekeeping, on the engine above ----
  // Expired challenges, codes, counters and trusted devices, and audit events past the retention, are deleted in the background.
  const purgeEvery = config.purgeIntervalSeconds ?? 600;
  const olderThanDays = config.auditRetentionDays ?? 365;
  const purge = async (): Promise<void> => {
    await Promise.all([
      durable.purgeExpired().catch((error: unknown) => log(`[example] purge failed: ${describeError(error)}`)),
      mfa.audit.purge({ olderThanDays }).catch((error: unknown) => log(`[example] audit purge failed: ${describeError(error)}`)),
    ]);
  };
  const purgeTimer = purgeEvery > 0 ? setInterval(() => void purge(), purgeEvery * 1000).unref() : undefined;

  /** The policy's reminder for a signed-in user without a factor it counts (none once they have one). */
  async function bannerFor(user: User): Promise<MfaBanner | null> {
    const [policy, status] = await Promise.all([hostPolicy.policy(user.id), mfa.admin.status(user.id)]);
    const counted = status.factors.some((f) => policy.methods === undefined || policy.methods.includes(f.type));
    if (counted) return null;
    if (policy.required && policy.graceUntil !== undefined) return { required: true, graceUntil: new Date(policy.graceUntil).toISOString() };
    return status.enabled ? null : { required: false };
  }

  // ---- the host's own pages and routes (unchanged by MFA, but for the policy's banner) ----
  app.get('/', async (req, res) => html(res, homePage(req.user ?? null, req.user ? await bannerFor(req.user) : null)));
  app.get('/register', (_req, res) => html(res, registerPage()));
  app.post('/register', async (req, res) => {
    try {
      await users.register(req.body?.email, req.body?.password);
      res.status(201).json({ ok: true, redirect: '/login?registered=1' });
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error;
      hostProblem(res, error.status, error.status === 409 ? 'email_taken' : 'invalid_request', error.message, error.field);
    }
  });
  app.get('/login', (req, res) => {
    if (req.user) return res.redirect(303, '/settings');
    html(res, loginPage(req.query.registered ? 'Account created. Sign in with your new password.' : undefined));
  });
  app.get('/login/second-factor', (_req, res) => html(res, secondFactorPage({ webauthn: config.webauthn !== undefined })));
  app.get('/login/enroll', (_req, res) => html(res, enrollPage({ webauthn: config.webauthn !== undefined })));
  app.post('/logout', (_req, res) => {
    sessions.clear(res);
    res.json({ ok: true, redirect: '/' });
  });

  // ---- the security pages (UI for the routes above) ----
  app.get('/settings', requireLogin, async (req, res) =>
    html(res, settingsPage(req.user!, {
      smsAvailable: mfa.factorTypes.some((t) => t.type === 'sms'), devMode: config.devCodes !== undefined,
      webauthnAvailable: config.webauthn !== undefined, webauthnOrigins: config.webauthn?.origins,
    }, await bannerFor(req.user!))));
  app.get('/step-up', requireLogin, async (req, res) => {
    const { enabled, factors } = await mfa.status(req.user!.id);
    html(res, stepUpPage(req.user!, { next: safeNext(req.query.next), enabled, maxAge, securityKey: factors.some((f) => f.type === 'webauthn') }));
  });
  if (config.devCodes) {
    const devCodes = config.devCodes;
    // Development only ("dev mode: your code is …"): the last code sent to a phone of THIS login's
    // user (the caller holds the challenge token) or of the signed-in user's pending phone factor.
    app.post('/dev/sms-code', async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      const { challengeToken, factorId } = (req.body ?? {}) as { challengeToken?: unknown; factorId?: unknown };
      let userId: string | undefined;
      if (typeof challengeToken === 'string' && challengeToken.length <= 128) {
        const challenge = await store.getChallenge(createHash('sha256').update(challengeToken).digest('base64url'));
        if (challenge && challenge.expiresAt > now()) userId = challenge.userId;
      } else if (typeof factorId === 'string' && req.user) {
        userId = req.user.id;
      }
      const phones = userId === undefined ? [] : (await store.listFactors(userId))
        .filter((f) => f.type === 'sms' && (factorId === undefined || f.id === factorId))
        .map((f) => String(f.data.phone));
      const code = phones.map((p) => devCodes.lastCodeTo(p)).find((c) => c !== undefined);
      res.json({ code: code ?? null });
    });
  }

  app.use((req, res) => {
    if (wantsHtml(req)) return html(res, notFoundPage(req.user ?? null), 404);
    hostProblem(res, 404, 'not_found', 'Not found.');
  });
  app.use(function hostErrorHandler(error: unknown, req: Request, res: Response, _next: NextFunction) {
    const status = (error as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return hostProblem(res, status, 'invalid_request', 'The request is not valid.');
    // A code and a cleaned message only: driver errors can carry SQL with bound values (a password hash).
    log(`[example] unexpected error on ${req.method} ${req.path}: ${describeError(error)}`);
    if (res.headersSent) return res.end();
    hostProblem(res, 500, 'internal_error', 'Something went wrong.');
  });

  return {
    app,
    mfa,
    knex,
    async migrate() {
      for (const run of migrations) await run();
    },
    purge,
    async close() {
      if (purgeTimer) clearInterval(purgeTimer);
      await knex.destroy();
      await config.onClose?.();
    },
  };
}

function safeHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}
