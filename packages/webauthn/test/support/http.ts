// packages/webauthn/test/support/http.ts
// The WebAuthn plugin in express's test host application (real engine, real router, memory or SQL
// store), and the browser's part of each ceremony over HTTP, played by the software authenticator.
import { backupCodes, type MfaStore, totp } from '@secondfactor/core';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { webauthn, type WebAuthnOptions } from '@secondfactor/webauthn';
import { type Host, hostApp } from '../../../express/test/support/host-app';
import type { CreateOptions, GetOptions, SoftAuthenticator } from './soft-authenticator';

export const ORIGIN = 'http://localhost:3000';

/** The host app with `webauthn()` (rp `localhost`, origin http://localhost:3000), TOTP and backup codes. */
export function webauthnHost(options: { webauthn?: Partial<WebAuthnOptions>; store?: MfaStore } = {}): Host {
  const factors = [webauthn({ rpId: 'localhost', rpName: 'Acme', origins: [ORIGIN], ...options.webauthn }), totp(), backupCodes({ bcryptCost: 4 })];
  return hostApp({ mfa: { factors, ...(options.store ? { store: options.store } : {}) } });
}

function expectStatus(res: { status: number; text: string }, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text}`);
}

/** POST /webauthn/setup: the pending factor and the creation options. `body` may carry a label and fresh proof. */
export async function setupKey(host: Host, user: string, body: Record<string, unknown> = {}) {
  const res = await host.call('post', '/mfa/webauthn/setup', { user, body });
  expectStatus(res, 200, 'setup');
  return res.body as { factorId: string; options: PublicKeyCredentialCreationOptionsJSON };
}

/** Setup, `navigator.credentials.create()`, confirm: a new active key. */
export async function enrolKey(host: Host, user: string, key: SoftAuthenticator, body: Record<string, unknown> = {}, create: Partial<CreateOptions> = {}) {
  const { factorId, options } = await setupKey(host, user, body);
  const confirm = await host.call('post', '/mfa/webauthn/confirm', { user, body: { factorId, response: key.create(options, { origin: ORIGIN, ...create }) } });
  expectStatus(confirm, 200, 'confirm');
  return { factorId, options, ...(confirm.body as { factor: Record<string, unknown>; backupCodes?: string[] }) };
}

/** POST /challenge/webauthn with a login's challenge token: the request options for that login. */
export async function loginOptions(host: Host, challengeToken: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const res = await host.call('post', '/mfa/challenge/webauthn', { body: { challengeToken } });
  expectStatus(res, 200, 'login challenge');
  return (res.body as { options: PublicKeyCredentialRequestOptionsJSON }).options;
}

/** POST /challenge/webauthn as the signed-in user (no token): options for a step-up or fresh proof. */
export async function userOptions(host: Host, user: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const res = await host.call('post', '/mfa/challenge/webauthn', { user, body: {} });
  expectStatus(res, 200, 'user challenge');
  return (res.body as { options: PublicKeyCredentialRequestOptionsJSON }).options;
}

/** Fresh proof by the key: `{method: 'webauthn', response}` answering a new user-bound challenge. */
export async function keyProof(host: Host, user: string, key: SoftAuthenticator, get: Partial<GetOptions> = {}) {
  return { method: 'webauthn', response: key.get(await userOptions(host, user), { origin: ORIGIN, ...get }) };
}

/** Password step, then the login's challenge token. */
export async function startLogin(host: Host, user: string): Promise<string> {
  const res = await host.login(user);
  if (res.status !== 200 || !(res.body as { mfaRequired?: boolean }).mfaRequired) throw new Error(`expected a challenge, got ${res.status} ${res.text}`);
  return (res.body as { challengeToken: string }).challengeToken;
}

/** POST /verify with a WebAuthn response. */
export function verify(host: Host, challengeToken: string, response: unknown, extra: Record<string, unknown> = {}) {
  return host.call('post', '/mfa/verify', { body: { challengeToken, method: 'webauthn', response, ...extra } });
}

/** The recorded events as JSON, for "never in an event" checks. */
export function eventsJson(host: Host): string {
  return JSON.stringify(host.events);
}
