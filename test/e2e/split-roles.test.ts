import path from 'node:path';
import { apiClient } from '../helpers/api.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';

/**
 * The many-machines deployment on one machine: `gilfoyle api`, `gilfoyle bridge` and
 * `gilfoyle worker` as three processes sharing the queues and the store; each one's metrics
 * are scraped where it runs.
 */
const dir = scratchDir('gilfoyle-e2e-split');
let api: RunningGilfoyle;
let bridge: RunningGilfoyle;
let worker: RunningGilfoyle;

beforeAll(async () => {
  const ladder = JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]);
  api = await startGilfoyle({ GILFOYLE_ENCODING_RENDITIONS: ladder }, { role: 'api' });
  const shared = joining(api, { GILFOYLE_ENCODING_RENDITIONS: ladder, GILFOYLE_ENCODING_PRESET: 'ultrafast' });
  [bridge, worker] = await Promise.all([
    startGilfoyle(shared, { role: 'bridge' }),
    startGilfoyle(shared, { role: 'worker' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([worker?.stop(), bridge?.stop()]);
  await api?.stop();
});

const metricsOf = async (g: RunningGilfoyle) => (await fetch(`${g.url}/metrics`)).text();

it('processes an upload across the three roles, and each serves its own metrics', async () => {
  const client = apiClient(api.url);
  const file = path.join(dir(), 'split.mp4');
  await makeVideo(file, { seconds: 2 });
  const media = await client.uploadNew('split', 'video', file);
  const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 90_000);
  expect(ready.status).toBe('Ready');

  const fromWorker = await metricsOf(worker);
  expect(fromWorker).toMatch(/^gilfoyle_encode_duration_seconds_count\{rendition="240p",codec="h264"\} 1$/m);
  expect(fromWorker).toMatch(/^gilfoyle_encode_realtime_factor_count\{rendition="audio",codec="aac"\} 1$/m);
  expect(fromWorker).toMatch(/^process_cpu_seconds_total \d/m);
  expect(fromWorker).not.toMatch(/^gilfoyle_uploads_total\{/m);

  expect(await metricsOf(bridge)).toMatch(/^gilfoyle_bridge_messages_total\{outcome="started"\} 1$/m);

  const fromApi = await metricsOf(api);
  expect(fromApi).toMatch(/^gilfoyle_uploads_total\{kind="video",via="multipart"\} 1$/m);
  expect(fromApi).toMatch(/^gilfoyle_medias\{status="Ready"\} [1-9]/m);
  expect(fromApi).not.toMatch(/^gilfoyle_encode_duration_seconds_count\{/m);

  // Worker and bridge answer a health probe next to their metrics, and nothing else.
  for (const [g, roles] of [
    [worker, ['worker']],
    [bridge, ['bridge']],
  ] as const) {
    const health = await fetch(`${g.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', roles });
  }
  expect((await fetch(`${worker.url}/medias`)).status).toBe(404);
});
