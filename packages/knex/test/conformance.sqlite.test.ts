// packages/knex/test/conformance.sqlite.test.ts
// The storage conformance kit against SQLite through better-sqlite3: a file, and `:memory:`.
import { knexConformance } from './support/conformance';

knexConformance('sqlite-file');
knexConformance('sqlite-memory');
