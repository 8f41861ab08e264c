// examples/oidc-api/src/app.ts
// An API whose users sign in at an external OpenID Connect provider (Auth0, Okta, Entra ID,
// Keycloak, …) and call it with a JWT access token (RFC 9068). The API validates the token with
// the provider's published keys (jose's createRemoteJWKSet) and takes the user id from `sub`.
// secondfactor adds what the provider does not do for this API: TOTP enrolment, a second factor
// when the API session starts (mfaGate), and step-up for sensitive routes (requireMfa).
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { backupCodes, createMfa, totp, type Mfa, type MfaStore } from '@secondfactor/core';
import { mfaErrorHandler, mfaGate, mfaRouter, requireMfa } from '@secondfactor/express';

declare global {
  namespace Express {
    interface Request {
      /** The validated access token's claims. */
      auth?: JWTPayload & { sub: string };
    }
  }
}

export interface OidcApiConfig {
  /** The provider's issuer URL, exactly as in its tokens' `iss`. */
  issuer: string;
  /** This API's identifier at the provider: the tokens' `aud`. */
  audience: string;
  /** The provider's JWKS URL (from its discovery document's `jwks_uri`). */
  jwksUri: string;
  /** The MFA store (e.g. composeStores({ durable: knexStore(knex), ephemeral: redisStore(redis) })). */
  store: MfaStore;
  keys: { mfaEncryptionKey: string; mfaSigningKey: string };
  /** Secure cookies (default true; false only for local http). */
  secureCookies?: boolean;
  /** How long the API session lasts after the second factor, in seconds (default 3600). */
  sessionSeconds?: number;
  /** How recent the second factor must be for sensitive routes, in seconds (default 300). */
  stepUpMaxAge?: number;
  /** Epoch milliseconds (tests). */
  clock?: () => number;
  /** Backup-code bcrypt cost (default 10). */
  bcryptCost?: number;
}

function problem(res: Response, status: number, code: string, title: string): void {
  res.status(status).type('application/problem+json').setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ type: `urn:example:problem:${code}`, title, status, code }));
}

/** Validates `Authorization: Bearer <access token>`: signature (provider's JWKS), iss, aud, exp, typ `at+jwt`. */
export function authenticate(jwks: JWTVerifyGetKey, options: { issuer: string; audience: string }): RequestHandler {
  return async function authenticateAccessToken(req, res, next) {
    const match = /^Bearer +([\w.~+/-]+=*) *$/i.exec(req.get('authorization') ?? '');
    const refuse = (error?: string) => {
      res.setHeader('WWW-Authenticate', `Bearer realm="api"${error ? `, error="${error}"` : ''}`);
      problem(res, 401, 'unauthenticated', 'A valid access token from the identity provider is required.');
    };
    if (!match) return refuse();
    try {
      const { payload } = await jwtVerify(match[1], jwks, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt', // an ID token (typ JWT) is not an access token for this API
        algorithms: ['ES256', 'RS256', 'EdDSA'],
        clockTolerance: 5,
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') return refuse('invalid_token');
      req.auth = payload as JWTPayload & { sub: string };
      next();
    } catch {
      refuse('invalid_token');
    }
  };
}

export function createApi(config: OidcApiConfig): { app: express.Express; mfa: Mfa } {
  const jwks = createRemoteJWKSet(new URL(config.jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  const auth = authenticate(jwks, config);
  const secure = config.secureCookies ?? true;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  // --- secondfactor: begin
  const mfa = createMfa({
    issuer: 'OIDC API Example',
    store: config.store,
    encryptionKeys: { current: 'k1', keys: { k1: config.keys.mfaEncryptionKey } },
    signingKey: config.keys.mfaSigningKey,
    // The MFA assertion is the API session's second half: it lives as long as the session.
    assertion: { ttlSeconds: config.sessionSeconds ?? 3600 },
    factors: [totp(), backupCodes({ bcryptCost: config.bcryptCost ?? 10 })],
    ...(config.clock ? { clock: config.clock } : {}),
  });
  // The user id is the provider's `sub` (with several providers, prefix it with the issuer).
  const getUserId = (req: Request) => req.auth?.sub;
  // The assertion travels in an HttpOnly cookie: the Authorization header carries the provider's token.
  const cookie = { secure };
  app.use('/mfa', auth, mfaRouter(mfa, {
    getUserId, cookie, assertionCookie: cookie,
    onLoginComplete: (req, res, { userId, amr, expiresIn }) => {
      // The challenge was issued to the token's user; the same token must finish it.
      if (userId !== req.auth?.sub) {
        res.removeHeader('Set-Cookie'); // the router already set the assertion cookie: it must not leave
        return problem(res, 403, 'wrong_user', 'This challenge belongs to another user.');
      }
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).json({ session: 'started', sub: userId, amr, expiresIn });
    },
  }));
  // "Login" of the API session: the provider's token alone is the first factor.
  app.post('/api/session', auth, (req, res, next) => {
    res.locals.userId = req.auth!.sub;
    next();
  }, mfaGate(mfa, { cookie }), (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ session: 'started', sub: req.auth!.sub, amr: [] }); // no second factor enrolled
  });
  // Every API route: a user with a second factor needs the session's assertion (any age within the session).
  const sessionGuard = requireMfa(mfa, { getUserId, assertionCookie: cookie });
  const apiSession: RequestHandler = async (req, res, next) => {
    const { enabled } = await mfa.status(req.auth!.sub);
    if (!enabled) return next();
    sessionGuard(req, res, next);
  };
  // Sensitive routes: a second factor verified within stepUpMaxAge (POST /mfa/step-up renews it).
  const stepUpMaxAge = config.stepUpMaxAge ?? 300;
  const stepUp = requireMfa(mfa, { maxAge: stepUpMaxAge, getUserId, assertionCookie: cookie });
  // --- secondfactor: end

  app.get('/api/profile', auth, apiSession, (req, res) => {
    res.json({ sub: req.auth!.sub, scope: req.auth!.scope ?? null, mfa: req.mfa ? { amr: req.mfa.amr, authTime: new Date(req.mfa.authTime).toISOString() } : null });
  });
  app.post('/api/payouts', auth, stepUp, (req, res) => {
    const amount = req.body?.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) return problem(res, 400, 'invalid_request', 'amount must be a positive integer (cents).');
    res.status(201).json({ payout: { amount, to: req.auth!.sub }, verifiedAt: new Date(req.mfa!.authTime).toISOString() });
  });

  app.use(mfaErrorHandler());
  app.use((_req, res) => problem(res, 404, 'not_found', 'Not found.'));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return problem(res, status, 'invalid_request', 'The request is not valid.');
    console.error('[oidc-api] unexpected error:', error instanceof Error ? error.message : error);
    if (res.headersSent) return res.end();
    problem(res, 500, 'internal_error', 'Something went wrong.');
  });
  return { app, mfa };
}
