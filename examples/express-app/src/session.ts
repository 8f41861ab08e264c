// examples/express-app/src/session.ts
// The host's OWN session: an HttpOnly cookie holding a jose-signed HS256 JWT. Nothing here knows about MFA.
import type { CookieOptions, Request, Response } from 'express';
import { SignJWT, jwtVerify } from 'jose';

const SESSION_COOKIE = 'session';
const ISSUER = 'example-express-app';

export interface Session {
  userId: string;
  email: string;
  /** How the user signed in (RFC 8176 values): `['pwd']`, or `['pwd', 'mfa', 'otp']` after a second factor. */
  amr: string[];
}

export interface SessionOptions {
  secret: string;
  ttlSeconds: number;
  secure: boolean;
  now: () => number;
}

/** Parses the Cookie header (no dependency: the header format is simple and we only read our own cookies). */
function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function createSessions(options: SessionOptions) {
  const key = new TextEncoder().encode(options.secret);
  const cookieOptions = (maxAgeSeconds?: number): CookieOptions => ({
    httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/',
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds * 1000 }),
  });

  return {
    cookieOptions,
    async issue(res: Response, session: Session): Promise<void> {
      const iat = Math.floor(options.now() / 1000);
      const token = await new SignJWT({ email: session.email, amr: session.amr })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER).setSubject(session.userId).setIssuedAt(iat).setExpirationTime(iat + options.ttlSeconds)
        .sign(key);
      res.cookie(SESSION_COOKIE, token, cookieOptions(options.ttlSeconds));
    },
    async read(req: Request): Promise<Session | null> {
      const token = readCookie(req, SESSION_COOKIE);
      if (!token || token.length > 4096) return null;
      try {
        const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ['HS256'], currentDate: new Date(options.now()) });
        if (typeof payload.sub !== 'string' || typeof payload.email !== 'string' || !Array.isArray(payload.amr)) return null;
        return { userId: payload.sub, email: payload.email, amr: payload.amr.map(String) };
      } catch {
        return null;
      }
    },
    clear(res: Response, name = SESSION_COOKIE): void {
      res.clearCookie(name, cookieOptions());
    },
  };
}

