// examples/passport-session/src/app.ts
// An Express auth server as many are built: Passport (passport-local) for the password,
// express-session on Redis (connect-redis) for the session — plus a second sign-in path (a magic
// link). secondfactor is added in ONE marked block; its gate sits after EACH first-factor route,
// so neither the password nor the link can skip the second factor. Exported for tests.
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { backupCodes, composeStores, createMfa, totp, type Mfa } from '@secondfactor/core';
import { mfaErrorHandler, mfaGate, mfaRouter, requireMfa, clearAssertionCookie } from '@secondfactor/express';
import { knexStore, migrate as migrateMfa } from '@secondfactor/knex';
import { redisStore } from '@secondfactor/redis';
import { magicLinks, type DevOutbox, type Mailer } from './magic-link';
import { createUsers, type HostUser } from './users';

declare global {
  namespace Express {
    // What Passport puts on req.user (deserializeUser below).
    interface User extends HostUser {}
  }
}
declare module 'express-session' {
  interface SessionData {
    /** RFC 8176 methods of this session's sign-in, e.g. ['pwd'] or ['mfa', 'otp']. */
    amr?: string[];
  }
}

export interface PassportAppConfig {
  /** Host users and the durable MFA tables (PostgreSQL, or SQLite for a single process). */
  knex: Knex;
  /** ioredis: secondfactor's short-lived state and the magic-link tokens. */
  redis: Redis;
  /** node-redis (`redis` v5) client for connect-redis, which needs that client. */
  sessionRedis: ConstructorParameters<typeof RedisStore>[0]['client'];
  keys: { sessionSecret: string; mfaEncryptionKey: string; mfaSigningKey: string };
  /** Where sign-in links go (the dev outbox in development). */
  mailer: Mailer;
  /** Development only: serves the outbox's last message per address at GET /dev/outbox?to=<email>. */
  devOutbox?: DevOutbox;
  /** Base URL put in sign-in links, e.g. https://app.example.com */
  publicUrl: string;
  /** Prefix of this app's tables (default ''): users are `<prefix>users`, MFA tables `<prefix>mfa_…`. */
  tablePrefix?: string;
  /** Prefix of this app's Redis keys (default 'passport-example:'). */
  keyPrefix?: string;
  /** Secure cookies (default true; false only for local http). */
  secureCookies?: boolean;
  /** bcrypt cost for passwords and backup codes (default 10). */
  bcryptCost?: number;
  /** Seconds a second-factor verification stays fresh for sensitive routes (default 300). */
  stepUpMaxAge?: number;
}

export interface PassportApp {
  app: express.Express;
  mfa: Mfa;
  migrate(): Promise<void>;
}

function problem(res: Response, status: number, code: string, title: string): void {
  res.status(status).type('application/problem+json').setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ type: `urn:example:problem:${code}`, title, status, code }));
}

export function createApp(config: PassportAppConfig): PassportApp {
  const tablePrefix = config.tablePrefix ?? '';
  const keyPrefix = config.keyPrefix ?? 'passport-example:';
  const secure = config.secureCookies ?? true;
  const bcryptCost = config.bcryptCost ?? 10;
  const users = createUsers(config.knex, { table: `${tablePrefix}users`, bcryptCost });
  const links = magicLinks(config.redis, { keyPrefix });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false); // set it to your proxy hops in production: secondfactor's limits use req.ip

  // ---- the host's basics: JSON only for state changes (a cross-site form cannot send JSON) ----
  app.use((req, res, next) => {
    if (/^(?:POST|PUT|PATCH|DELETE)$/.test(req.method) && !req.is('application/json')) {
      return problem(res, 415, 'unsupported_media_type', 'Send JSON (Content-Type: application/json).');
    }
    next();
  });
  app.use(express.json({ limit: '16kb' }));
  app.use(session({
    store: new RedisStore({ client: config.sessionRedis, prefix: `${keyPrefix}sess:` }),
    name: 'sid',
    secret: config.keys.sessionSecret,
    resave: false,
    saveUninitialized: false, // no session (and no cookie) before someone has signed in
    cookie: { httpOnly: true, sameSite: 'lax', secure, maxAge: 8 * 3600_000 },
  }));

  // ---- Passport ----
  const passport = new Passport();
  passport.use(new LocalStrategy({ usernameField: 'email', passwordField: 'password' }, (email, password, done) => {
    users.checkLogin(email, password).then((user) => done(null, user ?? false), done);
  }));
  passport.serializeUser<string>((user, done) => done(null, user.id));
  passport.deserializeUser<string>((id, done) => {
    users.findById(id).then((user) => done(null, user ?? false), done);
  });
  app.use(passport.initialize());
  app.use(passport.session());

  /**
   * Starts the host session for `user` and answers — inside the callbacks. Passport ≥ 0.6's
   * `req.login` regenerates the session (new id, old one destroyed in Redis) before storing the
   * user: an id planted before sign-in (session fixation) is worth nothing afterwards.
   */
  function startSession(req: Request, res: Response, next: NextFunction, user: HostUser, amr: string[]): void {
    req.login(user, (error) => {
      if (error) return next(error);
      req.session.amr = amr;
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).json({ ok: true, user: { id: user.id, email: user.email }, amr });
    });
  }

  /** First factor #1: email + password through passport-local. Sets res.locals.userId; no session yet. */
  const passwordStep: RequestHandler = (req, res, next) => {
    passport.authenticate('local', { session: false }, (error: unknown, user: HostUser | false) => {
      if (error) return next(error);
      if (!user) return problem(res, 401, 'invalid_credentials', 'Invalid email or password.');
      res.locals.userId = user.id;
      res.locals.firstFactor = ['pwd'];
      next();
    })(req, res, next);
  };
  /** First factor #2: a magic link's token (consumed once). Sets res.locals.userId; no session yet. */
  const magicLinkStep: RequestHandler = async (req, res, next) => {
    const userId = await links.consume(req.body?.token);
    if (!userId) return problem(res, 401, 'invalid_link', 'This sign-in link is not valid (used, expired or mistyped).');
    res.locals.userId = userId;
    res.locals.firstFactor = [];
    next();
  };
  /** After the gate let the request through (no second factor enrolled, or a trusted device). */
  const establishSession: RequestHandler = async (req, res, next) => {
    const user = await users.findById(res.locals.userId as string);
    if (!user) return problem(res, 401, 'invalid_credentials', 'Invalid email or password.');
    startSession(req, res, next, user, res.locals.firstFactor as string[]);
  };

  // --- secondfactor: begin
  const mfa = createMfa({
    issuer: 'Passport Example',
    store: composeStores({
      durable: knexStore(config.knex, { tablePrefix: `${tablePrefix}mfa_` }),
      ephemeral: redisStore(config.redis, { keyPrefix: `${keyPrefix}mfa:` }),
    }),
    encryptionKeys: { current: 'k1', keys: { k1: config.keys.mfaEncryptionKey } },
    signingKey: config.keys.mfaSigningKey,
    factors: [totp(), backupCodes({ bcryptCost })],
  });
  const cookie = { secure }; // trusted-device and assertion cookies
  const getUserId = (req: Request) => req.user?.id;
  app.use('/mfa', mfaRouter(mfa, {
    getUserId, cookie, assertionCookie: cookie,
    getAccountName: (req) => req.user?.email,
    // The second factor passed: a NEW session for this user, answered inside the callbacks.
    onLoginComplete: async (req, res, { userId, amr }) => {
      const user = await users.findById(userId);
      if (!user) return problem(res, 401, 'invalid_credentials', 'Invalid email or password.');
      startSession(req, res, (error) => {
        console.error('[passport-example] could not start the session', error);
        if (!res.headersSent) problem(res, 500, 'internal_error', 'Something went wrong.');
      }, user, amr);
    },
  }));
  const gate = mfaGate(mfa, { cookie });
  app.post('/login', passwordStep, gate, establishSession); // password
  app.post('/login/magic-link', magicLinkStep, gate, establishSession); // magic link
  // A social-login callback would be the same: passport.authenticate('github', { session: false, … }) → res.locals.userId → gate → establishSession.
  const stepUpMaxAge = config.stepUpMaxAge ?? 300;
  const sensitive = requireMfa(mfa, { maxAge: stepUpMaxAge, getUserId, assertionCookie: cookie });
  app.use(mfaErrorHandler());
  // --- secondfactor: end

  // ---- the host's own routes ----
  const requireLogin: RequestHandler = (req, res, next) => (req.user ? next() : problem(res, 401, 'unauthenticated', 'Sign in first.'));

  app.post('/register', async (req, res) => {
    const user = await users.register(req.body?.email, req.body?.password);
    if (!user) return problem(res, 400, 'invalid_request', 'A valid, unused email and a password of 8 to 256 characters are needed.');
    res.status(201).json({ id: user.id, email: user.email });
  });
  // Always the same answer: whether the address has an account is not revealed.
  app.post('/magic-link', async (req, res) => {
    const user = await users.findByEmail(req.body?.email);
    if (user) {
      const token = await links.issue(user.id);
      await config.mailer.sendSignInLink(user.email, `${config.publicUrl}/login/magic-link#token=${token}`);
    }
    res.status(202).json({ sent: true });
  });
  app.get('/me', requireLogin, (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ id: req.user!.id, email: req.user!.email, amr: req.session.amr ?? [] });
  });
  // A sensitive action: signed in AND a second factor verified within stepUpMaxAge, by this user.
  app.post('/account/api-keys', requireLogin, sensitive, (req, res) => {
    res.status(201).json({ apiKey: `demo_${req.user!.id.slice(0, 8)}`, verifiedAt: new Date(req.mfa!.authTime).toISOString() });
  });
  app.post('/logout', (req, res, next) => {
    clearAssertionCookie(res, cookie);
    req.logout((error) => {
      if (error) return next(error);
      req.session.destroy(() => res.status(204).end());
    });
  });

  const outbox = config.devOutbox;
  if (outbox) {
    app.get('/dev/outbox', (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(outbox.last(String(req.query.to ?? '').toLowerCase()) ?? null);
    });
  }

  app.use((_req, res) => problem(res, 404, 'not_found', 'Not found.'));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return problem(res, status, 'invalid_request', 'The request is not valid.');
    console.error('[passport-example] unexpected error:', error instanceof Error ? error.message : error);
    if (res.headersSent) return res.end();
    problem(res, 500, 'internal_error', 'Something went wrong.');
  });

  return {
    app,
    mfa,
    async migrate() {
      await users.migrate();
      await migrateMfa(config.knex, { tablePrefix: `${tablePrefix}mfa_` });
    },
  };
}
