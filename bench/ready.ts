/**
 * How long one 10 s 720p upload takes to become Ready through the whole pipeline (HTTP
 * upload, Postgres, outbox, RabbitMQ, bridge, Temporal, ffmpeg, storage), against the same
 * encodes run directly, with the worker's concurrency, measured in the same session.
 *
 *   npm run bench:ready [-- --runs 3]
 */
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ladderOf, threadsPerEncode } from '../src/config/processing.ts';
import { loadConfig } from '../src/config/load.ts';
import { planRenditions } from '../src/domain/renditions.ts';
import { encodeRenditionArgs } from '../src/media/ffmpeg-args.ts';
import { ffprobeArgs, parseProbe, type RawProbe } from '../src/media/probe.ts';
import { runFfmpeg, runFfprobe } from '../src/media/runner.ts';
import { makeVideo } from '../test/helpers/media.ts';
import { benchSetup, fmt, median, timed, timeUpload } from './common.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number(values.runs));
const config = loadConfig({ env: {}, defaultFile: '/nonexistent' });
const { dir, g, close } = await benchSetup();
const source = path.join(dir, 'source-720p-10s.mp4');
await makeVideo(source, { seconds: 10, width: 1280, height: 720, fps: 30 });

/** The planned encodes, run directly, `concurrency` at a time, with the worker's thread count. */
async function direct(): Promise<number> {
  const probe = parseProbe(JSON.parse(await runFfprobe('ffprobe', ffprobeArgs(source))) as RawProbe);
  const queue = planRenditions(probe, ladderOf(config));
  const threads = threadsPerEncode(config.encoding.threads, config.encoding.concurrency);
  return timed(() =>
    Promise.all(
      Array.from({ length: config.encoding.concurrency }, async () => {
        for (let r = queue.shift(); r; r = queue.shift()) {
          const out = await mkdtemp(path.join(dir, `direct-${r.name}-`));
          await runFfmpeg(
            'ffmpeg',
            encodeRenditionArgs(r, { input: source, outputDir: out, preset: config.encoding.preset, threads }),
          );
        }
      }),
    ),
  );
}

try {
  const rows: { direct: number; ready: number }[] = [];
  for (let i = 1; i <= runs; i++) {
    const d = await direct();
    const { ready } = await timeUpload(g, source);
    rows.push({ direct: d, ready });
    console.log(
      `run ${i}: encodes run directly ${fmt(d)}, upload→Ready ${fmt(ready)}, ratio ${(ready / d).toFixed(2)}`,
    );
  }
  const d = median(rows.map((r) => r.direct));
  const p = median(rows.map((r) => r.ready));
  console.log(
    `bench:ready 10 s 720p30, ladder ${ladderOf(config)
      .rungs.map((r) => r.name)
      .join('/')}+audio, preset ${config.encoding.preset}, concurrency ${config.encoding.concurrency}: ` +
      `median upload→Ready ${fmt(p)} vs the encodes alone ${fmt(d)} = ${(p / d).toFixed(2)}x`,
  );
} finally {
  await close();
}
