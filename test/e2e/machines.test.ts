import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chunkedRenditionWorkflowIdOf } from '../../src/domain/workflow.ts';
import { createS3Driver } from '../../src/storage/s3-driver.ts';
import { apiClient, type EventJson, type MediaJson } from '../helpers/api.ts';
import { createDeploymentDatabase } from '../helpers/database.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { createTestBucket, minio, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { exists, makeMachines, reachedFrom, type Machine } from '../helpers/netns.ts';
import { checkDecodeContinuity, checkLadder } from '../helpers/output-checks.ts';
import { ffmpegsIn } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { rabbitUrl, temporalAddress, waitFor } from '../helpers/services.ts';

/**
 * The "many machines" deployment of the README, on one box: the API, the bridge and three workers,
 * each on a machine of its own (a network namespace, reaching the services over a link of its own
 * and serving on its own address), S3 storage on MinIO, and no folder shared by any two of them
 * (each process has its own temp and tus folders). Six media end Ready, every worker encodes some
 * of them, and a worker's machine taken away mid-chunk (processes killed, link cut) costs that
 * chunk, retried on another. Each role gets only the config the README names for it.
 */
const dir = scratchDir('gilfoyle-e2e-machines');
const id = Math.random().toString(36).slice(2, 8);
let bucket: string;
let deploymentDatabase: Awaited<ReturnType<typeof createDeploymentDatabase>> | undefined;
let machines: Awaited<ReturnType<typeof makeMachines>> | undefined;
let api: RunningGilfoyle;
let bridge: RunningGilfoyle;
const workers: RunningGilfoyle[] = [];
const started: RunningGilfoyle[] = [];

/** Names every role of the deployment shares (gilfoyle.media.uploaded, gilfoyle.events, gilfoyle… in production). */
const names = {
  queue: `gilfoyle.test.${id}.media.uploaded`,
  eventsExchange: `gilfoyle.test.${id}.events`,
  webhooksQueue: `gilfoyle.test.${id}.webhooks`,
  taskQueue: `gilfoyle-test-${id}`,
};

const ladder = JSON.stringify([
  { name: '360p', height: 360, video_bitrate: 700 },
  { name: '240p', height: 240, video_bitrate: 300 },
]);
const chunkSeconds = 4;
const chunkThresholdSeconds = 10;
/** Short, so that the lost worker's chunk is retried soon. */
const heartbeatTimeoutSeconds = 4;

type Role = 'api' | 'bridge' | 'worker';

/**
 * The config of role `role` on machine `m`, and nothing more: every address as that machine
 * reaches it. What a role is not given keeps the default (127.0.0.1, where nothing answers on
 * its machine), so a role that needed more would fail here: the worker never talks to RabbitMQ,
 * the bridge never opens the store. startGilfoyle gives each process temp and tus folders of its own.
 */
function configOf(role: Role, m: Machine): Record<string, string> {
  const database = { GILFOYLE_DATABASE_URL: reachedFrom(m, deploymentDatabase!.url) };
  const temporal = {
    GILFOYLE_TEMPORAL_ADDRESS: reachedFrom(m, temporalAddress),
    GILFOYLE_TEMPORAL_TASK_QUEUE: names.taskQueue,
  };
  const rabbitmq = {
    GILFOYLE_RABBITMQ_URL: reachedFrom(m, rabbitUrl),
    GILFOYLE_RABBITMQ_QUEUE: names.queue,
    GILFOYLE_RABBITMQ_EVENTS_EXCHANGE: names.eventsExchange,
  };
  const storage = { ...minioEnv(bucket), GILFOYLE_STORAGE_S3_ENDPOINT: reachedFrom(m, minio.endpoint) };
  switch (role) {
    case 'api':
      // It listens on its machine's address (127.0.0.1 by default: unreachable from elsewhere).
      return { ...database, ...rabbitmq, ...temporal, ...storage, GILFOYLE_SERVER_HOST: m.address };
    case 'bridge':
      return {
        ...database,
        ...rabbitmq,
        GILFOYLE_RABBITMQ_WEBHOOKS_QUEUE: names.webhooksQueue,
        ...temporal,
        // The workflow's input comes from the bridge's config: the ladder, chunking, timeouts.
        GILFOYLE_ENCODING_RENDITIONS: ladder,
        GILFOYLE_ENCODING_CHUNK_SECONDS: String(chunkSeconds),
        GILFOYLE_ENCODING_CHUNK_THRESHOLD_SECONDS: String(chunkThresholdSeconds),
        GILFOYLE_ENCODING_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatTimeoutSeconds),
        GILFOYLE_METRICS_HOST: m.address,
      };
    case 'worker':
      return {
        ...database,
        ...temporal,
        ...storage,
        // Its encoder: the ladder's codecs are checked at start; the rest is how it runs ffmpeg.
        GILFOYLE_ENCODING_RENDITIONS: ladder,
        GILFOYLE_ENCODING_PRESET: 'medium',
        GILFOYLE_ENCODING_CONCURRENCY: '1',
        GILFOYLE_ENCODING_HEARTBEAT_TIMEOUT_SECONDS: String(heartbeatTimeoutSeconds),
        GILFOYLE_METRICS_HOST: m.address,
      };
  }
}

async function startOn(m: Machine, role: Role) {
  const g = await startGilfoyle(configOf(role, m), { role, prefix: m.prefix, host: m.address });
  started.push(g);
  return g;
}

const sources = [
  { seconds: 24, width: 640, height: 360, fps: 30, heights: [360, 240] },
  { seconds: 20, width: 480, height: 270, fps: 25, heights: [240] },
  { seconds: 16, width: 320, height: 180, fps: 30, heights: [180] },
  { seconds: 12, width: 640, height: 360, fps: 25, heights: [360, 240] },
  { seconds: 8, width: 480, height: 270, fps: 30, heights: [240] },
  { seconds: 8, width: 320, height: 180, fps: 25, heights: [180] },
].map((s, i) => ({ ...s, file: '', title: `machine media ${i} (${s.seconds} s ${s.width}x${s.height})` }));
const chunked = (s: { seconds: number }) => s.seconds > chunkThresholdSeconds;

beforeAll(async () => {
  bucket = await createTestBucket('gilfoyle-machines');
  deploymentDatabase = await createDeploymentDatabase();
  machines = await makeMachines(5);
  const [apiMachine, bridgeMachine, ...workerMachines] = machines.machines;
  api = await startOn(apiMachine!, 'api');
  const [b, ...ws] = await Promise.all([
    startOn(bridgeMachine!, 'bridge'),
    ...workerMachines.map((m) => startOn(m, 'worker')),
  ]);
  bridge = b!;
  workers.push(...ws);
  for (const [i, s] of sources.entries()) {
    s.file = path.join(dir(), `source-${i}.mp4`);
    await makeVideo(s.file, s);
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(started.map((g) => g.stop().catch(() => undefined)));
  await machines?.close();
  await deploymentDatabase?.drop();
  if (bucket) await removeTestBucket(bucket);
});

/** The sum of the samples of a worker's /metrics whose name and labels start with `series`. */
async function counted(w: RunningGilfoyle, series: string): Promise<number> {
  const text = await (await fetch(`${w.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(series))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
/** Successful encodes (whole renditions and chunks) a worker ran. */
const encodesOf = (w: RunningGilfoyle) => counted(w, 'gilfoyle_encode_duration_seconds_count');

const workerOf = (e: EventJson) => Number(String(e.data.worker).split('@')[0]);

it('runs the api, the bridge and three workers on machines of their own, and one worker’s machine lost mid-chunk costs that chunk', async () => {
  const client = apiClient(api.url);
  const medias: MediaJson[] = [];
  for (const s of sources) medias.push(await client.uploadNew(s.title, 'video', s.file));
  const ids = medias.map((m) => m.id);
  /** Every chunk stored so far, of any of the media. */
  const chunkEvents = async () =>
    (
      await Promise.all(
        ids.map(async (mediaId) =>
          (await client.events(mediaId)).filter((e) => e.type === 'rendition.chunk_ready').map((e) => ({ mediaId, e })),
        ),
      )
    ).flat();
  const [doomed, ...survivors] = workers;
  const [doomedMachine] = machines!.machines.slice(2);

  // Once the first worker has stored a chunk, its machine goes while it encodes another one: an
  // encode that starts after this look (so it is surely mid-encode when the machine goes).
  await waitFor(
    'a chunk stored by the first worker',
    async () => ((await chunkEvents()).some(({ e }) => workerOf(e) === doomed!.pid) ? true : undefined),
    120_000,
    200,
  );
  const doomedEncodes = await encodesOf(doomed!);
  const chunkLabel = new RegExp(`-(${ids.join('|')})-([^-/]+)-c(\\d+)-a(\\d+)-`);
  const runningChunks = async () => {
    const found: { pid: string; mediaId: string; rendition: string; chunk: number; attempt: number }[] = [];
    for (const pid of await ffmpegsIn(doomed!.tempDir, '*')) {
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
      const m = chunkLabel.exec(args);
      if (m) found.push({ pid, mediaId: m[1]!, rendition: m[2]!, chunk: Number(m[3]), attempt: Number(m[4]) });
    }
    return found;
  };
  const before = new Set((await runningChunks()).map((r) => r.pid));
  const lost = await waitFor(
    'the first worker starting to encode a chunk',
    async () => {
      const fresh = (await runningChunks()).filter((r) => !before.has(r.pid));
      if (fresh.length === 0) return undefined;
      const killed = await machines!.tearDown(doomedMachine!);
      return { chunk: fresh[0]!, killed };
    },
    120_000,
    20,
  );
  // Its processes are gone (the worker, and the ffmpeg it ran), and so is its machine.
  expect(lost.killed).toEqual(expect.arrayContaining([doomed!.pid, Number(lost.chunk.pid)]));
  expect(await exists(doomedMachine!)).toBe(false);
  await expect(fetch(`${doomed!.url}/metrics`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();

  const ended = await Promise.all(ids.map((mediaId) => client.waitForStatus(mediaId, ['Ready', 'Errored'], 180_000)));
  expect(ended.map((m) => m.status)).toEqual(ids.map(() => 'Ready'));

  // The bridge, on its machine, started each media's workflow once.
  const bridgeMetrics = await (await fetch(`${bridge.url}/metrics`)).text();
  expect(bridgeMetrics).toMatch(
    new RegExp(`^gilfoyle_bridge_messages_total\\{outcome="started"\\} ${ids.length}$`, 'm'),
  );

  // The work was spread: every worker encoded some of it, as its metrics and the chunks' events say.
  const events = await chunkEvents();
  const encodes = [doomedEncodes, ...(await Promise.all(survivors.map(encodesOf)))];
  const chunksBy = workers.map((w) => events.filter(({ e }) => workerOf(e) === w.pid).length);
  const longestBy = workers.map(
    (w) => events.filter(({ mediaId, e }) => mediaId === ids[0] && workerOf(e) === w.pid).length,
  );
  console.log(
    `encodes per worker (metrics): ${encodes.join(', ')}; chunks per worker (events): ${chunksBy.join(', ')}; ` +
      `chunks of the ${sources[0]!.seconds} s media per worker: ${longestBy.join(', ')}`,
  );
  for (const n of encodes) expect(n).toBeGreaterThan(0);
  for (const n of chunksBy) expect(n).toBeGreaterThan(0);
  // And a long media's chunks ran on several machines at once (what makes it faster with more workers).
  expect(longestBy.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);

  // Each chunk of each chunked rendition is stored once; the lost one took another attempt, on a
  // worker that lived, as the rendition's workflow history shows too.
  for (const [i, s] of sources.entries()) {
    const renditions = (await client.renditions(ids[i]!)).filter((r) => r.type === 'video');
    expect(renditions.map((r) => r.height)).toEqual(s.heights);
    for (const r of renditions) {
      if (!chunked(s)) {
        expect(r.chunks).toBeNull();
        continue;
      }
      const total = Math.ceil(s.seconds / chunkSeconds);
      expect(r.chunks).toEqual({ total, done: total });
      const stored = events
        .filter(({ mediaId, e }) => mediaId === ids[i] && e.data.rendition === r.name)
        .map(({ e }) => Number(e.data.chunk))
        .sort((a, b) => a - b);
      expect(stored).toEqual([...Array(total).keys()]);
    }
  }
  const retried = events
    .filter(
      ({ mediaId, e }) =>
        mediaId === lost.chunk.mediaId &&
        e.data.rendition === lost.chunk.rendition &&
        Number(e.data.chunk) === lost.chunk.chunk,
    )
    .map(({ e }) => e);
  expect(retried).toHaveLength(1);
  // It is the one encode that took a second attempt: the lost worker ran one at a time.
  const retries = await Promise.all(
    survivors.map((w) => counted(w, 'gilfoyle_activity_retries_total{activity="encodeChunk"}')),
  );
  expect(retries.reduce((a, b) => a + b, 0)).toBe(1);
  expect(Number(retried[0]!.data.attempt)).toBeGreaterThan(lost.chunk.attempt);
  expect(survivors.map((w) => w.pid)).toContain(workerOf(retried[0]!));
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const temporal = new Client({ connection });
    const history = await temporal.workflow
      .getHandle(chunkedRenditionWorkflowIdOf(lost.chunk.mediaId, lost.chunk.rendition))
      .fetchHistory();
    const attempts = (history.events ?? []).flatMap((ev) =>
      ev.activityTaskStartedEventAttributes ? [ev.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  } finally {
    await connection.close();
  }

  // What was stored plays: every media's files, fetched from the object store, checked by ffprobe.
  const storage = createS3Driver({ ...minio, bucket, forcePathStyle: true });
  for (const [i, s] of sources.entries()) {
    const local = path.join(dir(), `stream-${i}`);
    await mkdir(local, { recursive: true });
    for (const key of await storage.list(`medias/${ids[i]}/stream/`)) {
      await storage.getToFile(key, path.join(local, path.basename(key)));
    }
    const ladder = await checkLadder(local);
    expect(ladder.variants.map((v) => v.height)).toEqual(s.heights);
    for (const v of ladder.variants) {
      expect(v.rendition.duration).toBeCloseTo(s.seconds, 0);
      await checkDecodeContinuity(local, v.uri, s.fps);
    }
  }
}, 300_000);
