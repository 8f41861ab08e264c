import { memoryStore } from '@secondfactor/core';
import { runStoreConformance } from '@secondfactor/core/testing';

runStoreConformance('memory', () => ({ store: memoryStore(), cleanup: async () => {} }));
