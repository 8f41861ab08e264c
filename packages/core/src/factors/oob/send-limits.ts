// packages/core/src/factors/oob/send-limits.ts
// Limits on codes sent by SMS or email (SMS pumping, OWASP): a resend cooldown per destination,
// and hourly caps per user, per destination, per client IP and globally — all counted in the
// store, so they hold across app instances.
import { MfaError } from '../../errors';
import type { FactorContext } from '../../factor-plugin';

export interface SendLimits {
  perUserPerHour: number;
  perDestinationPerHour: number;
  perIpPerHour: number;
  globalPerHour: number;
}

export async function enforceSendLimits(
  ctx: FactorContext,
  limits: { sendLimits: SendLimits; resendCooldownSeconds: number },
  args: { type: string; userId: string; destination: string; ip?: string },
): Promise<void> {
  const { sendLimits, resendCooldownSeconds } = limits;
  const now = ctx.now();
  const hour = Math.floor(now / 3_600_000);
  const retryAfter = Math.max(1, Math.ceil(((hour + 1) * 3_600_000 - now) / 1000));
  const dest = await ctx.keyHash(args.destination);
  if (resendCooldownSeconds > 0) {
    const slot = Math.floor(now / (resendCooldownSeconds * 1000));
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
