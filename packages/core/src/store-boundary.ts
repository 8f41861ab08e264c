// packages/core/src/store-boundary.ts
// The store boundary: every store call goes through here, and only here does a failure become
// `store_unavailable` (fail closed, cause kept for the logs). An error raised by core itself —
// a bug — is not disguised as an outage, and a host callback's error reaches the host as is.
import { MfaError } from './errors';
import { DURABLE_METHODS, EPHEMERAL_METHODS, type MfaStore } from './store';

export function storeBoundary(store: MfaStore): MfaStore {
  const guarded: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of [...DURABLE_METHODS, ...EPHEMERAL_METHODS]) {
    const method = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!;
    guarded[name] = async (...args) => {
      try {
        return await method.apply(store, args);
      } catch (error) {
        if (error instanceof MfaError) throw error;
        throw new MfaError('store_unavailable', 'The MFA store is unavailable', { cause: error });
      }
    };
  }
  return guarded as unknown as MfaStore;
}
