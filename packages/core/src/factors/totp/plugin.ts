// packages/core/src/factors/totp/plugin.ts
// `totp()`: authenticator apps (RFC 6238) as a factor plugin. Enrolment shows a secret, an
// otpauth URI and its QR code; a first code confirms it. Verification reports the matched time
// step as the factor's counter, and the flow advances it atomically: a step is accepted at most
// once per factor (no replay), also across app instances.
import { MfaConfigError, MfaError } from '../../errors';
import type { FactorPlugin, PluginVerifyResult } from '../../factor-plugin';
import { checkKeys, int } from '../../option-checks';
import type { FactorRecord } from '../../store';
import { renderQrCode } from './qr-code';
import { createTotpKeyUri, generateTotpSecret, verifyTotp, type TotpAlgorithm, type TotpParameters, type TotpWindow } from './totp';

export interface TotpOptions {
  /** HMAC algorithm of new factors (default SHA1: what every authenticator app supports). */
  algorithm?: TotpAlgorithm;
  /** Code length of new factors (default 6). */
  digits?: 6 | 8;
  /** Time step of new factors in seconds (default 30). */
  periodSeconds?: number;
  /** Accepted steps around now (default ±1, at most 2 each way). */
  window?: Partial<TotpWindow>;
  /** Secret length in bytes (default 20: 160 bits). */
  secretBytes?: number;
}

/**
 * What `POST /totp/setup` shows (once): the secret for manual entry, the URI and its QR code.
 * The QR code is rendered when `qrCode` or `qrSvg` is first read (both at once, then kept), so
 * a caller that draws its own pays nothing for it; spreading, `JSON.stringify` and
 * `structuredClone` read them like any other property.
 */
export interface TotpEnrollment {
  factorId: string;
  /** Base32 secret: shown once, for manual entry. */
  secret: string;
  otpauthUri: string;
  /** `data:image/png;base64,…` */
  qrCode: string;
  qrSvg: string;
}

/** `{secret, otpauthUri, qrCode, qrSvg}` with the QR code rendered on first read of either (enumerable getters). */
function enrollmentShow(secret: string, otpauthUri: string): Omit<TotpEnrollment, 'factorId'> {
  let qr: { png: string; svg: string } | undefined;
  const rendered = () => (qr ??= renderQrCode(otpauthUri));
  const show = { secret, otpauthUri } as Omit<TotpEnrollment, 'factorId'>;
  return Object.defineProperties(show, {
    qrCode: { enumerable: true, configurable: true, get: () => rendered().png },
    qrSvg: { enumerable: true, configurable: true, get: () => rendered().svg },
  });
}

const paramsOf = (f: FactorRecord) => f.data as unknown as TotpParameters;

/**
 * The TOTP factor type.
 *
 * @example
 * createMfa({ ..., factors: [totp({ digits: 6 }), backupCodes()] });
 */
export function totp(options: TotpOptions = {}): FactorPlugin {
  checkKeys(options, ['algorithm', 'digits', 'periodSeconds', 'window', 'secretBytes'], 'totp');
  const algorithm = options.algorithm ?? 'SHA1';
  if (!['SHA1', 'SHA256', 'SHA512'].includes(algorithm)) throw new MfaConfigError('totp.algorithm', `must be SHA1, SHA256 or SHA512 (got ${String(algorithm)})`);
  const digits = options.digits ?? 6;
  if (digits !== 6 && digits !== 8) throw new MfaConfigError('totp.digits', `must be 6 or 8 (got ${String(digits)})`);
  checkKeys(options.window, ['pastSteps', 'futureSteps'], 'totp.window');
  const periodSeconds = int(options.periodSeconds, 'totp.periodSeconds', 30, 15, 120);
  const window: TotpWindow = {
    pastSteps: int(options.window?.pastSteps, 'totp.window.pastSteps', 1, 0, 2),
    futureSteps: int(options.window?.futureSteps, 'totp.window.futureSteps', 1, 0, 2),
  };
  const secretBytes = int(options.secretBytes, 'totp.secretBytes', 20, 16, 64);

  return {
    type: 'totp',
    input: 'code',
    phishingResistant: false,
    restricted: false,

    parseInput({ code }, factors) {
      if (typeof code !== 'string' || !/^(\d{6}|\d{8})$/.test(code)) {
        const lengths = [...new Set(factors.map((f) => paramsOf(f).digits))].sort().join(' or ') || '6';
        throw new MfaError('invalid_request', `code must be a string of ${lengths} digits`, { field: 'code' });
      }
      // A length none of these authenticators produces is bad input (400), not a failed attempt.
      if (factors.length > 0 && !factors.some((f) => paramsOf(f).digits === code.length)) {
        throw new MfaError('invalid_request', 'code has the wrong number of digits', { field: 'code' });
      }
      return code;
    },

    enroll: {
      parse: () => null,
      async begin(ctx, { accountName }) {
        // The otpauth label is "issuer:account" and the Key Uri Format forbids ":" in either part
        // (URI-03: a parser would split there, even at "%3A"). An account name with ":" (a valid
        // email) is encoded, not refused: each ":" is shown as U+A789 MODIFIER LETTER COLON.
        const shownName = accountName.replaceAll(':', '\uA789');
        const secret = generateTotpSecret(ctx.randomBytes, secretBytes);
        const params: TotpParameters = { algorithm, digits, periodSeconds };
        const otpauthUri = createTotpKeyUri({ issuer: ctx.issuer, accountName: shownName, secret, ...params });
        return { data: { ...params }, secret, show: enrollmentShow(secret, otpauthUri), label: 'Authenticator app' };
      },
      async finish(ctx, { factor, input }) {
        const r = await check(ctx, factor, input as string);
        return r.ok ? { ok: true, counter: r.step, amr: ['otp'] } : { ok: false, reason: 'invalid_code' };
      },
    },

    async verify(ctx, { factors, input }): Promise<PluginVerifyResult> {
      const code = input as string;
      let replayedOn: string | undefined;
      for (const f of factors) {
        if (paramsOf(f).digits !== code.length) continue;
        const r = await check(ctx, f, code);
        if (r.ok) return { ok: true, factorId: f.id, amr: ['otp'], counter: r.step };
        if (r.reason === 'replayed') replayedOn = f.id;
      }
      return replayedOn === undefined
        ? { ok: false, reason: 'invalid_code' }
        : { ok: false, reason: 'replayed', warning: 'totp.replay_rejected', factorId: replayedOn };
    },
  };

  async function check(ctx: Parameters<FactorPlugin['verify']>[0], factor: FactorRecord, code: string) {
    const params = paramsOf(factor);
    return verifyTotp({
      secret: await ctx.openSecret(factor), code, nowMs: ctx.now(), window, afterStep: factor.counter,
      algorithm: params.algorithm, digits: params.digits, periodSeconds: params.periodSeconds,
    });
  }
}
