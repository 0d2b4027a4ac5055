/**
 * How fast Gilfoyle tells its clients: 50 media (1 s of audio each) with 2 webhook endpoints.
 * For each delivery, the latency from the event (its `created_at`, the body's `timestamp`) to the
 * receiver, which verifies every request with the `standardwebhooks` package; deliveries per
 * second over a burst; and, beside them, when a client that polls `GET /medias/{id}` every
 * second learns the same `media.ready`, in the same run.
 *
 *   npm run bench:webhooks [-- --media 50 --parallel 5]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { apiClient } from '../test/helpers/api.ts';
import { makeAudio } from '../test/helpers/media.ts';
import { startReceiver, type Received } from '../test/helpers/receiver.ts';
import { sleep } from '../test/helpers/services.ts';
import { percentile } from '../test/helpers/stats.ts';
import { benchSetup } from './common.ts';

const { values } = parseArgs({
  options: { media: { type: 'string', default: '50' }, parallel: { type: 'string', default: '5' } },
});
const count = Math.max(1, Number(values.media));
const parallel = Math.max(1, Number(values.parallel));
const endpoints = ['/a', '/b'];

/** From the event (the body's `timestamp`, its created_at) to the receiver. */
const latencyOf = (r: Received) => r.at - new Date(r.body.timestamp).getTime();
const ms = (x: number) => `${Math.round(x)} ms`;

const receiver = await startReceiver();
const { dir, g, close } = await benchSetup({
  GILFOYLE_ENCODING_PICTURES_ENABLED: 'false',
  GILFOYLE_SETTINGS_URL_FETCH_ALLOW_PRIVATE_ADDRESSES: 'true',
});
const api = apiClient(g.url);
const audio = path.join(dir, 'a.m4a');
await makeAudio(audio, { seconds: 1 });

try {
  for (const route of endpoints) {
    const res = await api.createWebhook({ url: receiver.url(route) });
    if (res.status !== 200) throw new Error(`POST /webhooks: ${JSON.stringify(res.body)}`);
    receiver.expect(route, res.body.data.secret);
  }
  // 1. A burst: `count` media created at once (one media.created each, to both endpoints).
  const burstStart = Date.now();
  const burst = await Promise.all(Array.from({ length: count }, (_, i) => api.createMedia(`burst ${i}`)));
  const burstIds = new Set(burst.map((r) => r.body.data.id));
  const burstExpected = count * endpoints.length;
  const burstOf = () => receiver.received.filter((r) => burstIds.has(String(r.body.data.id)));
  for (let waited = 0; burstOf().length < burstExpected; waited += 50) {
    if (waited > 300_000) throw new Error(`burst: ${burstOf().length}/${burstExpected} deliveries after 5 min`);
    await sleep(50);
  }
  const burstSeconds = (Math.max(...burstOf().map((r) => r.at)) - burstStart) / 1000;
  const burstLatencies = burstOf().map(latencyOf);
  for (const id of burstIds) await api.remove(id);
  await sleep(2000); // the media.deleted deliveries, out of the next phase's way
  receiver.received.length = 0;

  // 2. The lifecycle of `count` uploads, `parallel` at a time, each watched by a 1 s poller too.
  const polledReady = new Map<string, number>();
  const runStart = Date.now();
  const ids: string[] = [];
  const queue = Array.from({ length: count }, (_, i) => i);
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const id = (await api.createMedia(`bench ${i}`)).body.data.id;
        ids.push(id);
        const up = await api.upload(id, 'audio', audio);
        if (up.status !== 200) throw new Error(`upload: ${JSON.stringify(up.body)}`);
        // The polling client: GET every second until Ready.
        for (;;) {
          const m = (await api.getMedia(id)).body.data;
          if (m.status === 'Errored') throw new Error(`media errored: ${m.error}`);
          if (m.status === 'Ready') {
            polledReady.set(id, Date.now());
            break;
          }
          await sleep(1000);
        }
      }
    }),
  );
  const readyDeliveries = () => receiver.received.filter((r) => r.type === 'media.ready');
  for (let waited = 0; readyDeliveries().length < count * endpoints.length; waited += 100) {
    if (waited > 120_000) throw new Error(`${readyDeliveries().length} media.ready deliveries of ${count * 2}`);
    await sleep(100);
  }
  await sleep(1000);
  const all = receiver.received.map(latencyOf);
  const runSeconds = (Math.max(...receiver.received.map((r) => r.at)) - runStart) / 1000;
  const readyAt = new Map(readyDeliveries().map((r) => [String(r.body.data.id), new Date(r.body.timestamp).getTime()]));
  const pollLatencies = ids.map((id) => polledReady.get(id)! - readyAt.get(id)!);
  const webhookReady = readyDeliveries().map(latencyOf);
  const types = new Map<string, number>();
  for (const r of receiver.received) types.set(r.type, (types.get(r.type) ?? 0) + 1);
  const duplicates = receiver.received.length - new Set(receiver.received.map((r) => `${r.path} ${r.id}`)).size;
  if (receiver.rejected.length) throw new Error(`receiver rejected: ${receiver.rejected.join('; ')}`);

  console.log(
    `burst: ${count} media created at once → ${burstExpected} deliveries in ${burstSeconds.toFixed(2)} s ` +
      `= ${(burstExpected / burstSeconds).toFixed(1)} deliveries/s; latency p50 ${ms(percentile(burstLatencies, 50))}, ` +
      `p99 ${ms(percentile(burstLatencies, 99))}`,
  );
  console.log(
    `lifecycle: ${count} uploads (${parallel} at a time) → ${receiver.received.length} deliveries ` +
      `(${[...types].map(([t, n]) => `${t} ${n}`).join(', ')}; ${duplicates} repeated) in ${runSeconds.toFixed(1)} s ` +
      `= ${(receiver.received.length / runSeconds).toFixed(1)} deliveries/s`,
  );
  console.log(`  every event → receiver: p50 ${ms(percentile(all, 50))}, p99 ${ms(percentile(all, 99))}`);
  console.log(
    `bench:webhooks media.ready reaches the client: webhook p50 ${ms(percentile(webhookReady, 50))}, ` +
      `p99 ${ms(percentile(webhookReady, 99))}; polling GET every 1 s p50 ${ms(percentile(pollLatencies, 50))}, ` +
      `p99 ${ms(percentile(pollLatencies, 99))}; polling p50 / webhook p50 = ${(percentile(pollLatencies, 50) / percentile(webhookReady, 50)).toFixed(2)} (above 1: webhooks sooner)`,
  );
} finally {
  await close();
  await receiver.stop();
}
