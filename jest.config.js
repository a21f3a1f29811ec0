/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is done once by `tsc --noEmit` in `npm test`; per-file transpilation keeps jest fast.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    '/node_modules/(uuid|hyparquet)/.+\\.js$': '<rootDir>/test/esm-to-cjs-transform.js',
  },
  // node_modules stay untransformed, except the ES-module-only uuid and hyparquet (see test/esm-to-cjs-transform.js).
  transformIgnorePatterns: ['/node_modules/(?!((thrift/node_modules/)?uuid|hyparquet)/)'],
  testTimeout: 120000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/setup.ts'],
};
