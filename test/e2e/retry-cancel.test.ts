import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { apiClient } from '../helpers/api.ts';
import { startWithoutWorkers, startGilfoyle, storedSourceKey, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { closedRunsOf, ffmpegsIn, runsOf } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { temporalAddress, waitFor } from '../helpers/services.ts';

/** Retry and cancel against a running `gilfoyle all` and the real Temporal server. */
const dir = scratchDir('gilfoyle-e2e-retry');
let g: RunningGilfoyle;
let api: ReturnType<typeof apiClient>;
let temporal: Client;
let connection: Connection;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '360p', height: 360, video_bitrate: 500 },
      { name: '240p', height: 240, video_bitrate: 250 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_ENCODING_MAX_ATTEMPTS: '1',
    // Whole renditions: the cancel below must find one encode running for seconds (a chunk of
    // this ladder encodes in about one).
    GILFOYLE_ENCODING_CHUNK_SECONDS: '0',
  });
  api = apiClient(g.url);
  connection = await Connection.connect({ address: temporalAddress });
  temporal = new Client({ connection });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await g?.stop();
});

describe('retry', () => {
  it('processes an Errored media again as a new run of the same workflow, once however often it is pressed', async () => {
    const media = (await api.createMedia('broken then fixed')).body.data;
    const bad = path.join(dir(), 'bad.mp4');
    await writeFile(bad, 'this is not a video at all');
    expect((await api.upload(media.id, 'video', bad)).status).toBe(200);
    const errored = await api.waitForStatus(media.id, ['Errored'], 60_000);
    expect(errored.error).toMatch(/not a media file|cannot process/);

    // Only an Errored media may be retried.
    expect((await api.retry('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const fresh = (await api.createMedia('never uploaded')).body.data;
    const refused = await api.retry(fresh.id);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/AwaitingUpload: only an Errored media can be retried/);

    // The operator fixes the stored source, then presses retry twice at once.
    const good = path.join(dir(), 'good.mp4');
    await makeVideo(good, { seconds: 2 });
    await g.storage.putFile(await storedSourceKey(g, media.id), good);
    const answers = await Promise.all([api.retry(media.id), api.retry(media.id)]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    const accepted = answers.find((a) => a.status === 202)!.body.data;
    expect(accepted.status).toBe('ScheduledProcessing');
    expect(accepted.error).toBeNull();

    const ready = await api.waitForStatus(media.id, ['Ready'], 90_000);
    const types = (await api.events(media.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'media.retry')).toHaveLength(1);
    expect(types.indexOf('media.retry')).toBeGreaterThan(types.indexOf('media.errored'));

    // Temporal shows the retry as a second run of workflow media-{id}; the media links to the new one.
    const runs = await waitFor(
      'both runs listed',
      async () => {
        const r = await runsOf(temporal, media.id);
        return r.length === 2 && r.some((x) => x.status === 'COMPLETED') ? r : undefined;
      },
      30_000,
    );
    expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'FAILED']);
    const completed = runs.find((r) => r.status === 'COMPLETED')!;
    expect(ready.workflow).toEqual({
      id: `media-${media.id}`,
      run_id: completed.runId,
      url: `http://127.0.0.1:8233/namespaces/default/workflows/media-${media.id}/${completed.runId}/history`,
      trace_url: null,
    });
    expect(ready.probe).toMatchObject({ video: { codec: 'h264', width: 640, height: 360 }, audio: { codec: 'aac' } });
  });
});

describe('cancel', () => {
  it('stops a running encode (ffmpeg killed, temp files removed), ends Errored, and can be retried', async () => {
    const source = path.join(dir(), 'long.mp4');
    await makeVideo(source, { seconds: 60, width: 1280, height: 720 });
    const media = await api.uploadNew('cancel me', 'video', source);

    await waitFor(
      'an ffmpeg encode to run',
      async () => ((await ffmpegsIn(g.tempDir)).length > 0 ? true : undefined),
      60_000,
      100,
    );
    const cancelled = await api.cancel(media.id);
    expect(cancelled.status).toBe(202);

    const errored = await api.waitForStatus(media.id, ['Errored'], 30_000);
    expect(errored.error).toBe('cancelled');
    expect(errored.playable).toBe(false);
    const events = await api.events(media.id);
    expect(events.at(-1)).toMatchObject({ type: 'media.cancelled', level: 'warn' });
    await waitFor(
      'ffmpeg to be gone and temp files removed',
      async () =>
        (await ffmpegsIn(g.tempDir)).length === 0 && (await readdir(g.tempDir)).length === 0 ? true : undefined,
      15_000,
    );
    const runs = await closedRunsOf(temporal, media.id);
    expect(runs.map((r) => r.status)).toEqual(['CANCELLED']);
    // A cancelled media is not running any more.
    expect((await api.cancel(media.id)).status).toBe(409);

    // Retry resets the renditions and processes the media to Ready.
    expect((await api.retry(media.id)).status).toBe(202);
    const renditions = await api.renditions(media.id);
    expect(renditions.length).toBeGreaterThan(0);
    for (const r of renditions) expect(r).toMatchObject({ status: 'Pending', progress: 0, attempts: 0 });
    await api.waitForStatus(media.id, ['Ready'], 180_000);
    expect((await api.cancel(media.id)).status).toBe(409);
  });

  it('cancels a media whose run has not started yet, and that run does nothing when it comes', async () => {
    const media = (await api.createMedia('queued')).body.data;
    const source = path.join(dir(), 'short.mp4');
    await makeVideo(source, { seconds: 1 });
    // Cancel right after the upload: whichever comes first, the media ends Errored, cancelled.
    expect((await api.upload(media.id, 'video', source)).status).toBe(200);
    expect((await api.cancel(media.id)).status).toBe(202);
    const errored = await api.waitForStatus(media.id, ['Errored'], 30_000);
    expect(errored.error).toBe('cancelled');
    await closedRunsOf(temporal, media.id);
    const after = (await api.getMedia(media.id)).body.data;
    expect(after).toMatchObject({ status: 'Errored', error: 'cancelled' });
    expect((await api.events(media.id)).filter((e) => e.type === 'media.cancelled')).toHaveLength(1);
  });
});

describe('listing', () => {
  it('searches by title and filters by status', async () => {
    const tag = `needle-${Date.now()}`;
    const a = (await api.createMedia(`${tag} alpha`)).body.data;
    await api.createMedia(`${tag} beta`);
    await api.createMedia('haystack');
    const found = await api.listMedias({ q: tag.toUpperCase() });
    expect(found.body.data.map((m) => m.title).sort()).toEqual([`${tag} alpha`, `${tag} beta`]);
    const awaiting = await api.listMedias({ q: `${tag} al`, status: 'AwaitingUpload' });
    expect(awaiting.body.data.map((m) => m.id)).toEqual([a.id]);
    expect((await api.listMedias({ q: tag, status: 'Ready' })).body.data).toEqual([]);
    // A % in the search is a character, not a wildcard.
    const percent = (await api.createMedia(`${tag} 100%`)).body.data;
    expect((await api.listMedias({ q: `${tag} 1%` })).body.data).toEqual([]);
    expect((await api.listMedias({ q: `${tag} 100%` })).body.data.map((m) => m.id)).toEqual([percent.id]);
    expect((await fetch(`${g.url}/medias?status=Nope`)).status).toBe(400);
  });
});

describe('metrics', () => {
  /** The value of one sample of the Prometheus text, or undefined when absent. */
  const sample = (text: string, name: string, labels: Record<string, string> = {}) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const labelPart = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? '';
      if (want.every((w) => labelPart.split(',').includes(w))) return Number(line.split(' ').at(-1));
    }
    return undefined;
  };

  it('after the runs above, /metrics has HTTP, upload, media, encode, activity, outbox and bridge figures', async () => {
    const res = await fetch(`${g.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const retry = { method: 'POST', route: '/medias/:id/retry' };
    expect(sample(text, 'gilfoyle_http_requests_total', { ...retry, status: '202' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'gilfoyle_http_requests_total', { ...retry, status: '409' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'gilfoyle_http_request_duration_seconds_count', { ...retry, status: '202' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, 'gilfoyle_http_request_duration_seconds_bucket', { ...retry, status: '202', le: '+Inf' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'gilfoyle_uploads_total', { kind: 'video', via: 'multipart' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'gilfoyle_upload_bytes_total', { kind: 'video', via: 'multipart' })).toBeGreaterThan(10_000);
    expect(sample(text, 'gilfoyle_medias', { status: 'Ready' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'gilfoyle_medias', { status: 'Errored' })).toBeGreaterThanOrEqual(1);
    // Every media event goes through the outbox too: the last ones may still be on their way.
    await waitFor('the outbox to be drained', async () => {
      const now = await (await fetch(`${g.url}/metrics`)).text();
      return sample(now, 'gilfoyle_outbox_backlog') === 0 ? true : undefined;
    });
    const rung = { rendition: '360p', codec: 'h264' };
    expect(sample(text, 'gilfoyle_encode_duration_seconds_count', rung)).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'gilfoyle_encode_duration_seconds_sum', rung)).toBeGreaterThan(0);
    expect(
      sample(text, 'gilfoyle_encode_realtime_factor_count', { rendition: 'audio', codec: 'aac' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sample(text, 'gilfoyle_activity_failures_total', { activity: 'probeSource', type: 'InvalidMedia' }),
    ).toBeGreaterThanOrEqual(1);
    // The cancel above stopped whichever encode was running: a whole rendition (audio) or a chunk of a video rung.
    const cancelledEncodes = ['encodeRendition', 'encodeChunk']
      .map((activity) => sample(text, 'gilfoyle_activity_failures_total', { activity, type: 'Cancelled' }) ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(cancelledEncodes).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'gilfoyle_bridge_messages_total', { outcome: 'started' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });
});

describe('a run that does not answer', () => {
  let stuck: Awaited<ReturnType<typeof startWithoutWorkers>>;
  let apiRole: RunningGilfoyle;
  let worker: RunningGilfoyle | null = null;
  beforeAll(async () => {
    stuck = await startWithoutWorkers({
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 250 }]),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
    });
    apiRole = stuck.api;
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
    await stuck?.stop();
  });

  it('is cancelled by force (its run terminated), and the media can be retried once a worker runs', async () => {
    const client = apiClient(apiRole.url);
    const source = path.join(dir(), 'stuck.mp4');
    await makeVideo(source, { seconds: 2 });
    const media = await client.uploadNew('stuck', 'video', source);
    await waitFor(
      'its run to start',
      async () => ((await runsOf(temporal, media.id)).some((r) => r.status === 'RUNNING') ? true : undefined),
      30_000,
    );

    // A cancel asks the run, which nobody runs: the media stays where it was.
    expect((await client.cancel(media.id)).status).toBe(202);
    expect((await client.events(media.id)).at(-1)?.type).toBe('media.cancel_requested');
    await new Promise((r) => setTimeout(r, 2000));
    expect((await client.getMedia(media.id)).body.data.status).toBe('ScheduledProcessing');

    // By force: terminated, and Errored at once, with the event saying so.
    const forced = await client.cancel(media.id, true);
    expect(forced.status).toBe(202);
    expect(forced.body.data).toMatchObject({ status: 'Errored', error: 'cancelled' });
    expect((await client.events(media.id)).at(-1)).toMatchObject({
      type: 'media.cancelled',
      message: expect.stringMatching(/by force \(its run was terminated\)/),
    });
    expect((await closedRunsOf(temporal, media.id)).map((r) => r.status)).toEqual(['TERMINATED']);
    expect((await client.cancel(media.id, true)).status).toBe(409);

    worker = await startGilfoyle(stuck.shared, { role: 'worker' });
    expect((await client.retry(media.id)).status).toBe(202);
    expect((await client.waitForStatus(media.id, ['Ready', 'Errored'], 60_000)).status).toBe('Ready');
  });

  it('a media whose run ended without finishing it (terminated in the Temporal UI) is cancelled at once', async () => {
    const client = apiClient(apiRole.url);
    const source = path.join(dir(), 'orphan.mp4');
    await makeVideo(source, { seconds: 60, width: 1280, height: 720 });
    const media = await client.uploadNew('orphaned', 'video', source);
    await waitFor(
      'the 240p encode to run',
      async () => ((await ffmpegsIn(apiRole.tempDir, '240p')).length > 0 ? true : undefined),
      60_000,
      50,
    );
    await temporal.workflow.getHandle(`media-${media.id}`).terminate('an operator, in the Temporal UI');
    expect((await client.getMedia(media.id)).body.data.status).toBe('Processing');
    const cancelled = await client.cancel(media.id);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body.data).toMatchObject({ status: 'Errored', error: 'cancelled' });
    expect((await client.events(media.id)).at(-1)?.message).toMatch(/after its run had ended without finishing it/);
  });
});
