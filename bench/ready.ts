/**
 * How long one 10 s 720p upload takes to become Ready through the whole pipeline (HTTP
 * upload, Postgres, outbox, RabbitMQ, bridge, Temporal, ffmpeg, storage), against a
 * baseline measured in the same session: the same ffmpeg encodes run directly, with the
 * same concurrency, and nothing else. The ratio is the price of the pipeline.
 *
 *   npm run bench:ready [-- --runs 3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.ts';
import { ladderOf } from '../src/cli/roles.ts';
import { planRenditions } from '../src/domain/renditions.ts';
import { encodeRenditionArgs } from '../src/media/ffmpeg-args.ts';
import { ffprobeArgs, parseProbe, type RawProbe } from '../src/media/probe.ts';
import { runFfmpeg, runFfprobe } from '../src/media/runner.ts';
import { apiClient } from '../test/helpers/api.ts';
import { startGilfoyle } from '../test/helpers/gilfoyle.ts';
import { makeVideo } from '../test/helpers/media.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const runs = Math.max(1, Number(values.runs));
const config = loadConfig({ env: {}, defaultFile: '/nonexistent' });
const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-bench-'));
const source = path.join(dir, 'source-720p-10s.mp4');
await makeVideo(source, { seconds: 10, width: 1280, height: 720, fps: 30 });

/** The planned encodes, run directly, `concurrency` at a time. */
async function baseline(): Promise<number> {
  const probe = parseProbe(JSON.parse(await runFfprobe('ffprobe', ffprobeArgs(source))) as RawProbe);
  const plan = planRenditions(probe, ladderOf(config));
  const started = performance.now();
  const queue = [...plan];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      const out = await mkdtemp(path.join(dir, `base-${r.name}-`));
      await runFfmpeg('ffmpeg', encodeRenditionArgs(r, { input: source, outputDir: out, preset: config.encoding.preset, threads: config.encoding.threads }));
    }
  };
  await Promise.all(Array.from({ length: config.encoding.concurrency }, worker));
  return (performance.now() - started) / 1000;
}

const g = await startGilfoyle({ GILFOYLE_LOG_LEVEL: 'error' });
const api = apiClient(g.url);
async function pipeline(): Promise<number> {
  const { body } = await api.createMedia('bench');
  const started = performance.now();
  const up = await api.upload(body.data.id, 'video', source);
  if (up.status !== 200) throw new Error(`upload failed: ${JSON.stringify(up.body)}`);
  const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored'], 600_000);
  if (media.status !== 'Ready') throw new Error(`media ended ${media.status}: ${media.error}`);
  return (performance.now() - started) / 1000;
}

try {
  const rows: { run: number; baseline: number; pipeline: number }[] = [];
  for (let i = 1; i <= runs; i++) {
    const b = await baseline();
    const p = await pipeline();
    rows.push({ run: i, baseline: b, pipeline: p });
    console.log(`run ${i}: direct ffmpeg ${b.toFixed(2)} s, upload→Ready ${p.toFixed(2)} s, ratio ${(p / b).toFixed(2)}`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const b = median(rows.map((r) => r.baseline));
  const p = median(rows.map((r) => r.pipeline));
  console.log(
    `bench:ready 10 s 720p, ladder ${ladderOf(config).rungs.map((r) => r.name).join('/')}+audio, preset ${config.encoding.preset}, concurrency ${config.encoding.concurrency}: ` +
      `median upload→Ready ${p.toFixed(2)} s vs direct ffmpeg ${b.toFixed(2)} s = ${(p / b).toFixed(2)}x`,
  );
} finally {
  await g.stop();
  await rm(dir, { recursive: true, force: true });
}
