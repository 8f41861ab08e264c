// packages/core/src/factors/oob/oob-plugin.ts
// The plugin behind `sms()` and `email()`: a 6-digit code sent out of band to the destination
// stored on the factor, kept only as a keyed MAC bound to the user and factor; the flow keeps it
// bound to one login challenge, enrolment or signed-in user, single use.
import { MfaConfigError, MfaError } from '../../errors';
import type { FactorContext, FactorPlugin } from '../../factor-plugin';
import { checkKeys, int } from '../../option-checks';
import type { FactorRecord } from '../../store';
import type { CodeSender } from './senders';
import { enforceSendLimits, type SendLimits } from './send-limits';

/** Options shared by `sms()` and `email()`. */
export interface OobOptions {
  /** Delivers the codes (`twilioSms(...)`, `smtpEmail(...)`, `consoleSender()` or your own). */
  sender: CodeSender;
  /** How long a sent code is valid (default 300 s). */
  ttlSeconds?: number;
  /** Wrong tries that end a sent code (default 5). */
  maxAttempts?: number;
  /** Seconds before another code may be sent to the same destination (default 30; 0 turns it off). */
  resendCooldownSeconds?: number;
  /** Hourly caps against SMS pumping (defaults: 5 per user, 5 per destination, 20 per IP, 1000 in all). */
  sendLimits?: Partial<SendLimits>;
}

/** What differs between SMS and email. */
export interface OobChannel {
  type: string;
  /** The setup body's field and the factor's data field: `phone`, `email`. */
  field: string;
  defaultLabel: string;
  amr: string[];
  restricted: boolean;
  unavailable: 'sms_unavailable' | 'email_unavailable';
  providerName: string;
  normalize(input: unknown): string;
  mask(destination: string): string;
  knownOptions: readonly string[];
}

const OOB_OPTIONS = ['sender', 'ttlSeconds', 'maxAttempts', 'resendCooldownSeconds', 'sendLimits'] as const;

export function oobPlugin(channel: OobChannel, options: OobOptions): FactorPlugin {
  const name = channel.type;
  checkKeys(options, [...OOB_OPTIONS, ...channel.knownOptions], name);
  if (!options || typeof options.sender?.send !== 'function') {
    throw new MfaConfigError(`${name}.sender`, 'is required: a sender with a send({to, code, purpose}) method');
  }
  const { sender } = options;
  checkKeys(options.sendLimits, ['perUserPerHour', 'perDestinationPerHour', 'perIpPerHour', 'globalPerHour'], `${name}.sendLimits`);
  const ttlSeconds = int(options.ttlSeconds, `${name}.ttlSeconds`, 300, 60, 600);
  const maxAttempts = int(options.maxAttempts, `${name}.maxAttempts`, 5, 1, 10);
  const limits = {
    resendCooldownSeconds: int(options.resendCooldownSeconds, `${name}.resendCooldownSeconds`, 30, 0, 600),
    sendLimits: {
      perUserPerHour: int(options.sendLimits?.perUserPerHour, `${name}.sendLimits.perUserPerHour`, 5, 1, 1000),
      perDestinationPerHour: int(options.sendLimits?.perDestinationPerHour, `${name}.sendLimits.perDestinationPerHour`, 5, 1, 1000),
      perIpPerHour: int(options.sendLimits?.perIpPerHour, `${name}.sendLimits.perIpPerHour`, 20, 1, 100000),
      globalPerHour: int(options.sendLimits?.globalPerHour, `${name}.sendLimits.globalPerHour`, 1000, 1, 10_000_000),
    },
  };
  const destinationOf = (f: FactorRecord) => String(f.data[channel.field] ?? '');
  /** The MAC binding: a code is valid only for the factor (and user) it was sent for. */
  const binding = (f: { userId: string; id: string }) => `${name}|${f.userId}|${f.id}`;

  async function send(ctx: FactorContext, args: { userId: string; factorId: string; to: string; purpose: 'login' | 'enroll'; ip?: string }) {
    await enforceSendLimits(ctx, limits, { type: name, userId: args.userId, destination: args.to, ...(args.ip ? { ip: args.ip } : {}) });
    const code = String(ctx.randomInt(1_000_000)).padStart(6, '0');
    try {
      await sender.send({ to: args.to, code, purpose: args.purpose, issuer: ctx.issuer });
    } catch (error) {
      if (error instanceof MfaError && (error.code === 'invalid_request' || error.code === channel.unavailable)) throw error;
      throw new MfaError(channel.unavailable, `The ${channel.providerName} provider could not send the code`, { cause: error });
    }
    // Kept (by the flow) only after a successful send, so a failed send leaves no usable code behind.
    return { secret: await ctx.mac(binding({ userId: args.userId, id: args.factorId }), code), ttlSeconds };
  }

  return {
    type: name,
    input: 'code',
    phishingResistant: false,
    restricted: channel.restricted,
    maxAttempts,

    parseInput({ code }) {
      if (typeof code !== 'string' || !/^\d{6}$/.test(code)) throw new MfaError('invalid_request', 'code must be a string of 6 digits', { field: 'code' });
      return code;
    },

    describe: (f) => ({ destination: channel.mask(destinationOf(f)) }),

    enroll: {
      parse(_ctx, body) {
        const value = body[channel.field];
        if (value === undefined) throw new MfaError('invalid_request', `${channel.field} is required`, { field: channel.field });
        return channel.normalize(value);
      },
      async begin(ctx, { userId, factorId, input, existing, req }) {
        const destination = input as string;
        if (existing.some((f) => f.status === 'active' && destinationOf(f) === destination)) {
          throw new MfaError('already_enrolled', `This ${channel.field} is already a factor`);
        }
        const state = await send(ctx, { userId, factorId, to: destination, purpose: 'enroll', ...(req?.ip ? { ip: req.ip } : {}) });
        ctx.emit({ type: 'code.sent', userId, factorId, factorType: name, outcome: 'success', purpose: 'enroll' }, req);
        return { data: { [channel.field]: destination }, show: { sentTo: channel.mask(destination) }, state, label: channel.defaultLabel };
      },
      async finish(ctx, { factor, input, state }) {
        if (!state || state.factorId !== factor.id || !(await ctx.checkMac(state.secret, binding(factor), input as string))) {
          return { ok: false, reason: 'invalid_code' };
        }
        return { ok: true, counter: null, amr: [...channel.amr] };
      },
    },

    async challenge(ctx, { userId, factors, factorId, purpose, previous, req }) {
      const factor = factorId === undefined ? factors[0] : factors.find((f) => f.id === factorId);
      if (!factor) throw new MfaError('invalid_request', 'No such factor for this login', { field: 'factorId' });
      const cooldownMs = limits.resendCooldownSeconds * 1000;
      const now = ctx.now();
      if (previous && cooldownMs > 0 && now - previous.createdAt < cooldownMs) {
        throw new MfaError('too_many_attempts', 'Wait before asking for another code', { retryAfter: Math.ceil((previous.createdAt + cooldownMs - now) / 1000) });
      }
      // The code goes only to the destination stored on the factor.
      const to = destinationOf(factor);
      const state = await send(ctx, { userId, factorId: factor.id, to, purpose: 'login', ...(req?.ip ? { ip: req.ip } : {}) });
      ctx.emit({ type: 'code.sent', userId, factorId: factor.id, factorType: name, outcome: 'success', purpose }, req);
      return { factorId: factor.id, state, show: { sentTo: channel.mask(to) } };
    },

    async verify(ctx, { factors, input, state }) {
      const factor = state ? factors.find((f) => f.id === state.factorId) : undefined;
      if (!state || !factor || !(await ctx.checkMac(state.secret, binding(factor), input as string))) return { ok: false, reason: 'invalid_code' };
      return { ok: true, factorId: factor.id, amr: [...channel.amr] };
    },
  };
}
