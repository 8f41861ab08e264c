// Jest 30 + @swc/jest: tests run against TypeScript sources; `tsc -b` type-checks separately.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // ESM-only dependencies are compiled to CJS for Jest (openid-client and oauth4webapi: the OIDC example's
  // test client; oidc-provider is ESM-only too but runs in its own Node process, see examples/oidc-api/test).
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/)?(jose|openid-client|oauth4webapi|@scure[+/]base|@noble[+/]hashes|@otplib[+/][a-z-]+|otplib)[@/])'],
  moduleNameMapper: {
    '^@secondfactor/([a-z]+)$': '<rootDir>/packages/$1/src',
    '^@secondfactor/([a-z]+)/(.+)$': '<rootDir>/packages/$1/src/$2',
  },
  testTimeout: 30000,
};
