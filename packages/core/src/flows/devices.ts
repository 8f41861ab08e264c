// packages/core/src/flows/devices.ts
// Trusted devices: a random token (stored only hashed) that lets one browser skip the second
// step for a fixed time; listed, revoked one by one or all at once.
import type { EngineContext } from '../context';
import { hashToken } from '../crypto';
import type { RequestContext } from '../events';
import type { TrustedDeviceSummary } from '../types';
import { iso, requireUserId } from './shared';

export interface DevicesFlow {
  list(userId: string, currentToken?: string): Promise<TrustedDeviceSummary[]>;
  revoke(userId: string, deviceId: string, req?: RequestContext): Promise<boolean>;
  revokeAll(userId: string, req?: RequestContext): Promise<number>;
  /** True when `token` is a live trusted device of `userId`. */
  check(userId: string, token: string | undefined): Promise<boolean>;
}

/** True when `token` is a live trusted device of `userId` (and records that it was seen). */
export async function checkTrustedDevice(e: EngineContext, userId: string, token: unknown): Promise<boolean> {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return false;
  const device = await e.store.findTrustedDevice(await hashToken(token));
  const now = e.now();
  if (!device || device.userId !== userId || device.expiresAt <= now) return false;
  await e.store.touchTrustedDevice(userId, device.id, now);
  return true;
}

export function devicesFlow(e: EngineContext): DevicesFlow {
  const { store } = e;
  return {
    async list(userId, currentToken) {
      requireUserId(userId);
      const now = e.now();
      const currentHash = currentToken ? await hashToken(currentToken) : null;
      return (await store.listTrustedDevices(userId)).filter((d) => d.expiresAt > now).map((d) => ({
        id: d.id, label: d.label, createdAt: iso(d.createdAt), lastSeenAt: iso(d.lastSeenAt), expiresAt: iso(d.expiresAt),
        current: currentHash !== null && d.tokenHash === currentHash,
      }));
    },
    async revoke(userId, deviceId, req) {
      requireUserId(userId);
      if (typeof deviceId !== 'string' || deviceId.length > 128) return false;
      const ok = await store.deleteTrustedDevice(userId, deviceId);
      if (ok) e.emit({ type: 'device.revoked', userId, outcome: 'success', purpose: 'management' }, req);
      return ok;
    },
    async revokeAll(userId, req) {
      const n = await store.deleteTrustedDevices(requireUserId(userId));
      if (n > 0) e.emit({ type: 'device.revoked', userId, outcome: 'success', purpose: 'management' }, req);
      return n;
    },
    check: (userId, token) => checkTrustedDevice(e, userId, token),
  };
}
