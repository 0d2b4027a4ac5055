/**
 * Saves the workflow histories that test/workflow/replay.test.ts replays against the current
 * workflow code: run it when a release is cut (`npm run histories:refresh`), and commit
 * test/histories/. It starts a Gilfoyle from this checkout on the real services, takes one media
 * down each main path, and exports every workflow run of each (the media's workflow, its
 * per-rendition children, a webhook delivery) with `temporal workflow show --output json`:
 *
 *   short     a 2 s video, whole renditions, Ready
 *   chunked   a 14 s video, encoded in 4 s chunks, Ready
 *   audio     a 3 s audio-only media, Ready
 *   errored   a file that is no media, Errored
 *   retry     that Errored media fixed and retried: a second run, Ready
 *   cancel    a 40 s video cancelled while it encodes, then retried to Ready
 *   webhook   a delivery whose endpoint answers 500 twice, then 200
 *
 * The histories of the release a deployment may still be running are what a new worker must be
 * able to replay: an unguarded change of the workflow code (a command added, removed or reordered
 * without patched()) fails that test.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { apiClient } from '../test/helpers/api.ts';
import { startGilfoyle, storedSourceKey } from '../test/helpers/gilfoyle.ts';
import { makeAudio, makeVideo } from '../test/helpers/media.ts';
import { startReceiver } from '../test/helpers/receiver.ts';
import { repoRoot, temporalAddress, waitFor } from '../test/helpers/services.ts';

const out = path.join(repoRoot, 'test/histories');
const work = path.join(repoRoot, '.data/histories');
await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
const say = (s: string) => process.stdout.write(`${s}\n`);

const receiver = await startReceiver();
const g = await startGilfoyle({
  GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
    { name: '360p', height: 360, video_bitrate: 500 },
    { name: '240p', height: 240, video_bitrate: 250 },
  ]),
  GILFOYLE_ENCODING_PRESET: 'ultrafast',
  GILFOYLE_ENCODING_MAX_ATTEMPTS: '1',
  GILFOYLE_ENCODING_CHUNK_SECONDS: '4',
  GILFOYLE_ENCODING_CHUNK_THRESHOLD_SECONDS: '10',
  GILFOYLE_SETTINGS_URL_FETCH_ALLOW_PRIVATE_ADDRESSES: 'true',
  GILFOYLE_WEBHOOKS_INITIAL_BACKOFF_SECONDS: '0.5',
  GILFOYLE_WEBHOOKS_MAX_BACKOFF_SECONDS: '1',
});
const connection = await Connection.connect({ address: temporalAddress });
const temporal = new Client({ connection });
const api = apiClient(g.url);
const cases = new Map<string, string>(); // media id → case
let retriedAt = Infinity; // runs of the errored media that started after it are the retry's
try {
  const hook = (await api.createWebhook({ url: receiver.url('/hook'), events: ['media.ready'] })).body.data;
  // The first media.ready delivery fails twice (its workflow retries it), the others are answered at once.
  receiver.expect('/hook', hook.secret!, (_r, nth) => (nth < 2 ? 500 : 200));

  const file = async (name: string, make: (f: string) => Promise<unknown>) => {
    const f = path.join(work, name);
    await make(f);
    return f;
  };
  const ready = async (name: string, kind: 'video' | 'audio', source: string) => {
    const media = await api.uploadNew(name, kind, source);
    cases.set(media.id, name);
    const done = await api.waitForStatus(media.id, ['Ready', 'Errored'], 300_000);
    if (done.status !== 'Ready') throw new Error(`${name}: ${done.status} (${done.error})`);
    say(`${name}: ${media.id} Ready`);
    return media;
  };

  await ready('short', 'video', await file('short.mp4', (f) => makeVideo(f, { seconds: 2 })));
  await ready('chunked', 'video', await file('chunked.mp4', (f) => makeVideo(f, { seconds: 14 })));
  await ready('audio', 'audio', await file('audio.m4a', (f) => makeAudio(f, { seconds: 3 })));

  // errored, then the same media fixed and retried (the retry run is its own history).
  const bad = await file('bad.mp4', (f) => writeFile(f, 'this is not a video at all'));
  const broken = await api.uploadNew('errored', 'video', bad);
  cases.set(broken.id, 'errored');
  await api.waitForStatus(broken.id, ['Errored'], 60_000);
  say(`errored: ${broken.id} Errored`);
  await g.storage.putFile(
    await storedSourceKey(g, broken.id),
    await file('good.mp4', (f) => makeVideo(f, { seconds: 2 })),
  );
  retriedAt = Date.now();
  if ((await api.retry(broken.id)).status !== 202) throw new Error('retry refused');
  await api.waitForStatus(broken.id, ['Ready'], 120_000);
  say(`retry: ${broken.id} Ready`);

  // cancel while an encode runs, then retried.
  const long = await file('long.mp4', (f) => makeVideo(f, { seconds: 40, width: 1280, height: 720 }));
  const cancelled = await api.uploadNew('cancel', 'video', long);
  cases.set(cancelled.id, 'cancel');
  await waitFor(
    'the media to encode',
    async () => ((await api.renditions(cancelled.id)).some((r) => r.progress > 0) ? true : undefined),
    120_000,
    100,
  );
  if ((await api.cancel(cancelled.id)).status !== 202) throw new Error('cancel refused');
  await api.waitForStatus(cancelled.id, ['Errored'], 60_000);
  if ((await api.retry(cancelled.id)).status !== 202) throw new Error('retry after cancel refused');
  await api.waitForStatus(cancelled.id, ['Ready'], 300_000);
  say(`cancel: ${cancelled.id} cancelled, then Ready`);

  await waitFor(
    'the failing webhook delivery to succeed',
    async () => (receiver.at('/hook').length >= 3 ? true : undefined),
    60_000,
  );

  // Every run of this Gilfoyle's task queue, once all are closed (visibility is eventually consistent).
  const runs = await waitFor(
    'every workflow run to be listed as closed',
    async () => {
      const listed: { workflowId: string; runId: string; type: string; status: string; start: number }[] = [];
      for await (const w of temporal.workflow.list({ query: `TaskQueue = "${g.taskQueue}"` }))
        listed.push({
          workflowId: w.workflowId,
          runId: w.runId,
          type: w.type,
          status: w.status.name,
          start: w.startTime.getTime(),
        });
      return listed.length > 0 && listed.every((r) => r.status !== 'RUNNING') ? listed : undefined;
    },
    60_000,
  );
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const saved: Record<string, string[]> = {};
  const counts = new Map<string, number>();
  for (const run of runs.sort((a, b) => a.start - b.start)) {
    const mediaId = /^media-([0-9a-f-]{36})/.exec(run.workflowId)?.[1];
    let name = run.type === 'deliverWebhook' ? 'webhook' : mediaId ? cases.get(mediaId) : undefined;
    if (!name) continue;
    if (name === 'errored' && run.start >= retriedAt) name = 'retry';
    // The runs of one workflow id (a cancelled run and its retry) are numbered in order.
    const n = (counts.get(`${name}:${run.workflowId}`) ?? 0) + 1;
    counts.set(`${name}:${run.workflowId}`, n);
    const suffix = run.type === 'deliverWebhook' ? '' : run.workflowId.slice(`media-${mediaId}`.length);
    const fileName = `${name}.${run.type}${suffix}.${n}.json`;
    const { stdout } = await execa(path.join(repoRoot, '.tools/bin/temporal'), [
      'workflow',
      'show',
      '--address',
      temporalAddress,
      '--workflow-id',
      run.workflowId,
      '--run-id',
      run.runId,
      '--output',
      'json',
    ]);
    await writeFile(path.join(out, fileName), `${stdout.trim()}\n`);
    (saved[name] ??= []).push(fileName);
  }
  const { stdout: commit } = await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot });
  await writeFile(
    path.join(out, 'manifest.json'),
    `${JSON.stringify({ from: commit.trim(), saved: new Date().toISOString(), cases: saved }, null, 2)}\n`,
  );
  say(
    `saved ${Object.values(saved).flat().length} histories of ${commit.trim()} into test/histories: ${(await readdir(out)).length - 1} files`,
  );
} finally {
  await connection.close();
  await g.stop();
  await receiver.stop();
}
