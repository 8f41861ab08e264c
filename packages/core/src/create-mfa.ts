// packages/core/src/create-mfa.ts
// The engine: enrolment, the login challenge, verification, recovery, trusted devices,
// step-up assertions and management — over the injected store, clock, randomness and senders.
import { backupCodeMethod, evaluateAndCommit, oobType, totpType, type Evaluation, type FactorType, type OobFactorType, type VerifyOutcome } from './factor-types';
import { createEngineContext, type EngineContext } from './context';
import { hashToken, randomId, randomToken } from './crypto';
import { deviceLabelFromUserAgent } from './device-label';
import { MfaError } from './errors';
import type { RequestContext } from './events';
import { resolveOptions, type MfaOptions } from './options';
import { passwordCheckOf } from './password-proof';
import type { ChallengeRecord, FactorRecord } from './store';
import { createQrCode, createTotpKeyUri, generateTotpSecret } from './totp';
import type {
  ConfirmResult, Failure, FactorSummary, FreshProof, LoginMethod, LoginStart, LoginSuccess, LoginVerifyResult,
  MfaStatus, ProofResult, TotpEnrollment, TrustedDeviceSummary,
} from './types';

const MAX_FACTORS_PER_USER = 10;
const MAX_PROOF_AGE_SECONDS = 300;

/** An assertion given as proof is at most 5 minutes old, or younger if the caller asks. */
function proofAge(opts: ProofOptions): number {
  const age = opts.maxAgeSeconds ?? MAX_PROOF_AGE_SECONDS;
  if (!Number.isInteger(age) || age < 1 || age > MAX_PROOF_AGE_SECONDS) {
    throw new MfaError('invalid_request', `maxAgeSeconds must be an integer from 1 to ${MAX_PROOF_AGE_SECONDS}`, { field: 'maxAgeSeconds' });
  }
  return age;
}
const iso = (ms: number) => new Date(ms).toISOString();

function requireUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 255) {
    throw new MfaError('invalid_request', 'userId must be a non-empty string', { field: 'userId' });
  }
  return userId;
}

/** Control characters and bidirectional overrides/isolates (a label must not reorder what is shown around it). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point: they are refused.
export const UNSAFE_LABEL_CHARACTERS = /[\u0000-\u001f\u007f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function optionalLabel(label: unknown, fallback: string): string {
  if (label === undefined || label === null || label === '') return fallback;
  if (typeof label !== 'string' || label.length > 64 || UNSAFE_LABEL_CHARACTERS.test(label)) {
    throw new MfaError('invalid_request', 'label must be a string of at most 64 characters, without control or bidirectional-override characters', { field: 'label' });
  }
  return label.trim();
}

function failure(reason: Failure['reason'], retryAfter?: number): Failure {
  return retryAfter === undefined ? { ok: false, reason } : { ok: false, reason, retryAfter };
}

/** Everything a host calls. Create once per process with `createMfa(options)`. */
export interface Mfa {
  readonly issuer: string;
  /** Login methods this server offers. */
  readonly methods: readonly LoginMethod[];
  status(userId: string): Promise<MfaStatus>;
  totp: {
    /** Starts a TOTP enrolment. With MFA already on, `proof` (fresh proof) is required. */
    enroll(userId: string, options?: { label?: string; accountName?: string; proof?: FreshProof }, req?: RequestContext): Promise<TotpEnrollment>;
    /** Confirms it with a first code; see `ConfirmOptions` for the proof needed while MFA is on. */
    confirm(userId: string, factorId: string, code: unknown, req?: RequestContext, options?: ConfirmOptions): Promise<ConfirmResult>;
  };
  sms: OobApi;
  email: OobApi;
  login: {
    start(userId: string, options?: { trustedDeviceToken?: string; context?: RequestContext }): Promise<LoginStart>;
    sendCode(challengeToken: unknown, options: { method: 'sms' | 'email'; factorId?: string }, req?: RequestContext): Promise<{ ok: true; sentTo: string; factorId: string } | Failure>;
    verify(challengeToken: unknown, input: { method: unknown; code: unknown; trustDevice?: boolean }, req?: RequestContext): Promise<LoginVerifyResult>;
  };
  /** Re-verification of a signed-in user (step-up): a fresh assertion. */
  stepUp(userId: string, input: { code: unknown }, req?: RequestContext): Promise<LoginVerifyResult>;
  /** Checks fresh proof (a code, an assertion, or — with `allowPassword` — a `passwordProof()`). */
  checkProof(userId: string, proof: FreshProof, options?: { allowPassword?: boolean; maxAgeSeconds?: number }, req?: RequestContext): Promise<ProofResult>;
  backupCodes: {
    regenerate(userId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions): Promise<{ ok: true; backupCodes: string[] } | Failure>;
    remaining(userId: string): Promise<number>;
  };
  factors: {
    list(userId: string): Promise<FactorSummary[]>;
    remove(userId: string, factorId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions): Promise<{ ok: true; mfaDisabled: boolean } | Failure>;
  };
  /** Turns MFA off. Needs a second factor; a `passwordProof()` only with `allowPassword` (the host's opt-in). */
  disable(userId: string, proof: FreshProof, req?: RequestContext, options?: ProofOptions & { allowPassword?: boolean }): Promise<{ ok: true } | Failure>;
  devices: {
    list(userId: string, currentToken?: string): Promise<TrustedDeviceSummary[]>;
    revoke(userId: string, deviceId: string, req?: RequestContext): Promise<boolean>;
    revokeAll(userId: string, req?: RequestContext): Promise<number>;
    /** True when `token` is a live trusted device of `userId`. */
    check(userId: string, token: string | undefined): Promise<boolean>;
  };
  assertions: {
    verify(token: unknown, options?: { maxAgeSeconds?: number }): Promise<{ ok: true; userId: string; amr: string[]; authTime: number } | { ok: false; reason: 'invalid' | 'stale' }>;
    issue(userId: string, amr: string[]): Promise<{ assertion: string; expiresIn: number }>;
  };
  admin: {
    /** Clears the failure lock of a user (after the lock threshold). */
    unlock(userId: string, req?: RequestContext): Promise<void>;
  };
  /** The configured trusted-device lifetime, for cookie Max-Age. */
  readonly trustedDeviceTtlSeconds: number;
}

/** How fresh an assertion given as proof must be (seconds, at most and by default 300). */
export interface ProofOptions {
  maxAgeSeconds?: number;
}

/**
 * Confirming a factor while MFA is already on needs fresh proof — checked when the factor
 * becomes active, not only when its setup started: either the setup itself was made with fresh
 * proof (within `enrollment.pendingTtlSeconds`), or `proof` is given here.
 */
export interface ConfirmOptions {
  proof?: FreshProof;
  maxAgeSeconds?: number;
}

export interface OobApi {
  /** Starts an SMS/email enrolment and sends a code. With MFA already on, `proof` is required. */
  enroll(userId: string, input: { destination: unknown; label?: string; proof?: FreshProof }, req?: RequestContext): Promise<{ factorId: string; sentTo: string }>;
  confirm(userId: string, factorId: string, code: unknown, req?: RequestContext, options?: ConfirmOptions): Promise<ConfirmResult>;
}

/**
 * Creates the MFA engine. Validates every option once and throws `MfaConfigError` (a TypeError)
 * naming the bad option.
 *
 * @example
 * const mfa = createMfa({ issuer: 'Acme', store: memoryStore(), encryptionKeys: { current: 'k1', keys: { k1: KEY } }, signingKey: SECRET });
 */
export function createMfa(options: MfaOptions): Mfa {
  const o = resolveOptions(options);
  const ctx: EngineContext = createEngineContext(o);
  const { store } = ctx;
  const sms = oobType('sms', o.sms);
  const email = oobType('email', o.email);
  const types: Record<string, FactorType> = { totp: totpType, sms, email };
  const methods: LoginMethod[] = ['totp', ...(o.sms ? ['sms' as const] : []), ...(o.email ? ['email' as const] : []), 'backup_code'];

  const summary = (f: FactorRecord): FactorSummary => {
    const t = types[f.type];
    const destination = t?.destination(f);
    return {
      id: f.id, type: f.type, label: f.label, restricted: t?.restricted ?? false,
      ...(destination ? { destination } : {}),
      createdAt: iso(f.createdAt), lastUsedAt: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
    };
  };
  const activeFactors = async (userId: string) => (await store.listFactors(userId)).filter((f) => f.status === 'active');

  /** Marks a failure that was refused before any code was evaluated (a challenge past its limit). */
  type Outcome = VerifyOutcome | { ok: false; reason: 'invalid_code'; evaluated: false };

  /**
   * Runs `verify` under the attempt limits: the per-IP budget across accounts (RL-05), then the
   * per-user-and-client backoff and the per-user lock; events, and reset on success. The IP
   * budget counts evaluated failures only — never successes, never requests a user's backoff or
   * lock refused — so one account in backoff cannot spend the budget of everyone behind its IP.
   */
  async function limited(
    userId: string,
    purpose: string,
    req: RequestContext | undefined,
    meta: { factorId?: string; factorType?: string },
    verify: () => Promise<Outcome>,
  ): Promise<{ ok: true; step?: number } | Failure> {
    const ip = req?.ip;
    const windowMs = o.limits.ipWindowSeconds * 1000;
    const now = ctx.now();
    const slot = Math.floor(now / windowMs);
    const ipKey = `verify:ip:${ip}:${slot}`;
    if (ip && (await store.getCounter(ipKey)) >= o.limits.perIpPerWindow) {
      ctx.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: 'ip_rate_limited', purpose }, req);
      return failure('too_many_attempts', Math.max(1, Math.ceil(((slot + 1) * windowMs - now) / 1000)));
    }
    const client = ip ?? '';
    const reservation = await ctx.limiter.reserve(userId, client, now);
    if (!reservation.ok) {
      ctx.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: 'too_many_attempts', purpose }, req);
      return failure('too_many_attempts', reservation.retryAfter);
    }
    const outcome = await verify();
    if (outcome.ok) {
      await ctx.limiter.succeed(userId, reservation.held);
      return outcome;
    }
    const evaluated = !('evaluated' in outcome);
    if (ip && evaluated) await store.incrementCounter(ipKey, o.limits.ipWindowSeconds + 60);
    ctx.emit({ type: 'mfa.failed', userId, ...meta, outcome: 'failure', reason: evaluated ? outcome.reason : 'challenge_attempts_exhausted', purpose }, req);
    if (reservation.lockedNow) ctx.emit({ type: 'mfa.locked', userId, outcome: 'failure', reason: 'too_many_attempts', purpose }, req);
    return failure('invalid_code');
  }

  async function getOwnFactor(userId: string, factorId: unknown, type?: string): Promise<FactorRecord> {
    if (typeof factorId !== 'string' || factorId.length === 0 || factorId.length > 128) {
      throw new MfaError('invalid_request', 'factorId must be a string', { field: 'factorId' });
    }
    const f = await store.getFactor(userId, factorId);
    if (!f || (type && f.type !== type)) throw new MfaError('not_enrolled', 'No such factor');
    return f;
  }

  /**
   * Adding a factor while MFA is on needs fresh proof (SEC-03, SMS-08). Returns the time to stamp
   * on the pending factor (`data.provenAt`): the proof is then checked again when it becomes
   * active. Null when MFA is off (nothing to prove yet).
   */
  async function proofForNewFactor(userId: string, proof: FreshProof | undefined, req: RequestContext | undefined): Promise<number | null> {
    if ((await activeFactors(userId)).length === 0) return null;
    if (proof === undefined) throw new MfaError('mfa_required', 'Adding a factor while two-step verification is on needs fresh proof');
    const p = await checkProof(userId, proof, {}, req);
    if (!p.ok) throw new MfaError(p.reason === 'too_many_attempts' ? 'too_many_attempts' : 'invalid_code', 'The proof was not accepted', p.retryAfter === undefined ? {} : { retryAfter: p.retryAfter });
    return ctx.now();
  }

  async function confirmFactor(userId: string, factorId: unknown, code: unknown, type: FactorType, req?: RequestContext, opts: ConfirmOptions = {}): Promise<ConfirmResult> {
    requireUserId(userId);
    const factor = await getOwnFactor(userId, factorId, type.type);
    if (factor.status === 'active') throw new MfaError('already_enrolled', 'This factor is already confirmed');
    if (ctx.now() - factor.createdAt > o.enrollment.pendingTtlSeconds * 1000) {
      await store.deleteFactor(userId, factor.id);
      throw new MfaError('not_enrolled', 'This setup has expired; start it again');
    }
    const normalized = type.checkCodeFormat(factor, code);
    // Fresh proof is checked when the factor becomes active: a setup started while MFA was off
    // (or by someone holding an old session) cannot be confirmed later without it.
    if ((await activeFactors(userId)).length > 0 && typeof factor.data.provenAt !== 'number') {
      if (opts.proof === undefined) throw new MfaError('mfa_required', 'Confirming a factor while two-step verification is on needs fresh proof');
      const p = await checkProof(userId, opts.proof, { maxAgeSeconds: proofAge(opts) }, req);
      if (!p.ok) return p;
    }
    const result = await limited(userId, 'enroll', req, { factorId: factor.id, factorType: type.type }, () =>
      evaluateAndCommit(type.verify(ctx, factor, normalized, { purpose: 'enroll', key: `enroll:${factor.id}` }, req)));
    if (!result.ok) return result;
    const firstFactor = (await activeFactors(userId)).length === 0;
    if (!(await store.activateFactor(userId, factor.id, { confirmedAt: ctx.now(), counter: result.step ?? null }))) {
      throw new MfaError('already_enrolled', 'This factor is already confirmed');
    }
    // Any other setup still pending was started before this change of protection: drop it.
    for (const f of await store.listFactors(userId)) {
      if (f.status === 'pending' && f.id !== factor.id) await store.deleteFactor(userId, f.id);
    }
    ctx.emit({ type: 'factor.confirmed', userId, factorId: factor.id, factorType: type.type, outcome: 'success', purpose: 'enroll' }, req);
    const active = (await store.getFactor(userId, factor.id))!;
    if (!firstFactor) return { ok: true, factor: summary(active) };
    // The first factor (and any SMS-only setup, SMS-10) comes with backup codes.
    const backupCodes = await backupCodeMethod.issue(ctx, userId);
    ctx.emit({ type: 'backup_codes.regenerated', userId, outcome: 'success', purpose: 'enroll' }, req);
    return { ok: true, factor: summary(active), backupCodes };
  }

  /** Drops earlier pending setups of this type (and expired ones of any type); enforces the factor cap. */
  async function pruneAndCount(userId: string, type: string, sameDestination?: (f: FactorRecord) => boolean): Promise<void> {
    const all = await store.listFactors(userId);
    const expiredBefore = ctx.now() - o.enrollment.pendingTtlSeconds * 1000;
    for (const f of all) {
      if (f.status !== 'pending') continue;
      if (f.createdAt < expiredBefore || (f.type === type && (!sameDestination || sameDestination(f)))) await store.deleteFactor(userId, f.id);
    }
    if (all.filter((f) => f.status === 'active').length >= MAX_FACTORS_PER_USER) {
      throw new MfaError('invalid_request', `A user can have at most ${MAX_FACTORS_PER_USER} factors`, { field: 'factor' });
    }
  }

  function oobApi(type: OobFactorType): OobApi {
    const field = type.type === 'sms' ? 'phone' : 'email';
    return {
      enroll: async (userId, input, req) => {
        requireUserId(userId);
        if (!type.sender) throw new MfaError('invalid_request', `${type.type} codes are not configured on this server`, { field: 'method' });
        const destination = type.normalizeDestination(ctx, input.destination);
        const label = optionalLabel(input.label, type.type === 'sms' ? 'Phone' : 'Email');
        const existing = await store.listFactors(userId);
        if (existing.some((f) => f.status === 'active' && f.type === type.type && f.data[field] === destination)) {
          throw new MfaError('already_enrolled', `This ${field} is already a factor`);
        }
        const provenAt = await proofForNewFactor(userId, input.proof, req);
        await pruneAndCount(userId, type.type, (f) => f.data[field] === destination);
        const now = ctx.now();
        const factor: FactorRecord = {
          id: randomId(o.random), userId, type: type.type, label, status: 'pending', secret: null,
          data: { [field]: destination, ...(provenAt === null ? {} : { provenAt }) }, counter: null, lookupKey: null, createdAt: now, confirmedAt: null, lastUsedAt: null,
        };
        await store.createFactor(factor);
        try {
          const { sentTo } = await type.sendCode(ctx, { factor, key: `enroll:${factor.id}`, purpose: 'enroll', req });
          ctx.emit({ type: 'factor.enrolled', userId, factorId: factor.id, factorType: type.type, outcome: 'success', purpose: 'enroll' }, req);
          return { factorId: factor.id, sentTo };
        } catch (error) {
          await store.deleteFactor(userId, factor.id);
          throw error;
        }
      },
      confirm: (userId, factorId, code, req, opts) => confirmFactor(userId, factorId, code, type, req, opts),
    };
  }

  async function checkProof(userId: string, proof: FreshProof, opts: { allowPassword?: boolean; maxAgeSeconds?: number } = {}, req?: RequestContext): Promise<ProofResult> {
    requireUserId(userId);
    if (!proof || typeof proof !== 'object') throw new MfaError('invalid_request', 'Fresh proof is required: a current code', { field: 'code' });
    const passwordCheck = passwordCheckOf(proof);
    if (passwordCheck) {
      if (!opts.allowPassword) throw new MfaError('invalid_request', 'A current code is required for this operation', { field: 'code' });
      // Counted like a code: a wrong password is a failed attempt, and nothing passes while locked.
      const r = await limited(userId, 'management', req, { factorType: 'password' }, async () =>
        ((await passwordCheck()) === true ? { ok: true } : { ok: false, reason: 'invalid_code' }));
      return r.ok ? { ok: true, amr: ['pwd'] } : r;
    }
    if ('assertion' in proof && proof.assertion !== undefined) {
      const r = await ctx.signer.verify(String(proof.assertion), ctx.now(), Math.min(opts.maxAgeSeconds ?? MAX_PROOF_AGE_SECONDS, MAX_PROOF_AGE_SECONDS));
      if (r.ok && r.claims.userId === userId) return { ok: true, amr: r.claims.amr };
      ctx.emit({ type: 'mfa.failed', userId, outcome: 'failure', reason: 'invalid_assertion', purpose: 'management' }, req);
      return failure('invalid_code');
    }
    if (!('code' in proof)) throw new MfaError('invalid_request', 'Fresh proof is required: a current code', { field: 'code' });
    return verifyAnyCode(userId, proof.code, 'management', req);
  }

  /** A TOTP code (any active authenticator) or a backup code, for step-up and management. */
  async function verifyAnyCode(userId: string, code: unknown, purpose: 'management' | 'step_up', req?: RequestContext): Promise<ProofResult> {
    if (typeof code !== 'string' || code.length > 32) throw new MfaError('invalid_request', 'code must be a string', { field: 'code' });
    const factors = await activeFactors(userId);
    if (factors.length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
    const isDigits = /^\d+$/.test(code);
    const totps = factors.filter((f) => f.type === 'totp' && f.data.digits === code.length);
    // A code of a length no authenticator of this user produces is bad input, not a failed attempt.
    if (isDigits && totps.length === 0) {
      const any = factors.some((f) => f.type === 'totp');
      throw new MfaError('invalid_request', any ? 'code has the wrong number of digits' : 'No authenticator app is enrolled; use a backup code', { field: 'code' });
    }
    const normalized = isDigits ? code : backupCodeMethod.checkCodeFormat(code);
    let amr: string[] = ['otp'];
    const r = await limited(userId, purpose, req, { factorType: isDigits ? 'totp' : 'backup_code' }, async () => {
      if (!isDigits) return evaluateAndCommit(backupCodeMethod.verify(ctx, userId, normalized, purpose, req));
      let outcome: VerifyOutcome = { ok: false, reason: 'invalid_code' };
      for (const f of totps) {
        const each = await evaluateAndCommit(totpType.verify(ctx, f, normalized, { purpose: purpose === 'step_up' ? 'step_up' : 'login' }, req));
        if (each.ok) {
          outcome = each;
          amr = [...totpType.amr];
          break;
        }
        if (each.reason === 'replayed') outcome = each;
      }
      return outcome;
    });
    return r.ok ? { ok: true, amr } : r;
  }

  async function issueAssertion(userId: string, amr: string[]) {
    const now = ctx.now();
    const assertion = await ctx.signer.sign({ userId, amr: ['mfa', ...amr.filter((v) => v !== 'mfa')], authTime: now }, now);
    return { assertion, expiresIn: ctx.signer.ttlSeconds };
  }

  async function disableAll(userId: string, req?: RequestContext) {
    await store.deleteFactors(userId);
    await store.deleteBackupCodes(userId);
    const revoked = await store.deleteTrustedDevices(userId);
    if (revoked > 0) ctx.emit({ type: 'device.revoked', userId, outcome: 'success', reason: 'mfa_disabled', purpose: 'management' }, req);
    ctx.emit({ type: 'mfa.disabled', userId, outcome: 'success', purpose: 'management' }, req);
  }

  const challengeIdOf = async (token: unknown): Promise<string | null> =>
    typeof token === 'string' && /^[A-Za-z0-9_-]{43}$/.test(token) ? hashToken(token) : null;

  const mfa: Mfa = {
    issuer: o.issuer,
    methods,
    trustedDeviceTtlSeconds: o.trustedDevices.ttlSeconds,

    status: async (userId) => {
      requireUserId(userId);
      const [factors, codes, devices, attempts] = await Promise.all([
        activeFactors(userId), store.getBackupCodes(userId), store.listTrustedDevices(userId), store.getAttemptState(userId),
      ]);
      const now = ctx.now();
      return {
        enabled: factors.length > 0,
        factors: factors.map(summary),
        backupCodesRemaining: factors.length > 0 ? codes?.hashes.length ?? 0 : 0,
        trustedDevices: devices.filter((d) => d.expiresAt > now).length,
        locked: attempts?.locked ?? false,
      };
    },

    totp: {
      enroll: async (userId, opts = {}, req) => {
        requireUserId(userId);
        const label = optionalLabel(opts.label, 'Authenticator app');
        const rawAccountName = opts.accountName ?? userId;
        if (typeof rawAccountName !== 'string' || rawAccountName.length === 0 || rawAccountName.length > 128 || UNSAFE_LABEL_CHARACTERS.test(rawAccountName)) {
          throw new MfaError('invalid_request', 'accountName must be a printable string of at most 128 characters', { field: 'accountName' });
        }
        // The otpauth label is "issuer:account" and the Key Uri Format forbids ":" in either part
        // (URI-03: a parser would split there, even at "%3A"). An account name with ":" (a valid
        // email) is encoded, not refused: each ":" is shown as U+A789 MODIFIER LETTER COLON.
        const accountName = rawAccountName.replaceAll(':', '\uA789');
        const provenAt = await proofForNewFactor(userId, opts.proof, req);
        await pruneAndCount(userId, 'totp');
        const secret = generateTotpSecret(o.random, o.totp.secretBytes);
        const id = randomId(o.random);
        const now = ctx.now();
        const params = { algorithm: o.totp.algorithm, digits: o.totp.digits, periodSeconds: o.totp.periodSeconds };
        await store.createFactor({
          id, userId, type: 'totp', label, status: 'pending', secret: await ctx.box.seal(secret, `${userId}:${id}`),
          data: { ...params, ...(provenAt === null ? {} : { provenAt }) }, counter: null, lookupKey: null, createdAt: now, confirmedAt: null, lastUsedAt: null,
        });
        const otpauthUri = createTotpKeyUri({ issuer: o.issuer, accountName, secret, ...params });
        const qr = await createQrCode(otpauthUri);
        ctx.emit({ type: 'factor.enrolled', userId, factorId: id, factorType: 'totp', outcome: 'success', purpose: 'enroll' }, req);
        return { factorId: id, secret, otpauthUri, qrCode: qr.png, qrSvg: qr.svg };
      },
      confirm: (userId, factorId, code, req, opts) => confirmFactor(userId, factorId, code, totpType, req, opts),
    },
    sms: oobApi(sms),
    email: oobApi(email),

    login: {
      start: async (userId, opts = {}) => {
        requireUserId(userId);
        const req = opts.context;
        const factors = await activeFactors(userId);
        if (factors.length === 0) return { required: false, trustedDevice: false };
        if (opts.trustedDeviceToken && (await mfa.devices.check(userId, opts.trustedDeviceToken))) {
          return { required: false, trustedDevice: true };
        }
        const now = ctx.now();
        const codes = await store.getBackupCodes(userId);
        const available = new Set(factors.map((f) => f.type));
        const offered = methods.filter((m) => (m === 'backup_code' ? (codes?.hashes.length ?? 0) > 0 : available.has(m)));
        const token = randomToken(o.random, 32);
        const expiresAt = now + o.challenge.ttlSeconds * 1000;
        await store.createChallenge({ id: await hashToken(token), userId, methods: offered, createdAt: now, expiresAt, attempts: 0 }, o.challenge.ttlSeconds + 60);
        ctx.emit({ type: 'challenge.started', userId, outcome: 'success', purpose: 'login' }, req);
        return { required: true, challengeToken: token, methods: offered, expiresAt: iso(expiresAt) };
      },

      sendCode: async (challengeToken, opts, req) => {
        const id = await challengeIdOf(challengeToken);
        const type = opts.method === 'sms' ? sms : opts.method === 'email' ? email : null;
        if (!type) throw new MfaError('invalid_request', 'method must be "sms" or "email"', { field: 'method' });
        const challenge = id ? await store.getChallenge(id) : null;
        if (!challenge || challenge.expiresAt <= ctx.now()) return failure('challenge_expired');
        if (!challenge.methods.includes(type.type)) throw new MfaError('invalid_request', `method "${type.type}" is not available for this login`, { field: 'method' });
        const candidates = (await activeFactors(challenge.userId)).filter((f) => f.type === type.type);
        const factor = opts.factorId === undefined ? candidates[0] : candidates.find((f) => f.id === opts.factorId);
        if (!factor) throw new MfaError('invalid_request', 'No such factor for this login', { field: 'factorId' });
        // The code goes only to the destination stored on the factor.
        const { sentTo } = await type.sendCode(ctx, { factor, key: `login:${challenge.id}`, purpose: 'login', req });
        return { ok: true as const, sentTo, factorId: factor.id };
      },

      verify: async (challengeToken, input, req): Promise<LoginVerifyResult> => {
        const method = input.method;
        if (typeof method !== 'string' || !(['totp', 'sms', 'email', 'backup_code'] as string[]).includes(method)) {
          throw new MfaError('invalid_request', 'method must be one of totp, sms, email, backup_code', { field: 'method' });
        }
        if (input.trustDevice !== undefined && typeof input.trustDevice !== 'boolean') {
          throw new MfaError('invalid_request', 'trustDevice must be a boolean', { field: 'trustDevice' });
        }
        const normalized = method === 'backup_code' ? backupCodeMethod.checkCodeFormat(input.code) : types[method]!.checkCodeFormat(undefined, input.code);
        const id = await challengeIdOf(challengeToken);
        const challenge = id ? await store.getChallenge(id) : null;
        if (!id || !challenge || challenge.expiresAt <= ctx.now()) return failure('challenge_expired');
        const userId = challenge.userId;
        if (!challenge.methods.includes(method)) throw new MfaError('invalid_request', `method "${method}" is not available for this login`, { field: 'method' });
        const candidates = method === 'backup_code' ? [] : (await activeFactors(userId)).filter((f) => f.type === method);
        // A TOTP code of a length none of the user's authenticators produces is bad input (400), not a failure.
        if (method === 'totp' && !candidates.some((f) => f.data.digits === normalized.length)) {
          throw new MfaError('invalid_request', 'code has the wrong number of digits', { field: 'code' });
        }

        let lostRace = false;
        const r = await limited(userId, 'login', req, { factorType: method }, async () => {
          // Counted before evaluating, so parallel guesses cannot exceed the per-challenge limit.
          const n = await store.incrementChallengeAttempts(id);
          // Past the limit nothing is evaluated; the wrong attempt that reached it ended the challenge.
          if (n === null || n > o.challenge.maxAttempts) return { ok: false, reason: 'invalid_code', evaluated: false };
          const evaluation = await evaluateLoginCode(userId, method as LoginMethod, normalized, candidates, id, req);
          if (!evaluation.ok) {
            if (n >= o.challenge.maxAttempts) await store.takeChallenge(id);
            return evaluation;
          }
          // Single use: of concurrent successes only the request that takes the challenge logs in,
          // and only it spends its code — one code per login, however many valid codes race.
          if (!(await store.takeChallenge(id))) {
            lostRace = true;
            return { ok: true };
          }
          const committed = await evaluation.commit();
          if (!committed.ok) await restoreChallenge({ ...challenge, attempts: n });
          return committed;
        });
        if (!r.ok) return r;
        if (lostRace) return failure('challenge_expired');
        const factorType = method === 'backup_code' ? backupCodeMethod : types[method]!;
        const { assertion, expiresIn } = await issueAssertion(userId, [...factorType.amr]);
        const result: LoginSuccess = { ok: true, userId, amr: ['mfa', ...factorType.amr], assertion, expiresIn };
        ctx.emit({ type: 'mfa.verified', userId, factorType: method, outcome: 'success', purpose: 'login' }, req);
        if (input.trustDevice === true) {
          const now = ctx.now();
          const token = randomToken(o.random, 32);
          const device = {
            id: randomId(o.random), userId, tokenHash: await hashToken(token), label: deviceLabelFromUserAgent(req?.userAgent),
            createdAt: now, lastSeenAt: now, expiresAt: now + o.trustedDevices.ttlSeconds * 1000,
          };
          await store.createTrustedDevice(device);
          ctx.emit({ type: 'device.trusted', userId, outcome: 'success', purpose: 'login' }, req);
          result.trustedDevice = { id: device.id, token, expiresAt: iso(device.expiresAt), maxAgeSeconds: o.trustedDevices.ttlSeconds };
        }
        return result;
      },
    },

    stepUp: async (userId, input, req) => {
      requireUserId(userId);
      const r = await verifyAnyCode(userId, input.code, 'step_up', req);
      if (!r.ok) return r;
      const { assertion, expiresIn } = await issueAssertion(userId, r.amr);
      ctx.emit({ type: 'mfa.verified', userId, outcome: 'success', purpose: 'step_up' }, req);
      return { ok: true as const, userId, amr: ['mfa', ...r.amr], assertion, expiresIn };
    },

    checkProof: (userId, proof, opts, req) => checkProof(userId, proof, opts, req),

    backupCodes: {
      regenerate: async (userId, proof, req, opts = {}) => {
        const p = await checkProof(userId, proof, { maxAgeSeconds: proofAge(opts) }, req);
        if (!p.ok) return p;
        if ((await activeFactors(userId)).length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
        const backupCodes = await backupCodeMethod.issue(ctx, userId);
        ctx.emit({ type: 'backup_codes.regenerated', userId, outcome: 'success', purpose: 'management' }, req);
        return { ok: true as const, backupCodes };
      },
      remaining: async (userId) => (await store.getBackupCodes(requireUserId(userId)))?.hashes.length ?? 0,
    },

    factors: {
      list: async (userId) => (await activeFactors(requireUserId(userId))).map(summary),
      remove: async (userId, factorId, proof, req, opts = {}) => {
        requireUserId(userId);
        const factor = await getOwnFactor(userId, factorId);
        const p = await checkProof(userId, proof, { maxAgeSeconds: proofAge(opts) }, req);
        if (!p.ok) return p;
        if (!(await store.deleteFactor(userId, factor.id))) throw new MfaError('not_enrolled', 'No such factor');
        ctx.emit({ type: 'factor.removed', userId, factorId: factor.id, factorType: factor.type, outcome: 'success', purpose: 'management' }, req);
        const revoked = await store.deleteTrustedDevices(userId);
        if (revoked > 0) ctx.emit({ type: 'device.revoked', userId, outcome: 'success', reason: 'factor_removed', purpose: 'management' }, req);
        const remaining = await activeFactors(userId);
        if (remaining.length === 0) {
          await disableAll(userId, req);
          return { ok: true as const, mfaDisabled: true };
        }
        return { ok: true as const, mfaDisabled: false };
      },
    },

    disable: async (userId, proof, req, opts = {}) => {
      requireUserId(userId);
      if ((await activeFactors(userId)).length === 0) throw new MfaError('not_enrolled', 'MFA is not enabled for this user');
      const p = await checkProof(userId, proof, { allowPassword: opts.allowPassword === true, maxAgeSeconds: proofAge(opts) }, req);
      if (!p.ok) return p;
      await disableAll(userId, req);
      return { ok: true as const };
    },

    devices: {
      list: async (userId, currentToken) => {
        requireUserId(userId);
        const now = ctx.now();
        const currentHash = currentToken ? await hashToken(currentToken) : null;
        return (await store.listTrustedDevices(userId)).filter((d) => d.expiresAt > now).map((d) => ({
          id: d.id, label: d.label, createdAt: iso(d.createdAt), lastSeenAt: iso(d.lastSeenAt), expiresAt: iso(d.expiresAt),
          current: currentHash !== null && d.tokenHash === currentHash,
        }));
      },
      revoke: async (userId, deviceId, req) => {
        requireUserId(userId);
        if (typeof deviceId !== 'string' || deviceId.length > 128) return false;
        const ok = await store.deleteTrustedDevice(userId, deviceId);
        if (ok) ctx.emit({ type: 'device.revoked', userId, outcome: 'success', purpose: 'management' }, req);
        return ok;
      },
      revokeAll: async (userId, req) => {
        const n = await store.deleteTrustedDevices(requireUserId(userId));
        if (n > 0) ctx.emit({ type: 'device.revoked', userId, outcome: 'success', purpose: 'management' }, req);
        return n;
      },
      check: async (userId, token) => {
        if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
        const device = await store.findTrustedDevice(await hashToken(token));
        const now = ctx.now();
        if (!device || device.userId !== userId || device.expiresAt <= now) return false;
        await store.touchTrustedDevice(userId, device.id, now);
        return true;
      },
    },

    assertions: {
      verify: async (token, opts = {}) => {
        const r = await ctx.signer.verify(token as string, ctx.now(), opts.maxAgeSeconds);
        return r.ok ? { ok: true as const, userId: r.claims.userId, amr: r.claims.amr, authTime: r.claims.authTime } : r;
      },
      issue: (userId, amr) => issueAssertion(requireUserId(userId), amr),
    },

    admin: {
      unlock: async (userId, req) => {
        await ctx.limiter.unlock(requireUserId(userId));
        ctx.emit({ type: 'mfa.unlocked', userId, outcome: 'success', purpose: 'management' }, req);
      },
    },
  };

  /** Evaluates a login code without spending it; the caller commits after taking the challenge. */
  async function evaluateLoginCode(userId: string, method: LoginMethod, code: string, candidates: FactorRecord[], challengeId: string, req?: RequestContext): Promise<Evaluation> {
    if (method === 'backup_code') return backupCodeMethod.verify(ctx, userId, code, 'login', req);
    const type = types[method]!;
    if (method === 'totp') {
      let outcome: Evaluation = { ok: false, reason: 'invalid_code' };
      for (const f of candidates) {
        if (f.data.digits !== code.length) continue;
        const each = await type.verify(ctx, f, code, { purpose: 'login' }, req);
        if (each.ok) return each;
        if (each.reason === 'replayed') outcome = each;
      }
      return outcome;
    }
    const key = `login:${challengeId}`;
    const record = await store.getFactorState(key);
    const factor = record ? candidates.find((f) => f.id === record.factorId) : undefined;
    if (!factor) return { ok: false, reason: 'invalid_code' };
    return type.verify(ctx, factor, code, { purpose: 'login', key }, req);
  }

  /** Puts back a challenge this request took but could not complete (its code lost a race). */
  async function restoreChallenge(challenge: ChallengeRecord): Promise<void> {
    const ttl = Math.ceil((challenge.expiresAt - ctx.now()) / 1000);
    if (ttl > 0) await store.createChallenge(challenge, ttl + 60);
  }

  return mfa;
}
