// packages/core/src/index.ts
// @secondfactor/core: the MFA engine, its storage contract and reference store.
export { createMfa } from './create-mfa';
export type { AssertionCheck, FactorTypeInfo, Mfa } from './create-mfa';
export { UNSAFE_LABEL_CHARACTERS } from './flows/shared';
export type { CodeSentEnrollment, ConfirmOptions, EnrollOptions, Enrollment } from './flows/enrolment';
export type { ProofOptions } from './flows/management';
export type { LoginFlow } from './flows/login';
export type { StepUpFlow } from './flows/fresh-proof';
export type { DevicesFlow } from './flows/devices';
export type { AdminDayStats, AdminFlow, AdminStats } from './flows/admin';
export type { AuditEvent, AuditFlow, AuditQuery } from './flows/audit';
export { totp } from './factors/totp/plugin';
export type { TotpEnrollment, TotpOptions } from './factors/totp/plugin';
export { backupCodes } from './factors/backup-codes/plugin';
export type { BackupCodesOptions } from './factors/backup-codes/plugin';
export { sms } from './factors/oob/sms';
export type { SmsOptions } from './factors/oob/sms';
export { email } from './factors/oob/email';
export type { OobOptions } from './factors/oob/oob-plugin';
export type { SendLimits } from './factors/oob/send-limits';
export { closestOptionName } from './option-checks';
export { passwordProof } from './password-proof';
export type { PasswordProof } from './password-proof';
export type { MfaOptions } from './options';
export * from './types';
export * from './store';
export * from './errors';
export * from './events';
export * from './factors/oob/senders';
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
} from './factors/totp/totp';
export type { TotpAlgorithm, TotpParameters, TotpWindow, VerifyTotpOptions, VerifyTotpResult } from './factors/totp/totp';
export { generateBackupCodes, normalizeBackupCode } from './factors/backup-codes/backup-codes';
export { normalizePhone, normalizeEmail } from './factors/oob/phone';
export { deviceLabelFromUserAgent } from './device-label';
export { backoffSeconds } from './attempts';
export type {
  EnrollBegin, EnrollFinish, FactorContext, FactorInput, FactorPlugin, PluginFailureReason, PluginState, PluginVerifyResult,
  VerifyFailure, VerifyPurpose, VerifySuccess,
} from './factor-plugin';
