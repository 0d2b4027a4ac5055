/**
 * Playable whatever the length: for long 720p30 sources (2 and 10 minutes by default), the time
 * from the end of the upload (Gilfoyle has the file) to `playable`, against the first chunk of
 * the playable rung encoded alone with the very argv the chunk activity runs, in the same
 * session, on one worker (this machine's cores).
 * Targets (issue "One media across many machines"): ≤ 3 × that chunk alone, and independent of
 * the source's length.
 *
 *   npm run bench:playable [-- --minutes 2,10 --runs 2]
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ladderOf } from '../src/config/processing.ts';
import { loadConfig } from '../src/config/load.ts';
import { chunkedTimelineOffsetSeconds, planChunks } from '../src/domain/chunks.ts';
import { firstRenditions, planRenditions, type VideoRendition } from '../src/domain/renditions.ts';
import { encodeRenditionArgs, threadOptions } from '../src/media/ffmpeg-args.ts';
import { ffprobeArgs, parseProbe, type RawProbe } from '../src/media/probe.ts';
import { runFfmpeg, runFfprobe } from '../src/media/runner.ts';
import { makeVideo } from '../test/helpers/media.ts';
import { benchSetup, fmt, median, timed, timeUpload } from './common.ts';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '2,10' }, runs: { type: 'string', default: '2' } },
});
const lengths = values.minutes.split(',').map(Number);
const runs = Math.max(1, Number(values.runs));
const config = loadConfig({ env: {}, defaultFile: '/nonexistent' });
const { dir, g, close } = await benchSetup({ GILFOYLE_ENCODING_PRESET: config.encoding.preset });

try {
  const warmup = path.join(dir, 'warmup.mp4');
  await makeVideo(warmup, { seconds: 2, width: 640, height: 360 });
  await timeUpload(g, warmup);
  const rows: string[] = [];
  for (const minutes of lengths) {
    const source = path.join(dir, `source-${minutes}min.mp4`);
    await makeVideo(source, { seconds: minutes * 60, width: 1280, height: 720, fps: 30, crf: 30 });
    const probe = parseProbe(JSON.parse(await runFfprobe('ffprobe', ffprobeArgs(source))) as RawProbe);
    const playableRung = firstRenditions(planRenditions(probe, ladderOf(config))).find(
      (r): r is VideoRendition => r.type === 'video',
    )!;
    const chunk = planChunks(probe.duration, playableRung, config.encoding.chunk_seconds)[0]!;
    const ratios: number[] = [];
    const stored: number[] = [];
    const alone: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const out = path.join(dir, `chunk-${minutes}-${run}`);
      await mkdir(out);
      const first = await timed(() =>
        runFfmpeg(
          'ffmpeg',
          encodeRenditionArgs(playableRung, {
            input: source,
            outputDir: out,
            preset: config.encoding.preset,
            ...threadOptions(true, 0),
            chunk,
            timelineOffset: chunkedTimelineOffsetSeconds,
          }),
        ),
      );
      const t = await timeUpload(g, source, 'playable');
      const toPlayable = t.playable - t.uploaded;
      alone.push(first);
      stored.push(toPlayable);
      ratios.push(toPlayable / first);
      console.log(
        `${minutes} min, run ${run}: upload ${fmt(t.uploaded)}, stored→playable ${fmt(toPlayable)}, ` +
          `first ${playableRung.name} chunk (${chunk.seconds} s) alone ${fmt(first)}: ratio ${(toPlayable / first).toFixed(2)}`,
      );
    }
    rows.push(
      `  ${String(minutes).padStart(3)} min: stored→playable ${fmt(median(stored))}, first chunk alone ${fmt(median(alone))}, ratio ${median(ratios).toFixed(2)} (target ≤ 3)`,
    );
  }
  console.log(
    `bench:playable, 720p30 sources, default ladder and chunks (${config.encoding.chunk_seconds} s), medians:\n${rows.join('\n')}`,
  );
} finally {
  await close();
}
