// packages/core/src/context.ts
// The engine's shared parts, built once by createMfa from validated options — and the narrower
// `FactorContext` the plugins see.
import { createAssertionSigner, type AssertionSigner } from './assertions';
import { createAttemptLimiter, type AttemptLimiter } from './attempts';
import { base64UrlEncode, constantTimeEqual, hashTokenSync, hmacSha256Sync, randomInt, randomString } from './crypto';
import { MfaError } from './errors';
import type { MfaEvent, RequestContext } from './events';
import type { FactorContext } from './factor-plugin';
import type { ResolvedOptions } from './options';
import type { FactorRegistry } from './registry';
import { createSecretBox, type SecretBox } from './secret-box';
import type { AuditEventRecord, MfaStore } from './store';
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
  /**
   * Runs one public operation on a context of its own, whose `emit` (and its plugins') records
   * each audit-log write: they are awaited before the operation settles, and a failed write fails
   * it (`store_unavailable`): an event is never lost silently. (An explicit context rather than an
   * AsyncLocalStorage: on Node 20 the latter hooks every promise of the process once used.)
   */
  audited<T>(operation: (scoped: EngineContext) => Promise<T>): Promise<T>;
}

const DAY_MS = 86_400_000;
/** Lower-case only: the id orders and compares alike under every SQL collation (MariaDB's are case-insensitive). */
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const SEQUENCE_SPAN = 36 ** 8;
const cap = (value: string | undefined, max: number) => (value === undefined ? null : value.slice(0, max));

/** The stored form of an event. */
function auditRecord(id: string, e: MfaEvent): AuditEventRecord {
  return {
    id, at: e.at, day: Math.floor(e.at / DAY_MS), type: e.type.slice(0, 64), userId: e.userId, outcome: e.outcome,
    factorId: e.factorId ?? null, factorType: e.factorType ?? null, reason: cap(e.reason, 64), purpose: cap(e.purpose, 32),
    ip: cap(e.ip, 64), userAgent: cap(e.userAgent, 512), actor: cap(e.actor, 255), detail: cap(e.detail, 1024),
  };
}

export function createEngineContext(o: ResolvedOptions, registry: FactorRegistry): EngineContext {
  const store = storeBoundary(o.store);
  const box = createSecretBox(o.encryptionKeys, o.random);
  // One MAC key per encryption key, derived once (domain-separated: never the AES key itself).
  // The key id is kept with each MAC, so rotating `encryptionKeys.current` leaves codes already
  // sent valid (their key stays in the ring).
  const macKeys = new Map<string, Uint8Array>();
  const macKey = (id: string): Uint8Array | undefined => {
    const known = macKeys.get(id);
    if (known) return known;
    const bytes = box.keyBytes(id);
    if (!bytes) return undefined;
    const derived = hmacSha256Sync(bytes, 'secondfactor/oob-code/v1');
    macKeys.set(id, derived);
    return derived;
  };
  const mac = (id: string, binding: string, value: string) => {
    const k = macKey(id);
    return k ? `${id}.${base64UrlEncode(hmacSha256Sync(k, `${binding}|${value}`))}` : null;
  };
  const clientKey = async (userId: string, client: string) => hashTokenSync(`${userId}\u0000${client}`).slice(0, 22);
  const now = () => {
    const t = o.clock();
    if (!Number.isFinite(t)) throw new MfaError('store_unavailable', 'clock returned a non-finite time');
    return t;
  };
  // Event ids: this process's sequence (so events of one millisecond list in the order they
  // happened, newest first), then 70 random bits (unique across processes). 22 characters.
  let sequence = 0;
  const eventId = () => {
    sequence = (sequence + 1) % SEQUENCE_SPAN;
    return sequence.toString(36).padStart(8, '0') + randomString(o.random, ID_ALPHABET, 14);
  };
  /** An emit whose audit-log writes go to `sink.pending` while it is there (else nobody awaits them). */
  const emitter = (sink: { pending: Promise<void>[] | null }): EngineContext['emit'] => (event, ctx) => {
    const full: MfaEvent = { ...event, ip: ctx?.ip, userAgent: ctx?.userAgent, at: o.clock() };
    if (o.audit.store) {
      const write = store.appendEvent(auditRecord(eventId(), full));
      // Every entry point runs under audited(), which awaits this write and fails on its error.
      if (sink.pending) sink.pending.push(write);
      else write.catch(() => {});
    }
    if (!o.onEvent) return;
    try {
      const r = o.onEvent(full);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
    } catch {
      // The host's sink failing must not change the security decision that was already taken.
    }
  };
  const emit = emitter({ pending: null });
  async function audited<T>(operation: (scoped: EngineContext) => Promise<T>): Promise<T> {
    const pending: Promise<void>[] = [];
    const sink: { pending: Promise<void>[] | null } = { pending };
    const scopedEmit = emitter(sink);
    const scoped: EngineContext = { ...engine, emit: scopedEmit, factors: { ...factors, emit: scopedEmit } };
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await operation(scoped) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // The events of a failed operation are kept too. Writes may start while earlier ones are
    // awaited (a callback's event): wait until none is left.
    let lost: { error: unknown } | undefined;
    while (pending.length > 0) {
      for (const r of await Promise.allSettled(pending.splice(0))) if (r.status === 'rejected') lost ??= { error: r.reason };
    }
    sink.pending = null; // an event after this point (work the operation left running) is not awaited
    if (!outcome.ok) throw outcome.error; // the operation's own error wins over a write's
    if (lost) throw lost.error; // fail closed: an operation whose audit trail could not be written fails
    return outcome.value;
  }
  const factors: FactorContext = {
    issuer: o.issuer,
    now,
    randomBytes: (n) => o.random(n),
    randomInt: (max) => randomInt(o.random, max),
    async mac(binding, value) {
      return mac(box.currentKeyId, binding, value)!;
    },
    async checkMac(stored, binding, value) {
      const dot = stored.indexOf('.');
      const expected = dot > 0 ? mac(stored.slice(0, dot), binding, value) : null;
      return expected !== null && constantTimeEqual(expected, stored);
    },
    async keyHash(value) {
      return hashTokenSync(value).slice(0, 22);
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
  const engine: EngineContext = {
    o,
    registry,
    store,
    box,
    signer: createAssertionSigner(o.signingKey, { issuer: o.issuer, audience: o.assertion.audience, ttlSeconds: o.assertion.ttlSeconds }),
    limiter: createAttemptLimiter(store, o.limits, clientKey),
    factors,
    now,
    emit,
    audited,
  };
  return engine;
}
