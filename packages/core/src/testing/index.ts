// packages/core/src/testing/index.ts
// `@secondfactor/core/testing`: the storage conformance kit, for our adapters and yours.
export { runStoreConformance } from './conformance';
export type { ConformanceHarness, ConformanceOptions, ConformanceStore } from './conformance';
