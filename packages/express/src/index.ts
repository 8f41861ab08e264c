// packages/express/src/index.ts
// @secondfactor/express: the HTTP routes, the login gate, the step-up guard, the assertion cookie
// and the error mapping.
export { mfaRouter } from './mfa-router';
export { mfaAdminRouter } from './mfa-admin-router';
export type { MfaAdminRouterOptions } from './mfa-admin-router';
export { mfaGate } from './mfa-gate';
export type { MfaGateResult } from './mfa-gate';
export { requireMfa } from './require-mfa';
export { mfaErrorHandler } from './error-handler';
export type { MfaErrorHandlerOptions } from './error-handler';
export { clearAssertionCookie } from './cookies';
export { failureProblem, problem, problemForError, sendProblem, ProblemError, PROBLEM_STATUS } from './problem';
export type { ProblemCode, ProblemDocument, ProblemInit } from './problem';
export { handleAsyncErrors } from './handle-async';
export { describeError } from './log-error';
export type {
  AssertionCookieOptions, GetUserId, LoginCompleteInfo, MfaChallenge, MfaEnrollmentRequired, MfaGateOptions, MfaRequiredInfo, MfaRouterOptions, MfaState, RequireMfaOptions,
  TrustedDeviceCookieOptions,
} from './types';
