// packages/knex/test/conformance.mariadb.test.ts
// The storage conformance kit against a real MariaDB (its own table prefix per run).
import { knexConformance } from './support/conformance';

knexConformance('mariadb');
