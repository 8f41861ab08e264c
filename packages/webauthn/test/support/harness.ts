// packages/webauthn/test/support/harness.ts
// A real FactorContext (fake clock, node:crypto randomness, core's memoryStore, a recording emit,
// HMAC-based mac/keyHash) and a small driver that plays the flow's part around the plugin: it parses
// input, keeps the pending factor and the challenge state, activates factors (refusing a second
// lookup key, as the store does) and advances the counter only if greater, as the flow does.
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { type FactorContext, type FactorInput, type FactorPlugin, type FactorRecord, memoryStore, type PluginState, type PluginVerifyResult, type VerifyPurpose } from '@secondfactor/core';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { webauthn, type WebAuthnOptions } from '@secondfactor/webauthn';

export const ORIGIN = 'https://example.com';
const RP: WebAuthnOptions = { rpId: 'example.com', rpName: 'Example', origins: [ORIGIN] };

export interface RecordedEvent {
  type: string;
  userId: string;
  factorId?: string;
  outcome: 'success' | 'failure';
  reason?: string;
  purpose?: string;
}

/** A clock the test moves by hand. */
export function fakeClock(start = Date.UTC(2026, 0, 1, 0, 0, 10)) {
  let t = start;
  return {
    now: () => t,
    advance(seconds: number) {
      t += seconds * 1000;
    },
  };
}

export function testContext(clock = fakeClock()): { ctx: FactorContext; events: RecordedEvent[]; randomCalls: number[] } {
  const key = Buffer.alloc(32, 7);
  const events: RecordedEvent[] = [];
  const randomCalls: number[] = [];
  const mac = (binding: string, value: string) => `k1.${createHmac('sha256', key).update(`${binding}|${value}`).digest('base64url')}`;
  const ctx: FactorContext = {
    issuer: 'Example',
    now: clock.now,
    randomBytes(n) {
      randomCalls.push(n);
      return new Uint8Array(randomBytes(n));
    },
    randomInt: (max) => randomInt(max),
    mac: async (binding, value) => mac(binding, value),
    async checkMac(stored, binding, value) {
      const expected = Buffer.from(mac(binding, value));
      const given = Buffer.from(stored);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
    keyHash: async (value) => createHash('sha256').update(value).digest('base64url').slice(0, 22),
    openSecret: async (factor) => factor.secret ?? '',
    store: memoryStore(),
    emit(event) {
      events.push({ ...event });
    },
  };
  return { ctx, events, randomCalls };
}

/** A factor record as the store holds it. */
function factorRecord(fields: { id: string; userId: string; status: 'pending' | 'active'; data: Record<string, unknown>; counter?: number | null; lookupKey?: string | null; now: number }): FactorRecord {
  return {
    id: fields.id,
    userId: fields.userId,
    type: 'webauthn',
    label: null,
    status: fields.status,
    secret: null,
    data: fields.data,
    counter: fields.counter ?? null,
    lookupKey: fields.lookupKey ?? null,
    createdAt: fields.now,
    confirmedAt: fields.status === 'active' ? fields.now : null,
    lastUsedAt: null,
  };
}

/** The state the flow keeps for what `begin`/`challenge` returned. */
export function keptState(now: number, state: { secret: string; ttlSeconds: number }, factorId: string | null = null): PluginState {
  return { factorId, secret: state.secret, createdAt: now, expiresAt: now + state.ttlSeconds * 1000, attempts: 0 };
}

let nextId = 1;

/** Plays the flow around one plugin, in memory. */
export class Driver {
  readonly plugin: FactorPlugin;
  readonly factors: FactorRecord[] = [];
  /** lookupKey → userId: the store refuses a second activation with the same key. */
  readonly lookupKeys = new Map<string, string>();

  constructor(
    readonly ctx: FactorContext,
    options: Partial<WebAuthnOptions> = {},
  ) {
    this.plugin = webauthn({ ...RP, ...options });
  }

  /** The plugin's parseInput as the flow calls it. */
  parseInput(input: FactorInput, factors: FactorRecord[] = []): unknown {
    return this.plugin.parseInput(input, factors);
  }

  factorsOf(userId: string, status: 'active' | 'pending' | 'all' = 'active'): FactorRecord[] {
    return this.factors.filter((f) => f.userId === userId && (status === 'all' || f.status === status));
  }

  /** POST /webauthn/setup: a pending factor, the creation options and the kept challenge. */
  async setup(userId: string, accountName = `${userId}@example.com`) {
    const input = this.plugin.enroll!.parse(this.ctx, { label: 'My key' });
    const factorId = `f${nextId++}`;
    const begun = await this.plugin.enroll!.begin(this.ctx, { userId, factorId, input, accountName, existing: this.factorsOf(userId, 'all') });
    const factor = factorRecord({ id: factorId, userId, status: 'pending', data: begun.data, now: this.ctx.now() });
    this.factors.push(factor);
    return { factor, begun, options: begun.show.options as PublicKeyCredentialCreationOptionsJSON, state: keptState(this.ctx.now(), begun.state!, factorId) };
  }

  /** POST /webauthn/confirm: finish, then activate as the store would. */
  async confirm(factor: FactorRecord, response: unknown, state: PluginState | null) {
    const input = this.parseInput({ response }, [factor]);
    const result = await this.plugin.enroll!.finish(this.ctx, { userId: factor.userId, factor, input, state });
    if (!result.ok) return { result, activated: false as const };
    if (result.lookupKey !== undefined && this.lookupKeys.has(result.lookupKey)) return { result, activated: false as const };
    if (result.lookupKey !== undefined) this.lookupKeys.set(result.lookupKey, factor.userId);
    const index = this.factors.indexOf(factor);
    const active = factorRecord({
      id: factor.id, userId: factor.userId, status: 'active', data: result.data ?? factor.data, counter: result.counter, lookupKey: result.lookupKey ?? null, now: this.ctx.now(),
    });
    this.factors[index] = active;
    return { result, activated: true as const, factor: active };
  }

  /** POST /challenge/webauthn: request options for the user's active keys (or the one picked). */
  async challenge(userId: string, purpose: 'login' | 'step_up' = 'login', factorId?: string) {
    const c = await this.plugin.challenge!(this.ctx, { userId, factors: this.factorsOf(userId), purpose, previous: null, ...(factorId === undefined ? {} : { factorId }) });
    return { ...c, options: c.show.options as PublicKeyCredentialRequestOptionsJSON, state: keptState(this.ctx.now(), c.state, c.factorId) };
  }

  /** POST /verify: verify, then advance the counter only if greater (the flow's atomic step). */
  async verify(userId: string, response: unknown, state: PluginState | null, purpose: VerifyPurpose = 'login'): Promise<PluginVerifyResult> {
    const input = this.parseInput({ response }, this.factorsOf(userId));
    const result = await this.plugin.verify(this.ctx, { userId, factors: this.factorsOf(userId), input, state, purpose });
    if (result.ok && result.factorId !== null && result.counter !== undefined) {
      const index = this.factors.findIndex((f) => f.id === result.factorId);
      const f = this.factors[index]!;
      if (f.counter === null || f.counter < result.counter) this.factors[index] = { ...f, counter: result.counter };
    }
    return result;
  }
}
