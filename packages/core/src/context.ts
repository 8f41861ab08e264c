// packages/core/src/context.ts
// The engine's shared parts, built once by createMfa from validated options.
import { createAssertionSigner, type AssertionSigner } from './assertions';
import { createAttemptLimiter, type AttemptLimiter } from './attempts';
import { base64UrlEncode, hashToken, hmacSha256 } from './crypto';
import { MfaError } from './errors';
import type { MfaEvent, RequestContext } from './events';
import type { ResolvedOptions } from './options';
import { createSecretBox, type SecretBox } from './secret-box';
import type { MfaStore } from './store';

export interface EngineContext {
  o: ResolvedOptions;
  store: MfaStore;
  box: SecretBox;
  signer: AssertionSigner;
  limiter: AttemptLimiter;
  now(): number;
  emit(event: Omit<MfaEvent, 'at' | 'ip' | 'userAgent'>, ctx?: RequestContext): void;
  /** Keyed hash of an out-of-band code, bound to its key and purpose. */
  hashOobCode(key: string, purpose: string, code: string): Promise<string>;
  /** Short stable hash for counter keys (no raw phone numbers or addresses in keys). */
  keyHash(value: string): Promise<string>;
}

export function createEngineContext(o: ResolvedOptions): EngineContext {
  const box = createSecretBox(o.encryptionKeys, o.random);
  let oobKey: Promise<Uint8Array> | undefined;
  const oobKeyBytes = () => (oobKey ??= hmacSha256(box.currentKeyBytes(), 'secondfactor/oob-code/v1'));
  return {
    o,
    store: o.store,
    box,
    signer: createAssertionSigner(o.signingKey, { issuer: o.issuer, audience: o.assertion.audience, ttlSeconds: o.assertion.ttlSeconds }),
    limiter: createAttemptLimiter(o.store, o.limits),
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
      const k = await oobKeyBytes();
      return base64UrlEncode(await hmacSha256(k, `${purpose}|${key}|${code}`));
    },
    async keyHash(value) {
      return (await hashToken(value)).slice(0, 22);
    },
  };
}

