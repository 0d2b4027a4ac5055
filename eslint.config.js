import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'crypto',
  'child_process',
  'net',
  'http',
  'https',
  'stream',
  'worker_threads',
  'url',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.tools/**', 'dist/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, only pure modules.
    // control.ts is the API's client of the workflows, outside the sandbox (no workflow imports it).
    files: ['src/workflows/**/*.ts'],
    ignores: ['src/workflows/control.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins
            .flatMap((m) => [m, `node:${m}`])
            .concat(['execa', 'pg', 'amqplib', '@temporalio/activity', '@temporalio/client', '@temporalio/worker']),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'no I/O in workflows' },
            {
              group: ['**/db/**', '**/storage/**', '**/api/**', '**/messaging/**', '**/media/runner*'],
              message: 'no I/O in workflows',
            },
            {
              group: ['**/activities/**'],
              message: 'workflows may only `import type` activities',
              allowTypeImports: true,
            },
            {
              group: ['./control*', '**/workflows/control*'],
              message: 'control.ts is the API side: it imports the Temporal client',
            },
          ],
        },
      ],
    },
  },
  {
    // Config is read once at the entry point and passed down.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'only src/cli reads the environment' },
      ],
    },
  },
);
