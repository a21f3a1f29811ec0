/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is done once by `tsc --noEmit` in `npm test`; per-file transpilation keeps jest fast.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
    '/node_modules/hyparquet(-writer)?/.+\\.js$': '<rootDir>/test/esm-to-cjs-transform.js',
  },
  // node_modules stay untransformed, except the ES-module-only hyparquet and hyparquet-writer (see test/esm-to-cjs-transform.js).
  transformIgnorePatterns: ['/node_modules/(?!hyparquet(-writer)?/)'],
  testTimeout: 120000,
  maxWorkers: 2,
  setupFiles: ['<rootDir>/test/setup.ts'],
};
