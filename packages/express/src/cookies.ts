// packages/express/src/cookies.ts
// The trusted-device and assertion cookies: their resolved names and attributes (HttpOnly,
// Secure, SameSite, `__Host-` prefix), Set-Cookie serializers and a Cookie-header reader.
// Written here rather than taken from a cookie library so the package stays CommonJS-loadable
// everywhere (Jest included) and the attributes are exactly the ones the security requirements
// ask for.
import type { Request } from 'express';
import type { AssertionCookieOptions, TrustedDeviceCookieOptions } from './types';
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

interface CookieSpec {
  /** The option's name in error messages: `cookie` or `assertionCookie`. */
  option: string;
  defaultName: string;
  /** Accepted keys (`path` only for the trusted-device cookie). */
  keys: readonly string[];
  sameSites: readonly ('lax' | 'strict' | 'none')[];
}

const TRUSTED_DEVICE: CookieSpec = { option: 'cookie', defaultName: 'sf_td', keys: ['name', 'secure', 'path', 'sameSite'], sameSites: ['lax', 'strict', 'none'] };
const ASSERTION: CookieSpec = { option: 'assertionCookie', defaultName: 'sf_mfa', keys: ['name', 'secure', 'sameSite'], sameSites: ['lax', 'strict'] };

/** The default assertion cookie names: with `secure` (the default), and with `secure: false`. */
export const DEFAULT_ASSERTION_COOKIE_NAMES = ['__Host-sf_mfa', 'sf_mfa'] as const;

/** Validates cookie options once (at factory time) and resolves the defaults. */
function resolveCookie(options: unknown, where: string, spec: CookieSpec): ResolvedCookie {
  const o = (options ?? {}) as { name?: unknown; secure?: unknown; path?: unknown; sameSite?: unknown };
  const opt = spec.option;
  checkKnownKeys(o, spec.keys, `${where} option \`${opt}\``);
  if (o.secure !== undefined && typeof o.secure !== 'boolean') throw configError(where, `${opt}.secure`, 'must be a boolean');
  const secure = o.secure !== false;
  const base = o.name ?? spec.defaultName;
  if (typeof base !== 'string' || !NAME.test(base) || base.length > 64) throw configError(where, `${opt}.name`, 'must be a cookie name of token characters');
  const path = o.path ?? '/';
  if (typeof path !== 'string' || !PATH.test(path)) throw configError(where, `${opt}.path`, 'must be a path starting with "/"');
  if (secure && path !== '/') throw configError(where, `${opt}.path`, `must be "/" when ${opt}.secure is true (the __Host- prefix requires it)`);
  const sameSite = o.sameSite ?? 'lax';
  if (!spec.sameSites.includes(sameSite as 'lax')) {
    const allowed = spec.sameSites.map((v) => `"${v}"`);
    throw configError(where, `${opt}.sameSite`, `must be ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`);
  }
  if (sameSite === 'none' && !secure) throw configError(where, `${opt}.sameSite`, `"none" requires ${opt}.secure`);
  const prefixed = base.startsWith('__Host-') || base.startsWith('__Secure-');
  if (!secure && prefixed) throw configError(where, `${opt}.name`, `must not start with __Host- or __Secure- when ${opt}.secure is false`);
  return {
    name: secure && !prefixed ? `__Host-${base}` : base,
    secure,
    path,
    sameSite: sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None',
  };
}

/** The trusted-device cookie (option `cookie` of mfaRouter() and mfaGate()). */
export function resolveTrustedDeviceCookie(options: TrustedDeviceCookieOptions | undefined, where: string): ResolvedCookie {
  return resolveCookie(options, where, TRUSTED_DEVICE);
}

/**
 * The assertion cookie (option `assertionCookie`): `null` when off (`undefined` or `false`),
 * the defaults for `true`.
 */
export function resolveAssertionCookie(options: boolean | AssertionCookieOptions | undefined, where: string): ResolvedCookie | null {
  if (options === undefined || options === false) return null;
  if (options === true) return resolveCookie({}, where, ASSERTION);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw configError(where, 'assertionCookie', 'must be a boolean or an object');
  return resolveCookie(options, where, ASSERTION);
}

/** A `Set-Cookie` value for `name=value` with the resolved attributes. */
export function serializeCookie(cookie: ResolvedCookie, value: string, maxAgeSeconds: number): string {
  if (!VALUE.test(value)) throw new TypeError('secondfactor: cookie value has characters a cookie cannot carry');
  const parts = [`${cookie.name}=${value}`, `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, `Path=${cookie.path}`, 'HttpOnly'];
  if (cookie.secure) parts.push('Secure');
  parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

/** A `Set-Cookie` value that removes the cookie (empty value, expired, same attributes). */
function serializeExpiredCookie(cookie: ResolvedCookie): string {
  const parts = [`${cookie.name}=`, `Path=${cookie.path}`, 'Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Max-Age=0', 'HttpOnly'];
  if (cookie.secure) parts.push('Secure');
  parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

/** What `appendSetCookie` needs of a response (an Express or a plain Node response). */
type HeaderTarget = { getHeader(name: string): unknown; setHeader(name: string, value: string[]): unknown };

/**
 * Removes the assertion cookie, for your logout route. Give it the same `assertionCookie` value
 * as `mfaRouter()` and `requireMfa()` (default: the router's default, `__Host-sf_mfa`); with
 * `false` it does nothing. Other cookies on the response are kept.
 *
 * @example
 * app.post('/logout', (req, res) => { clearAssertionCookie(res, { secure: false }); endSession(req, res); });
 */
export function clearAssertionCookie(res: HeaderTarget, options: boolean | AssertionCookieOptions = true): void {
  const cookie = resolveAssertionCookie(options, 'clearAssertionCookie()');
  if (cookie) appendSetCookie(res, serializeExpiredCookie(cookie));
}

/** The response's Set-Cookie values so far, as a list. */
function setCookieValues(res: HeaderTarget): string[] {
  const current = res.getHeader('Set-Cookie');
  return current === undefined ? [] : Array.isArray(current) ? current.map(String) : [String(current)];
}

/** Adds a Set-Cookie header without dropping any the host set. */
export function appendSetCookie(res: HeaderTarget, value: string): void {
  res.setHeader('Set-Cookie', [...setCookieValues(res), value]);
}

/** Takes `values` off the response's Set-Cookie header, keeping every other cookie on it. */
export function withdrawSetCookie(res: HeaderTarget & { removeHeader(name: string): unknown }, values: readonly string[]): void {
  const kept = setCookieValues(res).filter((v) => !values.includes(v));
  if (kept.length === 0) res.removeHeader('Set-Cookie');
  else res.setHeader('Set-Cookie', kept);
}

/** The value of cookie `name` in the request's Cookie header (the first one), or undefined. */
export function readCookie(req: Request, name: string): string | undefined {
  return readCookies(req, [name])[0];
}

/**
 * The values of the cookies `names` (in that order; one parse of the header), each as
 * `readCookie` reads it: the first cookie of that name decides, and a value a cookie cannot carry
 * counts as none. Names without a value are left out.
 */
export function readCookies(req: Request, names: readonly string[]): string[] {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192 || names.length === 0) return [];
  const found: (string | null | undefined)[] = names.map(() => null); // null: not seen yet; undefined: seen, unusable
  let left = names.length;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const i = names.indexOf(pair.slice(0, eq).trim());
    if (i < 0 || found[i] !== null) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    found[i] = VALUE.test(value) ? value : undefined;
    if (--left === 0) break;
  }
  return found.filter((v): v is string => typeof v === 'string');
}
