// packages/core/src/create-mfa.ts
// createMfa(): validates the options once, builds the registry of factor plugins and the
// engine's shared parts, and assembles the flows into the `Mfa` object hosts call.
import type { AssertionVerdict } from './assertions';
import { createEngineContext } from './context';
import { backupCodes } from './factors/backup-codes/plugin';
import { totp, type TotpEnrollment } from './factors/totp/plugin';
import { adminFlow, type AdminFlow } from './flows/admin';
import { auditFlow, type AuditFlow } from './flows/audit';
import { devicesFlow, type DevicesFlow } from './flows/devices';
import { enrolmentFlow, type CodeSentEnrollment, type EnrollOptions, type EnrolmentFlow, type Enrollment } from './flows/enrolment';
import { proofFlow, type StepUpFlow } from './flows/fresh-proof';
import { loginFlow, type LoginFlow } from './flows/login';
import { managementFlow, type ManagementFlow } from './flows/management';
import { issueAssertion, requireUserId } from './flows/shared';
import type { FactorPlugin } from './factor-plugin';
import type { EngineContext } from './context';
import { resolveOptions, type MfaOptions } from './options';
import { createRegistry } from './registry';
import type { FreshProof, ProofResult } from './types';
import type { RequestContext } from './events';

/** What the router and UIs need to know of a factor type. */
export interface FactorTypeInfo {
  type: string;
  /** What proves it: a `code` string or a `response` object. */
  input: 'code' | 'response';
  /** Has setup/confirm routes. */
  enrollable: boolean;
  /** Has a step before verification (`POST /challenge/:type`). */
  challenge: boolean;
  phishingResistant: boolean;
  restricted: boolean;
}

/** Everything a host calls. Create once per process with `createMfa(options)`. */
export interface Mfa extends Omit<EnrolmentFlow, 'enroll'>, ManagementFlow {
  /** Starts an enrolment of a factor of `type`. With MFA already on, `options.proof` (fresh proof) is required. */
  enroll(userId: string, type: 'totp', options?: EnrollOptions, req?: RequestContext): Promise<TotpEnrollment>;
  enroll(userId: string, type: 'sms' | 'email', options?: EnrollOptions, req?: RequestContext): Promise<CodeSentEnrollment>;
  enroll(userId: string, type: string, options?: EnrollOptions, req?: RequestContext): Promise<Enrollment>;
  readonly issuer: string;
  /** The factor types this server offers, in the order they are offered. */
  readonly factorTypes: readonly FactorTypeInfo[];
  login: LoginFlow;
  /** Re-verification of a signed-in user (step-up): a fresh assertion. */
  stepUp: StepUpFlow;
  /** Checks fresh proof (a factor, an assertion, or — with `allowPassword` — a `passwordProof()`). */
  checkProof(userId: string, proof: FreshProof, options?: { allowPassword?: boolean; maxAgeSeconds?: number }, req?: RequestContext): Promise<ProofResult>;
  devices: DevicesFlow;
  /** Support and administration: reset, unlock, status, figures. Every action names its actor and is audited. */
  admin: AdminFlow;
  /** The durable audit log: list (per user, time range, cursor) and the retention purge. */
  audit: AuditFlow;
  assertions: {
    verify(token: unknown, options?: { maxAgeSeconds?: number }): Promise<AssertionCheck>;
    /**
     * Synchronous: `verify`'s answer for an assertion whose signature this instance has verified
     * before (its time claims and `maxAgeSeconds` are checked now, as `verify` checks them), or
     * `undefined` for any other token — then call `verify`. For guards on every request, such as
     * `requireMfa`, that answer without waiting when they can.
     */
    verifyKnown(token: unknown, options?: { maxAgeSeconds?: number }): AssertionCheck | undefined;
    issue(userId: string, amr: string[]): Promise<{ assertion: string; expiresIn: number }>;
  };
  /** The configured trusted-device lifetime, for cookie Max-Age. */
  readonly trustedDeviceTtlSeconds: number;
}

const infoOf = (p: FactorPlugin): FactorTypeInfo => Object.freeze({
  type: p.type, input: p.input, enrollable: p.enroll !== undefined, challenge: p.challenge !== undefined,
  phishingResistant: p.phishingResistant === true, restricted: p.restricted === true,
});

/**
 * Creates the MFA engine. Validates every option once and throws `MfaConfigError` (a TypeError)
 * naming the bad option.
 *
 * @example
 * const mfa = createMfa({
 *   issuer: 'Acme', store: memoryStore(), encryptionKeys: { current: 'k1', keys: { k1: KEY } }, signingKey: SECRET,
 *   factors: [totp(), backupCodes()],
 * });
 */
export function createMfa(options: MfaOptions): Mfa {
  const o = resolveOptions(options);
  const registry = createRegistry(o.factors ?? [totp(), backupCodes()]);
  const e = createEngineContext(o, registry);
  /** The operations, on the context of one audited call (its own `emit`: see `EngineContext.audited`). */
  const operations = (s: EngineContext): Operations => {
    const proofs = proofFlow(s);
    const enrolment = enrolmentFlow(s, proofs);
    const management = managementFlow(s, proofs);
    return {
      // The overloads only narrow what the built-in types show; the flow is the same for every type.
      enroll: enrolment.enroll as Mfa['enroll'],
      confirm: enrolment.confirm,
      status: management.status,
      backupCodes: management.backupCodes,
      factors: management.factors,
      disable: management.disable,
      admin: adminFlow(s, management),
      audit: auditFlow(s),
      login: loginFlow(s),
      stepUp: proofs.stepUp,
      checkProof: proofs.checkProof,
      devices: devicesFlow(s),
      assertions: { issue: (userId, amr) => issueAssertion(s, requireUserId(userId), amr) },
    };
  };
  const api = auditedApi(e, operations, operations(e), []);
  return {
    issuer: o.issuer,
    factorTypes: Object.freeze(registry.all.map(infoOf)),
    trustedDeviceTtlSeconds: o.trustedDevices.ttlSeconds,
    ...api,
    // Checking an assertion emits no event and writes nothing, so it alone is not audited: requireMfa
    // calls it on every request.
    assertions: {
      ...api.assertions,
      verify: async (token, opts = {}) => checkOf(await e.signer.verify(token as string, e.now(), opts.maxAgeSeconds)),
      verifyKnown: (token, opts = {}) => {
        const r = e.signer.verifyKnown(token, e.now(), opts.maxAgeSeconds);
        return r && checkOf(r);
      },
    },
  };
}

/** What `assertions.verify` answers. */
export type AssertionCheck = { ok: true; userId: string; amr: string[]; authTime: number } | { ok: false; reason: 'invalid' | 'stale' };

const checkOf = (r: AssertionVerdict): AssertionCheck =>
  r.ok ? { ok: true, userId: r.claims.userId, amr: r.claims.amr, authTime: r.claims.authTime } : r;

/** What `Mfa` does (its functions, by namespace); the rest of `Mfa` is configuration. */
type Operations = Omit<Mfa, 'issuer' | 'factorTypes' | 'trustedDeviceTtlSeconds' | 'assertions'> & { assertions: Pick<Mfa['assertions'], 'issue'> };

/**
 * Every operation of `template` (at `path`), run under `e.audited`: each call builds the operations
 * on its own audited context and runs the one asked for, so its audit-log writes settle before it does.
 */
function auditedApi<T extends object>(e: EngineContext, build: (s: EngineContext) => object, template: T, path: readonly string[]): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(template)) {
    if (typeof value === 'function') {
      wrapped[name] = (...args: unknown[]) => e.audited((s) => {
        let namespace = build(s) as Record<string, unknown>;
        for (const key of path) namespace = namespace[key] as Record<string, unknown>;
        const operation = namespace[name] as (...a: unknown[]) => Promise<unknown>;
        return operation(...args);
      });
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      wrapped[name] = auditedApi(e, build, value, [...path, name]);
    } else {
      wrapped[name] = value;
    }
  }
  return wrapped as T;
}
