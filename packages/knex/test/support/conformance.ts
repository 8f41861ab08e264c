// packages/knex/test/support/conformance.ts
// Registers the core storage conformance kit for one backend: migrate a fresh database, hand the
// store to the kit, roll everything back afterwards.
import { runStoreConformance } from '@secondfactor/core/testing';
import { knexStore, migrate, rollback } from '@secondfactor/knex';
import { describeBackend, openDatabase, type Backend } from './databases';

export function knexConformance(backend: Backend): void {
  describeBackend(backend)(`knex store on ${backend}`, () => {
    runStoreConformance(`knex/${backend}`, async () => {
      const database = await openDatabase(backend);
      const { db, tablePrefix } = database;
      await migrate(db, { tablePrefix });
      return {
        store: knexStore(db, { tablePrefix }),
        cleanup: async () => {
          try {
            await rollback(db, { tablePrefix });
          } finally {
            await database.drop();
          }
        },
      };
    });
  });
}
