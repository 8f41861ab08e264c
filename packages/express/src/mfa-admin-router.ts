// packages/express/src/mfa-admin-router.ts
// mfaAdminRouter(): support and administration over HTTP — look up a user's MFA and recent
// events, reset, unlock, the figures, the audit log — behind the host's own admin check, which
// also names the actor every action is audited with.
import express, { type Request, type Response, type Router } from 'express';
import type { Mfa } from '@secondfactor/core';
import { optionalString, routeUserId } from './fields';
import { routerErrorHandler } from './error-handler';
import { handleAsyncErrors } from './handle-async';
import { logUnexpectedError } from './log-error';
import { checkFunction, checkKnownKeys, checkMfa } from './options';
import { invalidRequest, ProblemError } from './problem';
import { readJsonBody } from './read-body';
import { contextOf } from './request-context';

const WHERE = 'mfaAdminRouter()';

export interface MfaAdminRouterOptions {
  /**
   * The host's admin check: the id of the signed-in admin (recorded as the actor of every action),
   * or `false`/`null`/`undefined` when this request may not administer (403). Required.
   */
  authorize: (req: Request, res: Response) => string | false | null | undefined | Promise<string | false | null | undefined>;
  /** Called for 5xx answers (store outage), for logging; by default one cleaned line on stderr. */
  onError?: (error: unknown, req: Request) => void;
}

/** A time in a query string: ISO 8601 or epoch milliseconds. */
function timeOf(req: Request, name: 'since' | 'until'): number | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' ? (/^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value)) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalidRequest(name, `${name} must be an ISO 8601 time or epoch milliseconds`);
  return ms;
}

function queryString(req: Request, name: 'userId' | 'cursor', max: number): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalidRequest(name, `${name} must be a string of at most ${max} characters`);
  return value;
}

function limitOf(req: Request): number | undefined {
  const value = req.query.limit;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,3}$/.test(value)) throw invalidRequest('limit', 'limit must be an integer from 1 to 200');
  return Number(value);
}

/**
 * The admin routes, to mount under a path of your choice (behind your admin session).
 *
 * @example
 * app.use('/admin/mfa', mfaAdminRouter(mfa, { authorize: (req) => (req.user?.isAdmin ? req.user.id : false) }));
 */
export function mfaAdminRouter(mfa: Mfa, options: MfaAdminRouterOptions): Router {
  checkMfa(mfa, WHERE);
  checkKnownKeys(options, ['authorize', 'onError'], `${WHERE} options`);
  checkFunction(options.authorize, WHERE, 'authorize', true);
  checkFunction(options.onError, WHERE, 'onError');
  const { authorize } = options;
  const onError = options.onError ?? logUnexpectedError;
  const router = express.Router();

  /** The admin's id, or a 403: nothing of a user is read before the host said yes. */
  async function actorOf(req: Request, res: Response): Promise<string> {
    const actor = await authorize(req, res);
    if (typeof actor !== 'string' || actor.length === 0) throw new ProblemError('forbidden');
    return actor;
  }

  const route = (fn: (req: Request, res: Response, actor: string) => Promise<void>) =>
    handleAsyncErrors(async function adminRoute(req: Request, res: Response) {
      res.setHeader('Cache-Control', 'no-store');
      await fn(req, res, await actorOf(req, res));
    });

  router.get('/users/:id', route(async (req, res) => {
    const userId = routeUserId(req.params.id);
    const [status, recent] = await Promise.all([mfa.admin.status(userId), mfa.audit.list({ userId, limit: 20 })]);
    res.status(200).json({ userId, ...status, events: recent.events });
  }));

  router.post('/users/:id/reset', route(async (req, res, actor) => {
    const userId = routeUserId(req.params.id);
    const body = await readJsonBody(req);
    const reason = optionalString(body, 'reason');
    await mfa.admin.reset(userId, { actor, ...(reason === undefined ? {} : { reason }) }, contextOf(req));
    res.status(204).end();
  }));

  router.post('/users/:id/unlock', route(async (req, res, actor) => {
    const userId = routeUserId(req.params.id);
    await readJsonBody(req);
    await mfa.admin.unlock(userId, { actor }, contextOf(req));
    res.status(204).end();
  }));

  router.get('/stats', route(async (req, res) => {
    const since = timeOf(req, 'since');
    const until = timeOf(req, 'until');
    res.status(200).json(await mfa.admin.stats({ ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }) }));
  }));

  router.get('/events', route(async (req, res) => {
    const userId = queryString(req, 'userId', 255);
    const cursor = queryString(req, 'cursor', 200);
    const since = timeOf(req, 'since');
    const until = timeOf(req, 'until');
    const limit = limitOf(req);
    res.status(200).json(await mfa.audit.list({
      ...(userId === undefined ? {} : { userId }), ...(cursor === undefined ? {} : { cursor }),
      ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }), ...(limit === undefined ? {} : { limit }),
    }));
  }));

  router.use(routerErrorHandler('mfaAdminRouterErrorHandler', onError));
  return router;
}
