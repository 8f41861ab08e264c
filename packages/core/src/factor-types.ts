// packages/core/src/factor-types.ts
// Factor types as plugins: each type (totp, sms, email) implements one interface — enrol,
// confirm, send a login code, verify — and the login challenge, limits, events and router work
// on that interface. Backup codes are a login *method* with their own verifier.
import { generateBackupCodes, findBackupCodeHash, generateBcryptSalt, hashBackupCode, hashBackupCodeSet, normalizeBackupCode } from './backup-codes';
import { randomInt } from './crypto';
import type { EngineContext } from './context';
import { MfaError } from './errors';
import type { RequestContext } from './events';
import { normalizeEmail, normalizePhone } from './phone';
import { maskEmail, maskPhone, type CodeSender } from './senders';
import type { FactorRecord, FactorStateRecord } from './store';
import { verifyTotp, type TotpParameters } from './totp';

export type VerifyOutcome = { ok: true; step?: number } | { ok: false; reason: 'invalid_code' | 'replayed' };

/**
 * A verification in two steps: `evaluate` decides without spending anything; `commit` spends
 * (advances the TOTP step, consumes the backup or out-of-band code) atomically and says whether
 * this caller won. The login flow commits only after it took the challenge, so one login spends
 * exactly one code however many valid codes race on it.
 */
export type Evaluation = { ok: false; reason: 'invalid_code' | 'replayed' } | { ok: true; step?: number; commit(): Promise<VerifyOutcome> };

/** Evaluates and commits at once (enrolment, step-up, management: nothing to take first). */
export async function evaluateAndCommit(evaluation: Evaluation | Promise<Evaluation>): Promise<VerifyOutcome> {
  const e = await evaluation;
  return e.ok ? e.commit() : e;
}

export interface FactorType {
  readonly type: string;
  /** RFC 8176 values this factor contributes to `amr`. */
  readonly amr: readonly string[];
  /** NIST "restricted" authenticator. */
  readonly restricted: boolean;
  /** Masked destination shown to the user, if any. */
  destination(factor: FactorRecord): string | undefined;
  /** Strict input check; throws invalid_request for malformed codes. */
  checkCodeFormat(factor: FactorRecord | undefined, code: unknown): string;
  /**
   * Evaluates `code` for `factor`; the returned commit spends it (replay guard / single use).
   * `key` is the binding of out-of-band codes (`login:<challenge>` or `enroll:<factor>`).
   */
  verify(ctx: EngineContext, factor: FactorRecord, code: string, binding: { purpose: 'login' | 'enroll' | 'step_up'; key?: string }, req?: RequestContext): Promise<Evaluation>;
}

function digitsCode(code: unknown, digits: number): string {
  if (typeof code !== 'string' || !new RegExp(`^\\d{${digits}}$`).test(code)) {
    throw new MfaError('invalid_request', `code must be a string of ${digits} digits`, { field: 'code' });
  }
  return code;
}

export const totpType: FactorType = {
  type: 'totp',
  amr: ['otp'],
  restricted: false,
  destination: () => undefined,
  checkCodeFormat(factor, code) {
    const digits = (factor?.data.digits as number | undefined) ?? 6;
    if (factor) return digitsCode(code, digits);
    if (typeof code === 'string' && /^(\d{6}|\d{8})$/.test(code)) return code;
    return digitsCode(code, 6);
  },
  async verify(ctx, factor, code, binding, req) {
    if (!factor.secret) return { ok: false, reason: 'invalid_code' };
    const aad = `${factor.userId}:${factor.id}`;
    const { plaintext, stale } = await ctx.box.open(factor.secret, aad);
    if (stale) await ctx.store.updateFactorSecret(factor.userId, factor.id, await ctx.box.seal(plaintext, aad));
    const params = factor.data as unknown as TotpParameters;
    const result = await verifyTotp({
      secret: plaintext, code, nowMs: ctx.now(), window: ctx.o.totp.window, afterStep: factor.counter,
      algorithm: params.algorithm, digits: params.digits, periodSeconds: params.periodSeconds,
    });
    if (!result.ok) {
      if (result.reason === 'replayed') {
        ctx.emit({ type: 'totp.replay_rejected', userId: factor.userId, factorId: factor.id, factorType: 'totp', outcome: 'failure', reason: 'replayed', purpose: binding.purpose }, req);
      }
      return result;
    }
    const step = result.step;
    return {
      ok: true,
      step,
      async commit() {
        // A pending factor records its step when it is activated (activateFactor).
        if (factor.status !== 'active') return { ok: true, step };
        // The atomic compare-and-set: of concurrent requests with this code, one wins.
        if (await ctx.store.advanceFactorCounter(factor.userId, factor.id, step, ctx.now())) return { ok: true, step };
        ctx.emit({ type: 'totp.replay_rejected', userId: factor.userId, factorId: factor.id, factorType: 'totp', outcome: 'failure', reason: 'replayed', purpose: binding.purpose }, req);
        return { ok: false, reason: 'replayed' };
      },
    };
  },
};

/** Out-of-band factor (SMS or email) over a sender. */
export function oobType(type: 'sms' | 'email', sender: CodeSender | undefined): FactorType & {
  sender: CodeSender | undefined;
  normalizeDestination(ctx: EngineContext, input: unknown): string;
  sendCode(ctx: EngineContext, args: { factor: FactorRecord; key: string; purpose: 'login' | 'enroll'; req?: RequestContext }): Promise<{ sentTo: string }>;
} {
  const unavailable = type === 'sms' ? 'sms_unavailable' : 'email_unavailable';
  const field = type === 'sms' ? 'phone' : 'email';
  const destinationOf = (f: FactorRecord) => String(f.data[field] ?? '');
  const mask = (d: string) => (type === 'sms' ? maskPhone(d) : maskEmail(d));
  return {
    type,
    amr: type === 'sms' ? ['sms'] : ['otp'],
    restricted: type === 'sms',
    sender,
    destination: (f) => mask(destinationOf(f)),
    checkCodeFormat: (_f, code) => digitsCode(code, 6),
    normalizeDestination(ctx, input) {
      return type === 'sms' ? normalizePhone(input, { allowedCountries: ctx.o.oob.allowedCountries }).e164 : normalizeEmail(input);
    },
    async sendCode(ctx, { factor, key, purpose, req }) {
      if (!sender) throw new MfaError('invalid_request', `${type} codes are not configured on this server`, { field: 'method' });
      const now = ctx.now();
      const to = destinationOf(factor);
      const existing = await ctx.store.getFactorState(key);
      const cooldownMs = ctx.o.oob.resendCooldownSeconds * 1000;
      if (existing && cooldownMs > 0 && now - existing.createdAt < cooldownMs) {
        throw new MfaError('too_many_attempts', 'Wait before asking for another code', { retryAfter: Math.ceil((existing.createdAt + cooldownMs - now) / 1000) });
      }
      await enforceSendLimits(ctx, { userId: factor.userId, destination: to, ip: req?.ip, now });
      const code = String(randomInt(ctx.o.random, 1_000_000)).padStart(6, '0');
      try {
        await sender.send({ to, code, purpose, issuer: ctx.o.issuer });
      } catch (error) {
        if (error instanceof MfaError && (error.code === 'invalid_request' || error.code === unavailable)) throw error;
        throw new MfaError(unavailable, `The ${type === 'sms' ? 'SMS' : 'email'} provider could not send the code`, { cause: error });
      }
      // Stored only after a successful send, so a failed send leaves no usable code behind.
      const record: FactorStateRecord = {
        type, secret: await ctx.hashOobCode(key, purpose, code), purpose, factorId: factor.id, userId: factor.userId,
        createdAt: now, expiresAt: now + ctx.o.oob.ttlSeconds * 1000, attempts: 0,
      };
      await ctx.store.putFactorState(key, record, ctx.o.oob.ttlSeconds + 60);
      ctx.emit({ type: 'code.sent', userId: factor.userId, factorId: factor.id, factorType: type, outcome: 'success', purpose }, req);
      return { sentTo: mask(to) };
    },
    async verify(ctx, factor, code, binding) {
      const key = binding.key;
      if (!key) return { ok: false, reason: 'invalid_code' };
      const purpose = binding.purpose === 'enroll' ? 'enroll' : 'login';
      const record = await ctx.store.getFactorState(key);
      if (!record || record.expiresAt <= ctx.now() || record.type !== type || record.purpose !== purpose || record.factorId !== factor.id || record.userId !== factor.userId) {
        return { ok: false, reason: 'invalid_code' };
      }
      const attempts = await ctx.store.incrementFactorStateAttempts(key);
      // Past the limit nothing is evaluated; the attempt that reached it already deleted the code.
      if (attempts === null || attempts > ctx.o.oob.maxAttempts) return { ok: false, reason: 'invalid_code' };
      if (!(await ctx.checkOobCode(record.secret, key, purpose, code))) {
        if (attempts >= ctx.o.oob.maxAttempts) await ctx.store.deleteFactorState(key);
        return { ok: false, reason: 'invalid_code' };
      }
      return {
        ok: true,
        commit: async () => ((await ctx.store.consumeFactorState(key, record.secret)) ? { ok: true } : { ok: false, reason: 'invalid_code' }),
      };
    },
  };
}

export type OobFactorType = ReturnType<typeof oobType>;

async function enforceSendLimits(ctx: EngineContext, args: { userId: string; destination: string; ip?: string; now: number }): Promise<void> {
  const { sendLimits, resendCooldownSeconds } = ctx.o.oob;
  const hour = Math.floor(args.now / 3_600_000);
  const retryAfter = Math.max(1, Math.ceil(((hour + 1) * 3_600_000 - args.now) / 1000));
  const dest = await ctx.keyHash(args.destination);
  if (resendCooldownSeconds > 0) {
    const slot = Math.floor(args.now / (resendCooldownSeconds * 1000));
    const n = await ctx.store.incrementCounter(`send:cooldown:${dest}:${slot}`, resendCooldownSeconds + 5);
    if (n > 1) throw new MfaError('too_many_attempts', 'Wait before asking for another code', { retryAfter: resendCooldownSeconds });
  }
  const checks: [string, number][] = [
    [`send:user:${args.userId}:${hour}`, sendLimits.perUserPerHour],
    [`send:dest:${dest}:${hour}`, sendLimits.perDestinationPerHour],
    [`send:global:${hour}`, sendLimits.globalPerHour],
  ];
  if (args.ip) checks.push([`send:ip:${args.ip}:${hour}`, sendLimits.perIpPerHour]);
  for (const [key, limit] of checks) {
    const n = await ctx.store.incrementCounter(key, 3700);
    if (n > limit) throw new MfaError('too_many_attempts', 'Too many codes were sent; try again later', { retryAfter });
  }
}

/** Backup codes as a login method. */
export const backupCodeMethod = {
  amr: ['otp'] as const,
  checkCodeFormat(code: unknown): string {
    const normalized = typeof code === 'string' ? normalizeBackupCode(code) : null;
    if (normalized === null) throw new MfaError('invalid_request', 'code must be a backup code like XXXXX-XXXXX', { field: 'code' });
    return normalized;
  },
  async verify(ctx: EngineContext, userId: string, normalized: string, purpose: string, req?: RequestContext): Promise<Evaluation> {
    const set = await ctx.store.getBackupCodes(userId);
    const salt = set?.salt ?? generateBcryptSalt(ctx.o.random, ctx.o.backupCodes.bcryptCost);
    const hash = await hashBackupCode(normalized, salt); // costs one hash whether or not a set exists
    const match = set ? findBackupCodeHash(hash, set.hashes) : null;
    if (!match) return { ok: false, reason: 'invalid_code' };
    return {
      ok: true,
      async commit() {
        if (!(await ctx.store.consumeBackupCode(userId, match, ctx.now()))) return { ok: false, reason: 'invalid_code' };
        ctx.emit({ type: 'backup_code.used', userId, factorType: 'backup_code', outcome: 'success', purpose }, req);
        return { ok: true };
      },
    };
  },
  /** A new set, replacing the old one entirely. Returns the plain codes (shown once). */
  async issue(ctx: EngineContext, userId: string): Promise<string[]> {
    const codes = generateBackupCodes(ctx.o.random, ctx.o.backupCodes.count);
    const salt = generateBcryptSalt(ctx.o.random, ctx.o.backupCodes.bcryptCost);
    await ctx.store.replaceBackupCodes(userId, { salt, hashes: await hashBackupCodeSet(codes, salt), createdAt: ctx.now() });
    return codes;
  },
};
