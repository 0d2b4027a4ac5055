import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { closedRunsOf, ffmpegsIn } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { controlService, sleep, temporalAddress, waitFor } from '../helpers/services.ts';

/**
 * The services Gilfoyle depends on go down and come back: nothing is lost, nothing stays
 * stale, and the API says what is wrong meanwhile. Each test restores the service it stops.
 */
const dir = scratchDir('gilfoyle-e2e-outage');
let g: RunningGilfoyle;
let client: ReturnType<typeof apiClient>;
let small: string;
let long: string;

beforeAll(async () => {
  small = path.join(dir(), 'small.mp4');
  long = path.join(dir(), 'long.mp4');
  await Promise.all([
    makeVideo(small, { seconds: 1, width: 320, height: 240 }),
    makeVideo(long, { seconds: 60, width: 1280, height: 720 }),
  ]);
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
  });
  client = apiClient(g.url);
}, 120_000);

afterAll(async () => {
  // Whatever happened, leave every service running for the next tests.
  for (const s of ['postgres', 'rabbitmq', 'temporal'] as const)
    await controlService('start', s).catch(() => undefined);
  await g?.stop();
});

const health = async () => {
  const res = await fetch(`${g.url}/healthz`);
  return {
    status: res.status,
    deps: ((await res.json()) as { data: { dependencies: Record<string, string> } }).data.dependencies,
  };
};

/** Creates and uploads `n` medias, a few at a time; every upload must succeed. */
async function uploadMany(n: number, file: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 5) {
    await Promise.all(
      Array.from({ length: Math.min(5, n - i) }, async (_, j) => {
        const media = await client.uploadNew(`outage ${i + j}`, 'video', file);
        ids.push(media.id);
      }),
    );
  }
  return ids;
}

/** Waits until the long source's encode runs: the outage then lands in the middle of it (a few seconds). */
const encoding = () =>
  waitFor(
    'the 240p encode to run',
    async () => ((await ffmpegsIn(g.tempDir, '240p')).length > 0 ? true : undefined),
    60_000,
    50,
  );

const allReady = (ids: string[], timeoutMs: number) =>
  Promise.all(
    ids.map(async (id) =>
      expect((await client.waitForStatus(id, ['Ready', 'Errored'], timeoutMs)).status).toBe('Ready'),
    ),
  );

it('RabbitMQ down: 20 uploads succeed (the outbox holds them), /healthz says so, all 20 are Ready once it is back', async () => {
  await controlService('stop', 'rabbitmq');
  try {
    await waitFor(
      'healthz to report RabbitMQ down',
      async () => {
        const h = await health();
        return h.status === 503 && h.deps.rabbitmq === 'down' ? true : undefined;
      },
      30_000,
    );
    const ids = await uploadMany(20, small);
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(Number(/^gilfoyle_outbox_backlog (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(20);
    await controlService('start', 'rabbitmq');
    await allReady(ids, 240_000);
    expect((await health()).status).toBe(200);
  } finally {
    await controlService('start', 'rabbitmq');
  }
}, 400_000);

it('Temporal down: a running media continues after the restart, uploads meanwhile wait in the queue, one run each', async () => {
  const running = await client.uploadNew('running through', 'video', long);
  await encoding();
  await controlService('stop', 'temporal');
  let waiting: string[] = [];
  try {
    await waitFor(
      'healthz to report Temporal down',
      async () => ((await health()).deps.temporal === 'down' ? true : undefined),
      30_000,
    );
    waiting = await uploadMany(3, small);
    await sleep(3000);
    for (const id of waiting) expect((await client.getMedia(id)).body.data.status).toBe('ScheduledProcessing');
  } finally {
    await controlService('start', 'temporal');
  }
  await allReady([running.id, ...waiting], 180_000);
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const temporal = new Client({ connection });
    for (const id of [running.id, ...waiting]) {
      expect((await closedRunsOf(temporal, id)).map((r) => r.status)).toEqual(['COMPLETED']);
    }
  } finally {
    await connection.close();
  }
}, 400_000);

it('Postgres down: the API answers 503 with a clear message, the pipeline resumes, nothing stays stale', async () => {
  const media = await client.uploadNew('through a database outage', 'video', long);
  await encoding();
  await controlService('stop', 'postgres');
  try {
    const res = await fetch(`${g.url}/medias/${media.id}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({ code: 503, message: 'the database is unavailable: try again shortly' });
    const list = await fetch(`${g.url}/medias`);
    expect(list.status).toBe(503);
    const h = await health();
    expect(h.status).toBe(503);
    expect(h.deps.database).toBe('down');
    await sleep(4000);
  } finally {
    await controlService('start', 'postgres');
  }
  const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 180_000);
  expect(ready).toMatchObject({ status: 'Ready', progress: 100, playable: true });
  const renditions = await client.renditions(media.id);
  // The encode running through the outage waited for the database to record its result: the
  // outage cost it no attempt (database.outage_patience_seconds).
  for (const r of renditions) expect(r).toMatchObject({ status: 'Ready', progress: 100, attempts: 1 });
  expect(g.logs()).toContain('database unavailable: waiting for it');
  expect((await client.events(media.id)).at(-1)?.type).toBe('media.ready');
  expect(g.logs()).not.toMatch(/"level":60/); // no fatal line: the process rode it out
  expect((await health()).status).toBe(200);
}, 400_000);
