// packages/webauthn/src/webauthn.ts
// webauthn(options): the factor plugin for security keys and passkeys, on @simplewebauthn/server.
import type { FactorPlugin, FactorRecord } from '@secondfactor/core';
import { beginAuthentication, finishAuthentication } from './authentication';
import { WEBAUTHN_TYPE } from './factor-data';
import { resolveWebAuthnOptions, type WebAuthnOptions } from './options';
import { parseWebAuthnResponse } from './parse-response';
import { beginRegistration, finishRegistration } from './registration';

/**
 * Security keys and passkeys as a second factor: `createMfa({ factors: [..., webauthn({ rpId, rpName, origins })] })`.
 * Phishing-resistant: a signature is bound to the origin the browser saw. Options are checked here,
 * once; a bad one throws `MfaConfigError` naming it.
 */
export function webauthn(options: WebAuthnOptions): FactorPlugin {
  const o = resolveWebAuthnOptions(options);
  return {
    type: WEBAUTHN_TYPE,
    input: 'response',
    phishingResistant: true,
    restricted: false,
    parseInput: parseWebAuthnResponse,
    describe(factor: FactorRecord) {
      return { kind: factor.data.deviceType === 'multiDevice' ? 'passkey' : 'security key' };
    },
    enroll: {
      // The setup body carries nothing WebAuthn needs (its label, and the proof fields, are the flow's).
      parse: () => null,
      begin: (ctx, args) => beginRegistration(o, ctx, args),
      finish: (ctx, args) => finishRegistration(o, ctx, args),
    },
    challenge: (ctx, args) => beginAuthentication(o, ctx, args),
    verify: (ctx, args) => finishAuthentication(o, ctx, args),
  };
}
