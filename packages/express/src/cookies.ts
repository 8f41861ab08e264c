// packages/express/src/cookies.ts
// The trusted-device cookie: its resolved name and attributes (HttpOnly, Secure, SameSite,
// `__Host-` prefix), a Set-Cookie serializer and a Cookie-header reader. Written here rather than
// taken from a cookie library so the package stays CommonJS-loadable everywhere (Jest included)
// and the attributes are exactly the ones the security requirements ask for.
import type { Request } from 'express';
import type { TrustedDeviceCookieOptions } from './types';
import { checkKnownKeys, configError } from './options';

/** RFC 6265 token characters, for cookie names. */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 cookie-octets, for cookie values. */
const VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const PATH = /^\/[\x20-\x3a\x3c-\x7e]*$/;

export interface ResolvedCookie {
  name: string;
  secure: boolean;
  path: string;
  sameSite: 'Lax' | 'Strict' | 'None';
}

/** Validates the cookie options once (at factory time) and resolves the defaults. */
export function resolveTrustedDeviceCookie(options: TrustedDeviceCookieOptions | undefined, where: string): ResolvedCookie {
  const o = options ?? {};
  checkKnownKeys(o, ['name', 'secure', 'path', 'sameSite'], `${where} option \`cookie\``);
  if (o.secure !== undefined && typeof o.secure !== 'boolean') throw configError(where, 'cookie.secure', 'must be a boolean');
  const secure = o.secure !== false;
  const base = o.name ?? 'sf_td';
  if (typeof base !== 'string' || !NAME.test(base) || base.length > 64) throw configError(where, 'cookie.name', 'must be a cookie name of token characters');
  const path = o.path ?? '/';
  if (typeof path !== 'string' || !PATH.test(path)) throw configError(where, 'cookie.path', 'must be a path starting with "/"');
  if (secure && path !== '/') throw configError(where, 'cookie.path', 'must be "/" when cookie.secure is true (the __Host- prefix requires it)');
  const sameSite = o.sameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') throw configError(where, 'cookie.sameSite', 'must be "lax", "strict" or "none"');
  if (sameSite === 'none' && !secure) throw configError(where, 'cookie.sameSite', '"none" requires cookie.secure');
  const prefixed = base.startsWith('__Host-') || base.startsWith('__Secure-');
  if (!secure && prefixed) throw configError(where, 'cookie.name', 'must not start with __Host- or __Secure- when cookie.secure is false');
  return {
    name: secure && !prefixed ? `__Host-${base}` : base,
    secure,
    path,
    sameSite: sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None',
  };
}

/** A `Set-Cookie` value for `name=value` with the resolved attributes. */
export function serializeCookie(cookie: ResolvedCookie, value: string, maxAgeSeconds: number): string {
  if (!VALUE.test(value)) throw new TypeError('secondfactor: cookie value has characters a cookie cannot carry');
  const parts = [`${cookie.name}=${value}`, `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, `Path=${cookie.path}`, 'HttpOnly'];
  if (cookie.secure) parts.push('Secure');
  parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

/** Adds a Set-Cookie header without dropping any the host set. */
export function appendSetCookie(res: { getHeader(name: string): unknown; setHeader(name: string, value: string[]): unknown }, value: string): void {
  const current = res.getHeader('Set-Cookie');
  const list = current === undefined ? [] : Array.isArray(current) ? current.map(String) : [String(current)];
  res.setHeader('Set-Cookie', [...list, value]);
}

/** The value of cookie `name` in the request's Cookie header (the first one), or undefined. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return VALUE.test(value) ? value : undefined;
  }
  return undefined;
}
