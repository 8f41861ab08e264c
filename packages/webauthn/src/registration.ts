// packages/webauthn/src/registration.ts
// Enrolment of a security key or passkey: creation options (begin), then the attestation (finish).
import type { EnrollBegin, EnrollFinish, FactorContext, FactorRecord, PluginState, VerifyFailure } from '@secondfactor/core';
import { generateRegistrationOptions, verifyRegistrationResponse, type VerifiedRegistrationResponse } from '@simplewebauthn/server';
import { fromBase64Url, toBase64Url } from './base64url';
import { invalid, liveState, newChallenge, responseOf, SUPPORTED_ALGORITHMS } from './ceremony';
import { credentialOf, lookupKeyOf, userHandleOf, WEBAUTHN_TYPE, type WebAuthnFactorData } from './factor-data';
import type { ResolvedWebAuthnOptions } from './options';

/** The label of a key the user did not name. */
const DEFAULT_LABEL = 'Security key';

/** The user handle of an existing key of the user (active first), so all passkeys of one account share one. */
function existingUserHandle(existing: FactorRecord[]): string | undefined {
  const mine = existing.filter((f) => f.type === WEBAUTHN_TYPE);
  for (const factor of [...mine.filter((f) => f.status === 'active'), ...mine.filter((f) => f.status !== 'active')]) {
    const handle = userHandleOf(factor);
    if (handle !== undefined) return handle;
  }
  return undefined;
}

/** `PublicKeyCredentialCreationOptionsJSON` for a new key; the challenge is kept as the enrolment's state. */
export async function beginRegistration(
  o: ResolvedWebAuthnOptions,
  ctx: FactorContext,
  args: { accountName: string; existing: FactorRecord[] },
): Promise<EnrollBegin> {
  const userHandle = existingUserHandle(args.existing) ?? toBase64Url(newChallenge(ctx));
  const excludeCredentials = args.existing.flatMap((f) => {
    const credential = credentialOf(f);
    return credential ? [{ id: credential.credentialId, transports: credential.transports }] : [];
  });
  const options = await generateRegistrationOptions({
    rpName: o.rpName,
    rpID: o.rpId,
    userName: args.accountName,
    userDisplayName: args.accountName,
    userID: fromBase64Url(userHandle),
    challenge: newChallenge(ctx),
    timeout: o.timeoutSeconds * 1000,
    attestationType: 'none',
    excludeCredentials,
    authenticatorSelection: { residentKey: 'preferred', userVerification: o.userVerification },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
  return {
    data: { userHandle },
    show: { options },
    state: { secret: options.challenge, ttlSeconds: o.timeoutSeconds },
    label: DEFAULT_LABEL,
  };
}

/** Verifies the attestation against the kept challenge, the configured origins and rp id; the new credential on success. */
export async function finishRegistration(
  o: ResolvedWebAuthnOptions,
  ctx: FactorContext,
  args: { factor: FactorRecord; input: unknown; state: PluginState | null },
): Promise<EnrollFinish | VerifyFailure> {
  const { json } = responseOf(args.input, 'registration');
  const state = liveState(ctx, args.state);
  const userHandle = userHandleOf(args.factor);
  if (state === null || userHandle === undefined) return invalid();
  let result: VerifiedRegistrationResponse;
  try {
    result = await verifyRegistrationResponse({
      response: json,
      expectedChallenge: state.secret,
      expectedOrigin: o.origins,
      expectedRPID: o.rpId,
      requireUserVerification: o.userVerification === 'required',
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch {
    // The library throws for every mismatch (challenge, origin, rp id, flags, algorithm): a failed attempt.
    return invalid();
  }
  if (!result.verified) return invalid();
  const info = result.registrationInfo;
  // The id the browser reported must be the one the authenticator attested.
  if (info.credential.id !== json.id) return invalid();
  const data: WebAuthnFactorData = {
    userHandle,
    credentialId: info.credential.id,
    publicKey: toBase64Url(info.credential.publicKey),
    transports: info.credential.transports ?? [],
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
  };
  return { ok: true, data: { ...data }, counter: info.credential.counter, lookupKey: await lookupKeyOf(info.credential.id) };
}
