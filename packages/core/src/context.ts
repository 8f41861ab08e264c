// packages/core/src/context.ts
// The engine's shared parts, built once by createMfa from validated options.
import { createAssertionSigner, type AssertionSigner } from './assertions';
import { createAttemptLimiter, type AttemptLimiter } from './attempts';
import { base64UrlEncode, constantTimeEqual, hashToken, hmacSha256 } from './crypto';
import { MfaError } from './errors';
import type { MfaEvent, RequestContext } from './events';
import type { ResolvedOptions } from './options';
import { createSecretBox, type SecretBox } from './secret-box';
import type { MfaStore } from './store';
import { storeBoundary } from './store-boundary';

export interface EngineContext {
  o: ResolvedOptions;
  store: MfaStore;
  box: SecretBox;
  signer: AssertionSigner;
  limiter: AttemptLimiter;
  now(): number;
  emit(event: Omit<MfaEvent, 'at' | 'ip' | 'userAgent'>, ctx?: RequestContext): void;
  /**
   * Keyed hash of an out-of-band code, bound to its key and purpose: `<keyId>.<mac>`. The key id
   * names the encryption key the MAC key was derived from, so rotating `encryptionKeys.current`
   * leaves codes already sent valid (their key stays in the ring).
   */
  hashOobCode(key: string, purpose: string, code: string): Promise<string>;
  /** Constant-time check of `code` against a stored `hashOobCode` value. */
  checkOobCode(stored: string, key: string, purpose: string, code: string): Promise<boolean>;
  /** Short stable hash for counter keys (no raw phone numbers or addresses in keys). */
  keyHash(value: string): Promise<string>;
}

export function createEngineContext(o: ResolvedOptions): EngineContext {
  const store = storeBoundary(o.store);
  const box = createSecretBox(o.encryptionKeys, o.random);
  // One MAC key per encryption key, derived once (domain-separated: never the AES key itself).
  const oobKeys = new Map<string, Promise<Uint8Array>>();
  const oobKey = (id: string): Promise<Uint8Array> | undefined => {
    const known = oobKeys.get(id);
    if (known) return known;
    const bytes = box.keyBytes(id);
    if (!bytes) return undefined;
    const derived = hmacSha256(bytes, 'secondfactor/oob-code/v1');
    oobKeys.set(id, derived);
    return derived;
  };
  const mac = async (id: string, key: string, purpose: string, code: string) => {
    const k = oobKey(id);
    return k ? `${id}.${base64UrlEncode(await hmacSha256(await k, `${purpose}|${key}|${code}`))}` : null;
  };
  const clientKey = async (userId: string, client: string) => `client:${(await hashToken(`${userId}\u0000${client}`)).slice(0, 32)}`;
  return {
    o,
    store,
    box,
    signer: createAssertionSigner(o.signingKey, { issuer: o.issuer, audience: o.assertion.audience, ttlSeconds: o.assertion.ttlSeconds }),
    limiter: createAttemptLimiter(store, o.limits, clientKey),
    now: () => {
      const t = o.clock();
      if (!Number.isFinite(t)) throw new MfaError('store_unavailable', 'clock returned a non-finite time');
      return t;
    },
    emit(event, ctx) {
      if (!o.onEvent) return;
      const full: MfaEvent = { ...event, ip: ctx?.ip, userAgent: ctx?.userAgent, at: o.clock() };
      try {
        const r = o.onEvent(full);
        if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
      } catch {
        // An audit sink failure must not change the security decision that was already taken.
      }
    },
    async hashOobCode(key, purpose, code) {
      return (await mac(box.currentKeyId, key, purpose, code))!;
    },
    async checkOobCode(stored, key, purpose, code) {
      const dot = stored.indexOf('.');
      const expected = dot > 0 ? await mac(stored.slice(0, dot), key, purpose, code) : null;
      return expected !== null && constantTimeEqual(expected, stored);
    },
    async keyHash(value) {
      return (await hashToken(value)).slice(0, 22);
    },
  };
}

