export * from './store';
export * from './errors';
export { memoryStore } from './memory-store';
export { composeStores } from './compose-stores';
export * from './senders';
