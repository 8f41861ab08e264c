// packages/knex/test/conformance.postgres.test.ts
// The storage conformance kit against a real PostgreSQL (its own schema per run).
import { knexConformance } from './support/conformance';

knexConformance('postgres');
