// packages/express/src/fresh-proof.ts
// Fresh proof for the routes that weaken a user's protection (disable, remove a factor,
// regenerate backup codes, add a factor when one exists): a current code or a recent MFA
// assertion in the same request — or, for `/disable` only and where the host opted in, the
// host's password check (wrapped by core's `passwordProof`, so core counts it as an attempt).
// An active session alone is never enough (DG-01/02).
import type { Request } from 'express';
import { passwordProof, type FreshProof, type Mfa } from '@secondfactor/core';
import { optionalObject, optionalString } from './fields';
import { invalidRequest, ProblemError } from './problem';
import type { JsonBody } from './read-body';

export interface ProofSettings {
  /** Accept `{password}` checked by the host's `verifyPassword` (`/disable`, with `allowPasswordToDisable`). */
  allowPassword: boolean;
  verifyPassword: ((req: Request, userId: string, password: string) => boolean | Promise<boolean>) | undefined;
  /** How old an assertion may be (seconds). */
  maxAgeSeconds: number;
  /** What the proof is for, for the 403 detail. */
  action: string;
}

/** Core's own freshness bound for assertions given as proof. */
export const CORE_PROOF_MAX_AGE_SECONDS = 300;

/** The `Authorization: Bearer` token, if any. */
export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header.length > 4200) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match?.[1];
}

/**
 * The fresh proof carried by this request, for `userId`. Order: a factor (`{method?, code}` or
 * `{method, response}`), `{assertion}`, `{password}` (when allowed), then a Bearer assertion of this user. Throws `403 mfa_required`
 * when there is none. Core checks whatever is returned (a wrong password, code or a
 * stale/foreign `{assertion}` is a failed attempt there).
 */
export async function freshProofOf(mfa: Mfa, req: Request, userId: string, body: JsonBody, settings: ProofSettings): Promise<FreshProof> {
  const proof = await optionalProofOf(mfa, req, userId, body, settings);
  if (proof !== undefined) return proof;
  throw new ProblemError('mfa_required', {
    detail: `${settings.action} needs a current code${settings.allowPassword ? ', your password' : ''} or a recent verification in the same request.`,
  });
}

/**
 * Like `freshProofOf`, but undefined when the request carries none (core decides whether it is
 * needed: adding a factor needs it only while MFA is on). With `factorFields: false` the body's
 * `code`/`response` are not proof (on confirm routes they prove the new factor).
 */
export async function optionalProofOf(
  mfa: Mfa, req: Request, userId: string, body: JsonBody, settings: ProofSettings, factorFields = true,
): Promise<FreshProof | undefined> {
  if (factorFields) {
    const method = optionalString(body, 'method');
    const code = optionalString(body, 'code');
    const response = optionalObject(body, 'response');
    if (code !== undefined || response !== undefined) {
      return { ...(method === undefined ? {} : { method }), ...(code === undefined ? {} : { code }), ...(response === undefined ? {} : { response }) };
    }
  }

  const assertion = optionalString(body, 'assertion');
  // Core checks it (signature, user, and age against the maxAgeSeconds the route passes on).
  if (assertion !== undefined) return { assertion };

  if (settings.allowPassword) {
    const password = optionalString(body, 'password');
    if (password !== undefined) {
      const verify = settings.verifyPassword;
      if (!verify) throw invalidRequest('password', 'password re-authentication is not configured on this server; send a current code');
      // Core runs the check under the attempt limits (a wrong password counts; refused while locked).
      return passwordProof(async () => (await verify(req, userId, password)) === true);
    }
  }

  // A Bearer header may be the host's own token: it counts only when it is a fresh assertion of this user.
  const token = bearerToken(req);
  if (token !== undefined) {
    const r = await mfa.assertions.verify(token, { maxAgeSeconds: settings.maxAgeSeconds });
    if (r.ok && r.userId === userId) return { assertion: token };
  }
  return undefined;
}
