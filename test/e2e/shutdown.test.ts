import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { workflowIdOf } from '../../src/domain/workflow.ts';
import { apiClient } from '../helpers/api.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { ffmpegsIn } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { sleep, temporalAddress, waitFor } from '../helpers/services.ts';

/** SIGTERM: requests in flight finish, consuming stops, encodes drain or are handed back, exit 0. */
const dir = scratchDir('gilfoyle-e2e-shutdown');
const ladder = JSON.stringify([{ name: '480p', height: 480, video_bitrate: 900 }]);
let source: string;
let long: string;

beforeAll(async () => {
  source = path.join(dir(), 'source.mp4');
  await makeVideo(source, { seconds: 20, width: 854, height: 480 });
  long = path.join(dir(), 'long.mp4');
  await makeVideo(long, { seconds: 40, width: 854, height: 480 });
});

it('gilfoyle all finishes an upload in flight, then exits 0', async () => {
  // Little to encode: should the upload's encode start before the worker stops, its drain is short.
  const g = await startGilfoyle({
    GILFOYLE_SHUTDOWN_GRACE_SECONDS: '10',
    GILFOYLE_ENCODING_RENDITIONS: ladder,
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
  });
  const client = apiClient(g.url);
  const media = (await client.createMedia('in flight')).body.data;
  const bytes = await readFile(source);
  // A multipart body that arrives in two parts, SIGTERM between them.
  const boundary = 'shutdownBOUNDARY';
  let push: (b: Uint8Array) => void = () => undefined;
  let end: () => void = () => undefined;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => ((push = (b) => c.enqueue(b)), (end = () => c.close())),
  });
  const upload = fetch(`${g.url}/medias/${media.id}/upload/video`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    duplex: 'half',
  } as RequestInit);
  push(
    Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="s.mp4"\r\n\r\n`),
      bytes.subarray(0, 1000),
    ]),
  );
  await sleep(300);
  const started = Date.now();
  process.kill(g.pid, 'SIGTERM');
  await sleep(300);
  push(Buffer.concat([bytes.subarray(1000), Buffer.from(`\r\n--${boundary}--\r\n`)]));
  end();
  const res = await upload;
  expect(res.status).toBe(200);
  expect((await res.json()).data.status).toBe('ScheduledProcessing');
  expect(await g.exit).toBe(0);
  expect(Date.now() - started).toBeLessThan(10_000);
  // New connections are refused once it is gone.
  await expect(fetch(`${g.url}/healthz`)).rejects.toThrow();
  await g.stop();
});

it('an API on SIGTERM fails /readyz at once, answers meanwhile (closing each connection), then stops accepting', async () => {
  const g = await startGilfoyle({ GILFOYLE_SHUTDOWN_UNREADY_SECONDS: '3' }, { role: 'api' });
  const ready = await fetch(`${g.url}/readyz`);
  expect([ready.status, (await ready.json()).data]).toEqual([200, { status: 'ready' }]);
  const signalled = Date.now();
  process.kill(g.pid, 'SIGTERM');
  const unready = await waitFor(
    '/readyz to answer 503',
    async () => {
      const r = await fetch(`${g.url}/readyz`);
      return r.status === 503 ? r : undefined;
    },
    2000,
    20,
  );
  const unreadyAfter = Date.now() - signalled;
  expect((await unready.json()).data).toEqual({ status: 'draining' });
  // Still serving new connections, each answer closing its connection (clients reconnect elsewhere).
  const served = await fetch(`${g.url}/medias`);
  expect(served.status).toBe(200);
  expect(served.headers.get('connection')).toBe('close');
  expect(Date.now() - signalled).toBeLessThan(3000);
  expect(await g.exit).toBe(0);
  const stoppedAfter = Date.now() - signalled;
  process.stdout.write(
    `readiness: unready ${unreadyAfter} ms after SIGTERM, stopped accepting after ${stoppedAfter} ms\n`,
  );
  expect(unreadyAfter).toBeLessThan(1000);
  expect(stoppedAfter).toBeGreaterThanOrEqual(3000);
  await expect(fetch(`${g.url}/readyz`)).rejects.toThrow();
  await g.stop();
});

describe('a worker stopped mid-encode', () => {
  let api: RunningGilfoyle;
  let bridge: RunningGilfoyle;
  afterAll(async () => {
    await bridge?.stop();
    await api?.stop();
  });

  it('stops polling at once, hands the encode back when the drain outlasts the grace period, exits 0, and another worker finishes it', async () => {
    api = await startGilfoyle({ GILFOYLE_ENCODING_RENDITIONS: ladder }, { role: 'api' });
    const shared = joining(api, {
      GILFOYLE_ENCODING_RENDITIONS: ladder,
      // About 8 s of encoding here (x264 slow, 1000 frames), against a 2 s grace period.
      GILFOYLE_ENCODING_PRESET: 'slow',
      GILFOYLE_SHUTDOWN_GRACE_SECONDS: '2',
    });
    bridge = await startGilfoyle(shared, { role: 'bridge' });
    const first = await startGilfoyle(shared, { role: 'worker' });
    const client = apiClient(api.url);
    const media = await client.uploadNew('drained', 'video', long);
    // The 480p encode itself: the audio's ffmpeg starts at the same moment, and is done in a second.
    await waitFor(
      'the 480p encode to run',
      async () => ((await ffmpegsIn(api.tempDir, '480p')).length > 0 ? true : undefined),
      60_000,
      50,
    );
    const health = async () => (await fetch(`${first.url}/healthz`)).status;
    expect(await health()).toBe(200);
    const started = Date.now();
    process.kill(first.pid, 'SIGTERM');
    // Work that arrives while it drains is not its own: it stopped polling at once.
    const arrived = await client.uploadNew('arrived while a worker drained', 'video', source);
    // While it drains, its probe says so (an orchestrator stops sending it anything).
    await waitFor(
      'the draining worker’s /healthz to answer 503',
      async () => ((await health()) === 503 ? true : undefined),
      2_000,
      20,
    );
    expect(await first.exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(first.logs()).not.toMatch(/"level":(50|60)/); // no error or fatal line on the way out

    const second = await startGilfoyle(shared, { role: 'worker' });
    try {
      const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 120_000);
      expect(ready.status).toBe('Ready');
      const renditions = await client.renditions(media.id);
      expect(renditions.find((r) => r.name === '480p')?.attempts).toBeGreaterThanOrEqual(2);
      expect((await client.waitForStatus(arrived.id, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
      // Whoever ran the new media's workflow tasks and activities (Temporal records each
      // poller's identity, pid@host), it was not the draining worker.
      const connection = await Connection.connect({ address: temporalAddress });
      try {
        const history = await new Client({ connection }).workflow.getHandle(workflowIdOf(arrived.id)).fetchHistory();
        const identities = new Set<string>();
        for (const e of history.events ?? []) {
          const identity = (e.workflowTaskStartedEventAttributes ?? e.activityTaskStartedEventAttributes)?.identity;
          if (identity) identities.add(identity);
        }
        expect(identities.size).toBeGreaterThan(0);
        expect([...identities].filter((i) => i.startsWith(`${first.pid}@`))).toEqual([]);
        expect([...identities].some((i) => i.startsWith(`${second.pid}@`))).toBe(true);
      } finally {
        await connection.close();
      }
    } finally {
      await second.stop();
    }
  }, 240_000);
});
