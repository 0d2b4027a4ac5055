/** Jest in native ESM mode (node --experimental-vm-modules), TypeScript through SWC. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // test/chaos: too long for npm test; npm run test:chaos (scripts/chaos.sh) runs them.
  testPathIgnorePatterns: process.env.GILFOYLE_CHAOS_TESTS === '1' ? [] : ['<rootDir>/test/chaos/'],
  // Installed tools (Node itself among them) and build output are not the project's modules.
  modulePathIgnorePatterns: ['<rootDir>/.tools/', '<rootDir>/.data/', '<rootDir>/dist/'],
  // Removes the RabbitMQ queues of earlier runs (scripts/test.sh has started the services).
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  testTimeout: 120_000,
  // Temporal's worker and the spawned gilfoyle process may hold handles a moment after close.
  forceExit: true,
};
