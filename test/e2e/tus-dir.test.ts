import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createDeploymentDatabase } from '../helpers/database.ts';
import { freePort, rabbitUrl, repoRoot, temporalAddress } from '../helpers/services.ts';

/**
 * A tus folder that cannot be made (here: below a regular file; in a container, below a folder the
 * user cannot write) stops the API at startup with exit code 1 and a message naming the folder and
 * its setting, instead of an uncaught exception thrown from inside @tus/file-store.
 */
it('an unusable tus.dir stops the API with exit code 1 and a message naming the folder and the key', async () => {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-tus-dir-'));
  const file = path.join(scratch, 'not-a-folder');
  await writeFile(file, 'a regular file');
  const tusDir = path.join(file, 'tus');
  const db = await createDeploymentDatabase();
  try {
    const run = await execa('node', ['bin/gilfoyle.js', 'api'], {
      cwd: repoRoot,
      reject: false,
      all: true,
      timeout: 30_000,
      env: {
        GILFOYLE_CONFIG: path.join(repoRoot, 'test/helpers/none.yml'),
        GILFOYLE_SERVER_PORT: String(await freePort()),
        GILFOYLE_DATABASE_URL: db.url,
        GILFOYLE_RABBITMQ_URL: rabbitUrl,
        GILFOYLE_RABBITMQ_QUEUE: `gilfoyle.test.tusdir.${process.pid}.media.uploaded`,
        GILFOYLE_TEMPORAL_ADDRESS: temporalAddress,
        GILFOYLE_STORAGE_FS_ROOT: path.join(scratch, 'storage'),
        GILFOYLE_TUS_DIR: tusDir,
        GILFOYLE_LOG_LEVEL: 'warn',
        GILFOYLE_LOG_FORMAT: 'json',
      },
    });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode).toBe(1);
    const fatal = run.all
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: string })
      .find((l) => l.msg === 'could not start');
    expect(fatal?.err).toContain(`the tus folder ${tusDir} (config tus.dir, env GILFOYLE_TUS_DIR)`);
    expect(fatal?.err).toMatch(/ENOTDIR|EEXIST/);
    // Nothing escaped as an uncaught exception.
    expect(run.all).not.toMatch(/Uncaught|node:internal\/process/);
  } finally {
    await db.drop();
    await rm(scratch, { recursive: true, force: true });
  }
}, 60_000);
