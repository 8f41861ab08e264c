// packages/core/src/compose-stores.ts
// Puts each kind of data where it belongs: durable data in a database, short-lived state in Redis.
import { MfaConfigError } from './errors';
import { DURABLE_METHODS, EPHEMERAL_METHODS, type DurableStore, type EphemeralStore, type MfaStore } from './store';

export interface ComposeStoresOptions {
  durable: DurableStore;
  ephemeral: EphemeralStore;
}

/** Combines a durable store (factors, backup codes, devices) and an ephemeral one (challenges, codes, counters). */
export function composeStores({ durable, ephemeral }: ComposeStoresOptions): MfaStore {
  assertStoreShape(durable, DURABLE_METHODS, 'durable');
  assertStoreShape(ephemeral, EPHEMERAL_METHODS, 'ephemeral');
  const store = {} as Record<string, unknown>;
  type Method = (...args: unknown[]) => Promise<unknown>;
  for (const name of DURABLE_METHODS) store[name] = (durable as unknown as Record<string, Method>)[name]!.bind(durable);
  for (const name of EPHEMERAL_METHODS) store[name] = (ephemeral as unknown as Record<string, Method>)[name]!.bind(ephemeral);
  return store as unknown as MfaStore;
}

export function assertStoreShape(store: unknown, methods: readonly string[], option: string): void {
  if (store === null || typeof store !== 'object') {
    throw new MfaConfigError(option, 'must be a store object implementing the secondfactor storage interface');
  }
  const missing = methods.filter((m) => typeof (store as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw new MfaConfigError(option, `is not a complete store: missing ${missing.join(', ')}`);
  }
}
