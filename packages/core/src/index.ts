// packages/core/src/index.ts
// @secondfactor/core: the MFA engine, its storage contract and reference store.
export { createMfa, UNSAFE_LABEL_CHARACTERS } from './create-mfa';
export type { ConfirmOptions, Mfa, OobApi, ProofOptions } from './create-mfa';
export { passwordProof } from './password-proof';
export type { PasswordProof } from './password-proof';
export type { MfaOptions, SendLimits } from './options';
export * from './types';
export * from './store';
export * from './errors';
export * from './events';
export * from './senders';
export { memoryStore } from './memory-store';
export type { MemoryStoreOptions } from './memory-store';
export { composeStores } from './compose-stores';
export type { ComposeStoresOptions } from './compose-stores';
export { ASSERTION_TYPE } from './assertions';
export type { SigningKey } from './assertions';
export type { EncryptionKeys } from './secret-box';
export type { RandomSource } from './crypto';
export {
  createTotpKeyUri, createQrCode, generateTotp, generateTotpForStep, generateHotp, generateTotpSecret, timeStepAt, verifyTotp,
} from './totp';
export type { TotpAlgorithm, TotpParameters, TotpWindow, VerifyTotpOptions, VerifyTotpResult } from './totp';
export { generateBackupCodes, normalizeBackupCode } from './backup-codes';
export { normalizePhone, normalizeEmail } from './phone';
export { deviceLabelFromUserAgent } from './device-label';
export { backoffSeconds } from './attempts';
export type {
  EnrollBegin, EnrollFinish, FactorContext, FactorInput, FactorPlugin, PluginFailureReason, PluginState, PluginVerifyResult,
  VerifyFailure, VerifyPurpose, VerifySuccess,
} from './factor-plugin';
