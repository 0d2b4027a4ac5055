import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chunkedTimelineOffsetSeconds, planChunks } from '../../src/domain/chunks.ts';
import type { AudioRendition, VideoCodec, VideoRendition } from '../../src/domain/renditions.ts';
import { encodeRenditionArgs, renditionFiles, type EncodeOptions } from '../../src/media/ffmpeg-args.ts';
import { buildMediaPlaylist, measureBandwidth, parseMediaPlaylist } from '../../src/media/hls.ts';
import { runFfmpeg } from '../../src/media/runner.ts';
import { makeVideo } from '../helpers/media.ts';
import { checkDecodeContinuity, checkHlsRendition, probePackets, psnrAgainst } from '../helpers/output-checks.ts';
import { scratchDir } from '../helpers/scratch.ts';

/**
 * A rung encoded in chunks (with the very argv the chunk activity runs) against the same rung
 * encoded whole, for every codec of the ladder: the chunk edges must not show. Read back by
 * ffprobe and ffmpeg's psnr filter, never by Gilfoyle's own parsers alone.
 */
const dir = scratchDir('gilfoyle-chunks');
const seconds = 16;
const chunkSeconds = 4;
let source: string;

beforeAll(async () => {
  source = path.join(dir(), 'source.mp4');
  // 25 fps in, 30 out: the frame rate conversion runs across every edge too.
  await makeVideo(source, { seconds, width: 640, height: 360, fps: 25 });
}, 60_000);

const rung = (codec: VideoCodec): VideoRendition => ({
  type: 'video',
  name: `r${codec}`,
  codec,
  width: 480,
  height: 270,
  frameRate: 30,
  videoBitrate: 600,
  maxRate: 642,
  gopFrames: 60,
  segmentSeconds: 4,
});
const audio: AudioRendition = { type: 'audio', name: 'audio', audioBitrate: 128, channels: 2, segmentSeconds: 4 };
const options = (outputDir: string, more: Partial<EncodeOptions> = {}): EncodeOptions => ({
  input: source,
  outputDir,
  preset: 'veryfast',
  threads: 0,
  ...more,
});

/** Encodes `r` whole into `out`, and chunk by chunk into `out`-chunked (one playlist of every chunk's segments, the first chunk's init). */
async function encodeBoth(r: VideoRendition) {
  const whole = path.join(dir(), `${r.name}-whole`);
  const chunked = path.join(dir(), `${r.name}-chunked`);
  await mkdir(whole);
  await mkdir(chunked);
  await runFfmpeg('ffmpeg', encodeRenditionArgs(r, options(whole)));
  const chunks = planChunks(seconds, r, chunkSeconds);
  const inits: Buffer[] = [];
  const segments = [];
  for (const chunk of chunks) {
    const out = path.join(dir(), `${r.name}-chunk${chunk.index}`);
    await mkdir(out);
    await runFfmpeg(
      'ffmpeg',
      encodeRenditionArgs(r, options(out, { chunk, timelineOffset: chunkedTimelineOffsetSeconds })),
    );
    const files = renditionFiles(r.name);
    inits.push(await readFile(path.join(out, files.init)));
    const playlist = parseMediaPlaylist(await readFile(path.join(out, files.playlist), 'utf8'));
    for (const s of playlist.segments) await copyFile(path.join(out, s.uri), path.join(chunked, s.uri));
    segments.push(...playlist.segments);
    if (chunk.index === 0) await copyFile(path.join(out, files.init), path.join(chunked, files.init));
  }
  const files = renditionFiles(r.name);
  await writeFile(
    path.join(chunked, files.playlist),
    buildMediaPlaylist({ initUri: files.init, segments, targetDuration: 4, type: 'VOD', ended: true }),
  );
  return { whole, chunked, chunks, inits, playlist: files.playlist };
}

describe.each(['h264', 'hevc', 'av1'] as const)('a %s rung encoded in chunks', (codec) => {
  const r = rung(codec);
  let both: Awaited<ReturnType<typeof encodeBoth>>;
  beforeAll(async () => {
    both = await encodeBoth(r);
  }, 180_000);

  it('has one init segment for all its chunks, and segments numbered on across them', async () => {
    expect(both.chunks).toHaveLength(4);
    for (const init of both.inits) expect(init.equals(both.inits[0]!)).toBe(true);
    const names = (await readdir(both.chunked)).filter((n) => n.endsWith('.m4s')).sort();
    expect(names).toEqual([0, 1, 2, 3].map((i) => `${r.name}_${String(i).padStart(5, '0')}.m4s`));
  });

  it('has the segment durations and keyframe times of the same rung encoded whole', async () => {
    const whole = await checkHlsRendition(both.whole, both.playlist);
    const chunked = await checkHlsRendition(both.chunked, both.playlist);
    expect(chunked.segments.map((s) => s.duration.toFixed(3))).toEqual(
      whole.segments.map((s) => s.duration.toFixed(3)),
    );
    const relative = (ks: number[]) => ks.map((k) => (k - ks[0]!).toFixed(3));
    expect(relative(chunked.keyframeTimes!)).toEqual(relative(whole.keyframeTimes!));
    // The timeline starts one offset in, the same for every chunk.
    expect(chunked.keyframeTimes![0]).toBeCloseTo(chunkedTimelineOffsetSeconds, 2);
  });

  it('decodes with continuous timestamps across every chunk edge (no gap or overlap over one frame)', async () => {
    const worst = await checkDecodeContinuity(both.chunked, both.playlist, r.frameRate);
    expect(worst).toBeLessThan(1 / r.frameRate);
    const packets = await probePackets(path.join(both.chunked, both.playlist));
    expect(packets).toHaveLength(seconds * r.frameRate);
  });

  it('keeps its measured peak within the BANDWIDTH Gilfoyle declares, and its quality within 0.3 dB of the whole encode', async () => {
    const chunked = await checkHlsRendition(both.chunked, both.playlist);
    const declared = measureBandwidth(chunked.segments, chunked.initBytes, chunked.targetDuration);
    expect(chunked.peakBitrate).toBeLessThanOrEqual(declared.bandwidth);
    const [whole, parts] = await Promise.all([
      psnrAgainst(path.join(both.whole, both.playlist), source, r.width, r.height),
      psnrAgainst(path.join(both.chunked, both.playlist), source, r.width, r.height),
    ]);
    process.stdout.write(
      `${codec}: PSNR against the source, whole ${whole.toFixed(2)} dB, in chunks ${parts.toFixed(2)} dB\n`,
    );
    expect(parts).toBeGreaterThan(whole - 0.3);
  }, 60_000);
});

it('keeps the audio of a chunked media in sync with its video (within one frame)', async () => {
  const out = path.join(dir(), 'audio');
  await mkdir(out);
  await runFfmpeg('ffmpeg', encodeRenditionArgs(audio, options(out, { timelineOffset: chunkedTimelineOffsetSeconds })));
  const audioStart = (await probePackets(path.join(out, 'audio.m3u8'), 'a:0'))[0]!.pts;
  const videoStart = (await probePackets(path.join(dir(), 'rh264-chunked', 'rh264.m3u8')))[0]!.pts;
  expect(Math.abs(audioStart - videoStart)).toBeLessThan(1 / 30);
}, 60_000);
