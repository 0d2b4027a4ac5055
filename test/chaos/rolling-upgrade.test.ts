import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { apiClient, type MediaJson } from '../helpers/api.ts';
import { createDeploymentDatabase } from '../helpers/database.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { repoRoot, sleep, temporalAddress, waitFor } from '../helpers/services.ts';

/**
 * A rolling upgrade under load (npm run test:chaos): the previous release (UPGRADE_FROM, a git
 * worktree of that commit) runs an API, a bridge and two workers on a database it migrated itself,
 * with media of three minutes encoding in chunks. Then, as an operator would: the current
 * release's migrations are applied (they only expand, and the old API keeps working on the
 * migrated schema), and each process is replaced by one of the current code, one at a time (the
 * new one started, then the old one stopped: it drains or hands its encode back). Every media ends
 * Ready, no workflow task fails (no non-determinism), and the work done again is at most the
 * chunks that were running when their worker stopped.
 */
const from = process.env.UPGRADE_FROM ?? '3ba3857';
const dir = scratchDir('gilfoyle-e2e-upgrade');
const oldDir = path.join(repoRoot, '.data/upgrade', from);
const oldEntry = path.join(oldDir, 'bin/gilfoyle.js');
const running = new Set<RunningGilfoyle>();
let connection: Connection;
let db: Awaited<ReturnType<typeof createDeploymentDatabase>>;
let storageRoot: string;
let workRoot: string;

beforeAll(async () => {
  if (!existsSync(oldDir)) {
    // A worktree whose folder was removed (a cleaned .data) is forgotten first.
    await execa('git', ['worktree', 'prune'], { cwd: repoRoot });
    await execa('git', ['worktree', 'add', '--detach', oldDir, from], { cwd: repoRoot });
    // The current dependencies serve the old code (a release's dependencies only grow here).
    await symlink(path.join(repoRoot, 'node_modules'), path.join(oldDir, 'node_modules'));
  }
  connection = await Connection.connect({ address: temporalAddress });
  db = await createDeploymentDatabase({ empty: true });
  storageRoot = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-e2e-upgrade-storage-'));
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-e2e-upgrade-work-'));
}, 120_000);

afterAll(async () => {
  for (const g of running) await g.stop();
  await connection?.close();
  await db?.drop();
  for (const dir of [storageRoot, workRoot]) if (dir) await rm(dir, { recursive: true, force: true });
});

it(`upgrades from ${from} to this checkout one process at a time while media encode, each ending Ready`, async () => {
  // The deployment: one database and storage folder, the roles' work folders in one place too
  // (each process of the roll is replaced, none owns them).
  const deployment = {
    GILFOYLE_DATABASE_URL: db.url,
    GILFOYLE_STORAGE_FS_ROOT: storageRoot,
    GILFOYLE_ENCODING_TEMP_DIR: workRoot,
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '240p', height: 240, video_bitrate: 300 },
      { name: '144p', height: 144, video_bitrate: 150 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_ENCODING_CHUNK_SECONDS: '8',
    GILFOYLE_ENCODING_CONCURRENCY: '2',
    // A worker replaced mid-chunk waits this long (75% of it) for the chunk, then hands it back.
    GILFOYLE_SHUTDOWN_GRACE_SECONDS: '4',
  };
  let shared: Record<string, string> = deployment;
  const start = async (role: 'api' | 'bridge' | 'worker', release: 'old' | 'new') => {
    const g = await startGilfoyle(shared, { role, entry: release === 'old' ? oldEntry : 'bin/gilfoyle.js' });
    running.add(g);
    return g;
  };
  const stop = async (g: RunningGilfoyle) => {
    await g.stop();
    running.delete(g);
  };

  // The previous release, migrating its own database; the other roles join its API's queues.
  let api = await start('api', 'old');
  shared = joining(api, deployment);
  let bridge = await start('bridge', 'old');
  const workers = [await start('worker', 'old'), await start('worker', 'old')];
  let client = apiClient(api.url);
  const sources = await Promise.all(
    [0, 1, 2].map(async (n) => {
      const f = path.join(dir(), `long-${n}.mp4`);
      await makeVideo(f, { seconds: 180, width: 426, height: 240 });
      return f;
    }),
  );
  const medias: MediaJson[] = [];
  for (const [n, f] of sources.entries()) medias.push(await client.uploadNew(`before the upgrade ${n}`, 'video', f));
  await waitFor(
    'the media to be encoding',
    async () => ((await client.getMedia(medias[0]!.id)).body.data.status === 'Processing' ? true : undefined),
    60_000,
  );

  // 1. The current release's migrations, applied while the old release runs: its API still works.
  const migrated = await execa('node', ['bin/gilfoyle.js', 'migrate'], {
    cwd: repoRoot,
    env: { GILFOYLE_CONFIG: path.join(repoRoot, 'test/helpers/none.yml'), GILFOYLE_DATABASE_URL: db.url },
  });
  expect(migrated.exitCode).toBe(0);
  const during = path.join(dir(), 'during.mp4');
  await makeVideo(during, { seconds: 4 });
  medias.push(await client.uploadNew('uploaded through the old API on the migrated schema', 'video', during));
  expect((await client.listMedias({ limit: 10 })).body.data.length).toBe(4);
  for (const m of medias) expect((await client.getMedia(m.id)).status).toBe(200);

  // 2. One process at a time: the new one started, then the old one stopped.
  // Each step notes how many of the long media were still encoding when it was done.
  const steps: string[] = [];
  const step = async (what: string) => {
    let encoding = 0;
    for (const m of medias.slice(0, 3)) if ((await client.getMedia(m.id)).body.data.status !== 'Ready') encoding++;
    steps.push(`${what} (${encoding} encoding)`);
  };
  for (const [n, old] of workers.entries()) {
    await sleep(3000);
    workers[n] = await start('worker', 'new');
    await stop(old);
    await step(`worker ${n + 1}`);
  }
  await sleep(2000);
  const newBridge = await start('bridge', 'new');
  await stop(bridge);
  bridge = newBridge;
  await step('bridge');
  const newApi = await start('api', 'new');
  await stop(api);
  api = newApi;
  client = apiClient(api.url);
  await step('api');
  // The roll was done while the long media encoded: the last old worker went with work in flight.
  expect(steps[1]).not.toMatch(/\(0 encoding\)/);
  // The new release takes uploads too.
  medias.push(await client.uploadNew('uploaded after the upgrade', 'video', during));

  // What Temporal saw: workflow tasks that failed (a non-determinism error does, and its run then
  // stalls: retried for ever), and the activities attempted more than once.
  const temporal = new Client({ connection });
  const whatTemporalSaw = async () => {
    const seen = { workflowTaskFailures: [] as string[], activities: 0, repeated: 0, repeatedWhat: [] as string[] };
    for await (const w of temporal.workflow.list({ query: `TaskQueue = "${api.taskQueue}"` })) {
      const history = await temporal.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      const scheduled = new Map<string, string>();
      for (const e of history.events ?? []) {
        const failed = e.workflowTaskFailedEventAttributes;
        if (failed) seen.workflowTaskFailures.push(`${w.workflowId}: ${failed.failure?.message ?? failed.cause}`);
        const s = e.activityTaskScheduledEventAttributes;
        if (s) {
          seen.activities++;
          scheduled.set(String(e.eventId), `${w.workflowId.slice(-12)} ${s.activityType?.name}`);
        }
        const started = e.activityTaskStartedEventAttributes;
        if (started && (started.attempt ?? 1) > 1) {
          seen.repeated += (started.attempt ?? 1) - 1;
          seen.repeatedWhat.push(scheduled.get(String(started.scheduledEventId)) ?? '?');
        }
      }
    }
    return seen;
  };

  // 3. Every media ends Ready; a run that stalls on a failing workflow task fails the test at once.
  const stalled = await waitFor(
    'every media to end',
    async () => {
      const { workflowTaskFailures } = await whatTemporalSaw();
      if (workflowTaskFailures.length) return `a workflow task failed: ${workflowTaskFailures[0]}`;
      for (const m of medias)
        if (!['Ready', 'Errored'].includes((await client.getMedia(m.id)).body.data.status)) return undefined;
      return 'no';
    },
    300_000,
    2000,
  );
  expect(stalled).toBe('no');
  const ended: MediaJson[] = [];
  for (const m of medias) ended.push((await client.getMedia(m.id)).body.data);
  expect(ended.map((m) => `${m.title}: ${m.status}${m.error ? ` (${m.error})` : ''}`)).toEqual(
    medias.map((m) => `${m.title}: Ready`),
  );

  // 4. No workflow task failed, and the work done again is at most the chunks or renditions
  // that were running when their worker went away.
  const { workflowTaskFailures, activities, repeated, repeatedWhat } = await whatTemporalSaw();
  process.stdout.write(
    `upgrade ${from} → ${(await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot })).stdout}: ` +
      `${medias.length} media (3 of 180 s through the roll), ${ended.filter((m) => m.status === 'Ready').length} Ready; ` +
      `${activities} activities, ${repeated} done again (${repeatedWhat.join(', ') || 'none'}); ` +
      `${workflowTaskFailures.length} workflow task failures; replaced in turn: ${steps.join(', ')}\n`,
  );
  expect(workflowTaskFailures).toEqual([]);
  // Each of the two workers replaced ran at most ENCODING_CONCURRENCY encodes when it stopped.
  expect(repeated).toBeLessThanOrEqual(2 * 2);
}, 600_000);
