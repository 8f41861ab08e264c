// packages/express/src/request-context.ts
// What every core call receives about the request (ip, user agent, for audit events), and the
// host user of a request as given by the host's `getUserId`.
import type { Request, Response } from 'express';
import type { RequestContext } from '@secondfactor/core';
import type { GetUserId } from './types';

const MAX_USER_AGENT = 512;

/** `{ip, userAgent}` of the request, for core's events. `ip` honours the host's `trust proxy`. */
export function contextOf(req: Request): RequestContext {
  const ua = req.get('user-agent');
  const ctx: RequestContext = {};
  if (req.ip) ctx.ip = req.ip;
  if (ua) ctx.userAgent = ua.slice(0, MAX_USER_AGENT);
  return ctx;
}

/**
 * The host user id as a string, or undefined when nobody is signed in. Throws a TypeError for
 * a value that cannot be a user id (a host bug: it becomes a 500, never a pass).
 */
export async function resolveUserId(getUserId: GetUserId, req: Request, res: Response): Promise<string | undefined> {
  return userIdOf(await getUserId(req, res));
}

/** `resolveUserId` for a value already at hand (what `getUserId` returned or resolved to). */
export function userIdOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && value.length <= 255) return value;
  throw new TypeError('secondfactor: getUserId must return a string (or a safe integer), null or undefined');
}
