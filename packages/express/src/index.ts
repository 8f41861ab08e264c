// packages/express/src/index.ts
// @secondfactor/express: the HTTP routes, the login gate, the step-up guard and the error mapping.
export { mfaRouter } from './mfa-router';
export { mfaGate } from './mfa-gate';
export type { MfaGateResult } from './mfa-gate';
export { requireMfa } from './require-mfa';
export { mfaErrorHandler } from './error-handler';
export type { MfaErrorHandlerOptions } from './error-handler';
export { problem, problemForError, sendProblem, ProblemError, PROBLEM_STATUS } from './problem';
export type { ProblemCode, ProblemDocument, ProblemInit } from './problem';
export { handleAsyncErrors } from './handle-async';
export type {
  GetUserId, LoginCompleteInfo, MfaChallenge, MfaGateOptions, MfaRouterOptions, MfaState, RequireMfaOptions, TrustedDeviceCookieOptions,
} from './types';
