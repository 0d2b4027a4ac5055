import { execa } from 'execa';
import { parse } from 'yaml';
import path from 'node:path';
import { repoRoot } from '../helpers/services.ts';

/** `gilfoyle config`, run as an operator runs it: the effective configuration, with no secret in it. */
it('gilfoyle config prints the configuration with every secret masked', async () => {
  const secrets = {
    apiKey: 'backend-key-0123456789abcdef',
    signing: 'signing-secret-0123456789abcdefghij',
    pg: 'pg-password-42',
    rabbit: 'rabbit-password-42',
    s3: 's3-secret-42',
  };
  const run = await execa('node', ['bin/gilfoyle.js', 'config'], {
    cwd: repoRoot,
    timeout: 30_000,
    env: {
      GILFOYLE_CONFIG: path.join(repoRoot, 'test/helpers/none.yml'),
      GILFOYLE_AUTH_API_KEYS: JSON.stringify([{ name: 'backend', key: secrets.apiKey }]),
      GILFOYLE_PLAYBACK_SIGNING_SECRET: secrets.signing,
      GILFOYLE_DATABASE_URL: `postgres://gilfoyle:${secrets.pg}@db.internal:5432/gilfoyle`,
      GILFOYLE_RABBITMQ_URL: `amqp://gilfoyle:${secrets.rabbit}@mq.internal:5672`,
      GILFOYLE_STORAGE_S3_ACCESS_KEY_ID: 'AKIAVISIBLE',
      GILFOYLE_STORAGE_S3_SECRET_ACCESS_KEY: secrets.s3,
    },
  });
  for (const value of Object.values(secrets)) expect(run.stdout).not.toContain(value);
  const shown = parse(run.stdout);
  expect(shown.auth.api_keys).toEqual([{ name: 'backend', key: '(set)' }]);
  expect(shown.playback.signing_secret).toBe('(set)');
  expect(shown.storage.s3).toMatchObject({ access_key_id: 'AKIAVISIBLE', secret_access_key: '(set)' });
  // What is not secret stays as it is, for the operator to check.
  expect(shown.database.url).toBe('postgres://gilfoyle:***@db.internal:5432/gilfoyle');
  expect(shown.rabbitmq.url).toBe('amqp://gilfoyle:***@mq.internal:5672');
  expect(shown.encoding.renditions.length).toBeGreaterThan(0);
}, 60_000);
