import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chunkedRenditionWorkflowIdOf } from '../../src/domain/workflow.ts';
import { apiClient } from '../helpers/api.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { makeMachines, reachedFrom, type Machine } from '../helpers/netns.ts';
import { checkDecodeContinuity, checkLadder } from '../helpers/output-checks.ts';
import { ffmpegsIn } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { rabbitUrl, temporalAddress, waitFor } from '../helpers/services.ts';

/**
 * Workers on machines of their own (network namespaces, each reaching the services over a link
 * of its own, a temp folder of its own, S3 storage on MinIO, no shared folder): one media's
 * chunks run on more than one of them, and killing one mid-encode costs one chunk, retried on
 * the other. A worker needs nothing but the config.
 */
const dir = scratchDir('gilfoyle-e2e-machines');
let bucket: string;
let api: RunningGilfoyle;
let bridge: RunningGilfoyle;
let machines: Awaited<ReturnType<typeof makeMachines>>;
const workers: RunningGilfoyle[] = [];
const identities: string[] = [];

const settings = {
  GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
    { name: '360p', height: 360, video_bitrate: 700 },
    { name: '240p', height: 240, video_bitrate: 300 },
  ]),
  GILFOYLE_ENCODING_PRESET: 'medium',
  GILFOYLE_ENCODING_CHUNK_SECONDS: '4',
  GILFOYLE_ENCODING_CHUNK_THRESHOLD_SECONDS: '10',
  GILFOYLE_ENCODING_HEARTBEAT_TIMEOUT_SECONDS: '4',
  GILFOYLE_ENCODING_CONCURRENCY: '1',
};

/** A worker on machine `m`: the deployment's config, every address as that machine reaches it. */
async function workerOn(m: Machine) {
  const shared = joining(api, { ...minioEnv(bucket), ...settings });
  const { GILFOYLE_ENCODING_TEMP_DIR: _sharedTemp, GILFOYLE_STORAGE_FS_ROOT: _sharedRoot, ...config } = shared;
  const w = await startGilfoyle(
    {
      ...config,
      GILFOYLE_DATABASE_URL: reachedFrom(m, api.databaseUrl),
      GILFOYLE_RABBITMQ_URL: reachedFrom(m, rabbitUrl),
      GILFOYLE_TEMPORAL_ADDRESS: reachedFrom(m, temporalAddress),
      GILFOYLE_STORAGE_S3_ENDPOINT: reachedFrom(m, minioEnv(bucket).GILFOYLE_STORAGE_S3_ENDPOINT!),
      // Its metrics, where the host can reach them (the probe that it is up).
      GILFOYLE_METRICS_HOST: '0.0.0.0',
    },
    { role: 'worker', prefix: m.prefix, host: m.address },
  );
  workers.push(w);
  return w;
}

beforeAll(async () => {
  bucket = await createTestBucket('gilfoyle-machines');
  const env = { ...minioEnv(bucket), ...settings };
  api = await startGilfoyle(env, { role: 'api' });
  bridge = await startGilfoyle(joining(api, env), { role: 'bridge' });
  machines = await makeMachines(2);
  for (const m of machines.machines) {
    const w = await workerOn(m);
    identities.push(`${w.pid}@`);
  }
}, 180_000);

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await bridge?.stop();
  await api?.stop();
  await machines?.close();
  if (bucket) await removeTestBucket(bucket);
});

it('spreads one media’s chunks over workers on two machines, and a worker killed mid-chunk costs that chunk', async () => {
  const source = path.join(dir(), 'source.mp4');
  await makeVideo(source, { seconds: 24, width: 640, height: 360, fps: 30 });
  const client = apiClient(api.url);
  const media = await client.uploadNew('on two machines', 'video', source);
  const chunkEvents = async () => (await client.events(media.id)).filter((e) => e.type === 'rendition.chunk_ready');
  const [first] = workers;

  // Once the first worker has stored a chunk, it is killed while it encodes another.
  await waitFor(
    'a chunk stored by the first worker',
    async () =>
      (await chunkEvents()).some((e) => String(e.data.worker).startsWith(identities[0]!)) ? true : undefined,
    120_000,
    100,
  );
  const killed = await waitFor(
    'the first worker encoding a chunk',
    async () => {
      const running = await ffmpegsIn(first!.tempDir, '*');
      if (running.length === 0) return undefined;
      process.kill(first!.pid, 'SIGKILL');
      return running;
    },
    120_000,
    20,
  );
  expect(killed.length).toBeGreaterThan(0);

  const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 240_000);
  expect(ready.status).toBe('Ready');
  const events = await chunkEvents();
  // Both machines encoded chunks of it; each chunk is stored once.
  const byWorker = new Set(events.map((e) => String(e.data.worker).split('@')[0]));
  expect(byWorker.size).toBe(2);
  const keys = events.map((e) => `${e.data.rendition} ${e.data.chunk}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys).toHaveLength(12);
  // The chunk that was running when its worker died took a second attempt, on the other worker;
  // the rendition's events and its workflow's history both show it.
  const retried = events.filter((e) => Number(e.data.attempt) > 1);
  expect(retried.length).toBeGreaterThanOrEqual(1);
  for (const e of retried) expect(String(e.data.worker)).not.toMatch(new RegExp(`^${identities[0]}`));
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const temporal = new Client({ connection });
    const e = retried[0]!;
    const history = await temporal.workflow
      .getHandle(chunkedRenditionWorkflowIdOf(media.id, String(e.data.rendition)))
      .fetchHistory();
    const attempts = (history.events ?? []).flatMap((ev) =>
      ev.activityTaskStartedEventAttributes ? [ev.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  } finally {
    await connection.close();
  }

  // What was stored plays as one stream: the files, fetched from the object store, checked by ffprobe.
  const local = path.join(dir(), 'stream');
  await mkdir(local, { recursive: true });
  for (const key of await api.storage.list(`medias/${media.id}/stream/`)) {
    await api.storage.getToFile(key, path.join(local, path.basename(key)));
  }
  const ladder = await checkLadder(local);
  for (const v of ladder.variants) await checkDecodeContinuity(local, v.uri, 30);
}, 360_000);
