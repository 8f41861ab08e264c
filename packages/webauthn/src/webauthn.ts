// packages/webauthn/src/webauthn.ts
// webauthn(options): the factor plugin for security keys and passkeys, on @simplewebauthn/server.
import type { FactorInput, FactorPlugin, FactorRecord } from '@secondfactor/core';
import { beginAuthentication, finishAuthentication } from './authentication';
import { responseOf } from './ceremony';
import { WEBAUTHN_TYPE } from './factor-data';
import { resolveWebAuthnOptions, type WebAuthnOptions } from './options';
import { type ParsedResponse, parseWebAuthnResponse } from './parse-response';
import { beginRegistration, finishRegistration } from './registration';

/**
 * The response, checked, of the ceremony this step answers. The flows hand `parseInput` the
 * pending factor being confirmed, or the user's active factors (none yet, for the shape check
 * before a login's lookup): a registration where an assertion belongs, or the reverse, is bad
 * input refused here — before any attempt, backoff or challenge limit is counted.
 */
function parseInput(input: FactorInput, factors: FactorRecord[]): ParsedResponse {
  const parsed = parseWebAuthnResponse(input);
  const confirming = factors.length === 1 && factors[0]!.status === 'pending';
  responseOf(parsed, confirming ? 'registration' : 'authentication');
  return parsed;
}

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
    parseInput,
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
