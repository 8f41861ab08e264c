// packages/core/src/context.ts
// The engine's shared parts, built once by createMfa from validated options — and the narrower
// `FactorContext` the plugins see.
import { createAssertionSigner, type AssertionSigner } from './assertions';
import { createAttemptLimiter, type AttemptLimiter } from './attempts';
import { base64UrlEncode, constantTimeEqual, hashToken, hmacSha256, randomInt } from './crypto';
import { MfaError } from './errors';
import type { MfaEvent, RequestContext } from './events';
import type { FactorContext } from './factor-plugin';
import type { ResolvedOptions } from './options';
import type { FactorRegistry } from './registry';
import { createSecretBox, type SecretBox } from './secret-box';
import type { MfaStore } from './store';
import { storeBoundary } from './store-boundary';

export interface EngineContext {
  o: ResolvedOptions;
  registry: FactorRegistry;
  store: MfaStore;
  box: SecretBox;
  signer: AssertionSigner;
  limiter: AttemptLimiter;
  /** What plugins are given. */
  factors: FactorContext;
  now(): number;
  emit(event: Omit<MfaEvent, 'at' | 'ip' | 'userAgent'>, ctx?: RequestContext): void;
}

export function createEngineContext(o: ResolvedOptions, registry: FactorRegistry): EngineContext {
  const store = storeBoundary(o.store);
  const box = createSecretBox(o.encryptionKeys, o.random);
  // One MAC key per encryption key, derived once (domain-separated: never the AES key itself).
  // The key id is kept with each MAC, so rotating `encryptionKeys.current` leaves codes already
  // sent valid (their key stays in the ring).
  const macKeys = new Map<string, Promise<Uint8Array>>();
  const macKey = (id: string): Promise<Uint8Array> | undefined => {
    const known = macKeys.get(id);
    if (known) return known;
    const bytes = box.keyBytes(id);
    if (!bytes) return undefined;
    const derived = hmacSha256(bytes, 'secondfactor/oob-code/v1');
    macKeys.set(id, derived);
    return derived;
  };
  const mac = async (id: string, binding: string, value: string) => {
    const k = macKey(id);
    return k ? `${id}.${base64UrlEncode(await hmacSha256(await k, `${binding}|${value}`))}` : null;
  };
  const clientKey = async (userId: string, client: string) => `client:${(await hashToken(`${userId}\u0000${client}`)).slice(0, 32)}`;
  const now = () => {
    const t = o.clock();
    if (!Number.isFinite(t)) throw new MfaError('store_unavailable', 'clock returned a non-finite time');
    return t;
  };
  const emit: EngineContext['emit'] = (event, ctx) => {
    if (!o.onEvent) return;
    const full: MfaEvent = { ...event, ip: ctx?.ip, userAgent: ctx?.userAgent, at: o.clock() };
    try {
      const r = o.onEvent(full);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
    } catch {
      // An audit sink failure must not change the security decision that was already taken.
    }
  };
  const factors: FactorContext = {
    issuer: o.issuer,
    now,
    randomBytes: (n) => o.random(n),
    randomInt: (max) => randomInt(o.random, max),
    async mac(binding, value) {
      return (await mac(box.currentKeyId, binding, value))!;
    },
    async checkMac(stored, binding, value) {
      const dot = stored.indexOf('.');
      const expected = dot > 0 ? await mac(stored.slice(0, dot), binding, value) : null;
      return expected !== null && constantTimeEqual(expected, stored);
    },
    async keyHash(value) {
      return (await hashToken(value)).slice(0, 22);
    },
    async openSecret(factor) {
      if (!factor.secret) throw new MfaError('invalid_request', 'This factor has no secret');
      const aad = `${factor.userId}:${factor.id}`;
      const { plaintext, stale } = await box.open(factor.secret, aad);
      if (stale) await store.updateFactorSecret(factor.userId, factor.id, await box.seal(plaintext, aad));
      return plaintext;
    },
    store,
    emit: (event, req) => emit(event, req),
  };
  return {
    o,
    registry,
    store,
    box,
    signer: createAssertionSigner(o.signingKey, { issuer: o.issuer, audience: o.assertion.audience, ttlSeconds: o.assertion.ttlSeconds }),
    limiter: createAttemptLimiter(store, o.limits, clientKey),
    factors,
    now,
    emit,
  };
}
