// examples/custom-storage/src/index.ts
// A worked custom storage adapter: the whole MfaStore over a raw node-postgres Pool.
export { pgStore } from './pg-store';
export type { PgMfaStore, PgStoreOptions } from './pg-store';
export { createSchema, dropSchema, schemaStatements } from './schema';
export { DEFAULT_SCHEMA } from './tables';
