// stryker.config.mjs
// Mutation testing of @secondfactor/core (issue #14, "Tests that can fail"): Stryker mutates
// core's sources and runs core's own unit suite (packages/core/test) against each mutant.
// Run with `pnpm mutation` (slow; not part of `pnpm test` or .ci/run). Results: reports/mutation/.
// Narrow a run with `pnpm mutation --mutate packages/core/src/factors/totp/totp.ts`.
import { fileURLToPath } from 'node:url';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'pnpm',
  testRunner: 'jest',
  // pnpm's strict layout hides the runner from core's own plugin lookup: load it by path.
  plugins: [fileURLToPath(import.meta.resolve('@stryker-mutator/jest-runner'))],
  // No type checker: @stryker-mutator/typescript-checker needs the TypeScript JS API, which
  // TypeScript 7 (native) does not ship. Mutants that would not compile run and are killed or
  // survive like any other; none of the mutators used here produce type-only changes.
  checkers: [],
  jest: {
    projectType: 'custom',
    // The project's Jest config, narrowed to core's own unit suite: the question is whether
    // *core's* tests notice a wrong core. The root is packages/core, not packages/core/test:
    // `--findRelatedTests` only follows imports through files under the roots, so with the test
    // folder alone no test is related to any source and the dry run finds no tests. The only
    // tests under packages/core are packages/core/test's.
    configFile: 'jest.config.js',
    config: {
      roots: ['<rootDir>/packages/core'],
      testTimeout: 60000,
    },
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  // The security-critical files (issue #14): TOTP, backup codes, the challenges (login and
  // verification flows: state, attempts per challenge, atomic spend), attempts, assertions,
  // secret box and crypto. One file: `pnpm mutation --mutate packages/core/src/flows/login.ts`;
  // all of core: `pnpm mutation --mutate 'packages/core/src/**/*.ts'`.
  mutate: [
    'packages/core/src/factors/totp/totp.ts',
    'packages/core/src/factors/totp/plugin.ts',
    'packages/core/src/factors/backup-codes/backup-codes.ts',
    'packages/core/src/factors/backup-codes/plugin.ts',
    'packages/core/src/flows/login.ts',
    'packages/core/src/flows/verification.ts',
    'packages/core/src/attempts.ts',
    'packages/core/src/assertions.ts',
    'packages/core/src/secret-box.ts',
    'packages/core/src/crypto.ts',
  ],
  // The sandbox needs core and the root config only.
  // tsconfig.json is left out too: Stryker would rewrite it through the TypeScript JS API, which
  // TypeScript 7 does not have (Jest compiles with swc and does not read it).
  ignorePatterns: ['/.stryker-tmp*', '/examples', '/docs', '/reports', 'dist', '/tsconfig.json', '/packages/express', '/packages/knex', '/packages/redis', '/packages/smtp', '/packages/twilio', '/packages/webauthn'],
  concurrency: 2,
  timeoutMS: 30000,
  timeoutFactor: 3,
  reporters: ['clear-text', 'progress-append-only', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
