// packages/webauthn/src/index.ts
// @secondfactor/webauthn: security keys and passkeys as a second factor (a FactorPlugin).
export { webauthn } from './webauthn';
export type { WebAuthnOptions, UserVerification } from './options';
export type { WebAuthnFactorData } from './factor-data';
export { CLONE_WARNING } from './authentication';
