// packages/webauthn/src/authentication.ts
// Proving a registered key: request options (challenge), then the assertion (verify), with the
// signature-counter rule and the RFC 8176 `amr` of the verification.
import type { FactorContext, FactorRecord, PluginState, PluginVerifyResult } from '@secondfactor/core';
import { generateAuthenticationOptions, verifyAuthenticationResponse, type VerifiedAuthenticationResponse } from '@simplewebauthn/server';
import { fromBase64Url } from './base64url';
import { invalid, liveState, newChallenge, responseOf } from './ceremony';
import { credentialOf, storedCounter, type WebAuthnFactorData } from './factor-data';
import { isDerEcdsaSignature, isEcdsaKey } from './signature-encoding';
import type { ResolvedWebAuthnOptions } from './options';

/** The security event a counter that failed to advance raises: the key may have been cloned. */
export const CLONE_WARNING = 'webauthn.clone_warning';

function credentials(factors: FactorRecord[], only?: string): { factor: FactorRecord; credential: WebAuthnFactorData }[] {
  return factors.flatMap((factor) => {
    const credential = credentialOf(factor);
    return credential && (only === undefined || factor.id === only) ? [{ factor, credential }] : [];
  });
}

/** `PublicKeyCredentialRequestOptionsJSON` listing the user's keys; the challenge is kept by the flow, single use. */
export async function beginAuthentication(
  o: ResolvedWebAuthnOptions,
  ctx: FactorContext,
  args: { factors: FactorRecord[]; factorId?: string },
): Promise<{ factorId: string | null; state: { secret: string; ttlSeconds: number }; show: Record<string, unknown> }> {
  const one = args.factorId !== undefined && credentials(args.factors, args.factorId).length === 1 ? args.factorId : undefined;
  const options = await generateAuthenticationOptions({
    rpID: o.rpId,
    allowCredentials: credentials(args.factors, one).map(({ credential }) => ({ id: credential.credentialId, transports: credential.transports })),
    userVerification: o.userVerification,
    challenge: newChallenge(ctx),
    timeout: o.timeoutSeconds * 1000,
  });
  return { factorId: one ?? null, state: { secret: options.challenge, ttlSeconds: o.timeoutSeconds }, show: { options } };
}

/** RFC 8176: `swk` for a synced passkey, `hwk` for a device-bound key; `user` when the authenticator verified the user. */
function amrOf(info: VerifiedAuthenticationResponse['authenticationInfo']): string[] {
  return [info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk', ...(info.userVerified ? ['user'] : [])];
}

/**
 * Verifies an assertion from one of `factors` against the kept challenge. A credential of another
 * user, or none of the user's, fails like a wrong code. Returns the new signature counter for the
 * flow to advance atomically.
 */
export async function finishAuthentication(
  o: ResolvedWebAuthnOptions,
  ctx: FactorContext,
  args: { factors: FactorRecord[]; input: unknown; state: PluginState | null },
): Promise<PluginVerifyResult> {
  const { json } = responseOf(args.input, 'authentication');
  const state = liveState(ctx, args.state);
  if (state === null) return invalid();
  const match = credentials(args.factors, state.factorId ?? undefined).find(({ credential }) => credential.credentialId === json.id);
  if (!match) return invalid();
  const { factor, credential } = match;
  // A discoverable credential names its user: it must be this factor's.
  if (json.response.userHandle !== undefined && json.response.userHandle !== credential.userHandle) return invalid(factor.id);

  let result: VerifiedAuthenticationResponse;
  try {
    const publicKey = fromBase64Url(credential.publicKey);
    if (isEcdsaKey(publicKey) && !isDerEcdsaSignature(fromBase64Url(json.response.signature))) return invalid(factor.id);
    result = await verifyAuthenticationResponse({
      response: json,
      expectedChallenge: state.secret,
      expectedOrigin: o.origins,
      expectedRPID: o.rpId,
      // Counter 0 here turns off the library's own counter check, which runs *before* the signature is
      // checked: the rule is applied below, only to a validly signed assertion, so a forged response
      // cannot raise a clone warning.
      credential: { id: credential.credentialId, publicKey, counter: 0, transports: credential.transports },
      requireUserVerification: o.userVerification === 'required',
    });
  } catch {
    // Challenge, origin, rp id, flags, malformed signature, a damaged stored key: a failed attempt.
    return invalid(factor.id);
  }
  if (!result.verified) return invalid(factor.id);

  const stored = storedCounter(factor);
  const received = result.authenticationInfo.newCounter;
  // WebAuthn §7.2 step 21: a counter that does not exceed the stored one (unless both are 0, as for
  // passkeys that never count) means a replay or a cloned authenticator.
  if ((received > 0 || stored > 0) && received <= stored) {
    return { ok: false, reason: 'replayed', warning: CLONE_WARNING, factorId: factor.id };
  }
  return { ok: true, factorId: factor.id, amr: amrOf(result.authenticationInfo), ...(received > 0 ? { counter: received } : {}) };
}
