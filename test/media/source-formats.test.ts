import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { VideoRendition } from '../../src/domain/renditions.ts';
import { encodeRenditionArgs } from '../../src/media/ffmpeg-args.ts';
import { ffprobeArgs, parseProbe, unplayableReason, unreadableReason, type RawProbe } from '../../src/media/probe.ts';
import { FfmpegError, runFfmpeg, runFfprobe } from '../../src/media/runner.ts';
import { isMediaFormat, refusedFormatIn } from '../../src/media/source-formats.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';

/**
 * The format and protocol allow-lists, with the real ffprobe and ffmpeg: a media file is read; a
 * playlist or a list of files that names other files of the machine is refused before anything
 * it names is opened, with a reason that names what it is.
 */
const dir = scratchDir('gilfoyle-source-formats');
let clip: string;
let other: string;

beforeAll(async () => {
  clip = path.join(dir(), 'clip.mp4');
  await makeVideo(clip, { seconds: 2, width: 320, height: 240 });
  // Another media's rendition: an fMP4 HLS playlist and its segments, as the store keeps them.
  other = path.join(dir(), 'other');
  await mkdir(other);
  await runFfmpeg('ffmpeg', [
    '-v', 'error', '-i', clip, '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_segment_type', 'fmp4',
    '-hls_playlist_type', 'vod', path.join(other, 'index.m3u8'),
  ]); // prettier-ignore
}, 60_000);

/** What ffprobe (as the probe activity runs it) makes of `file`: the reason it is refused, or null. */
async function probeRefusal(file: string): Promise<string | null> {
  let raw: RawProbe;
  try {
    raw = JSON.parse(await runFfprobe('ffprobe', ffprobeArgs(file))) as RawProbe;
  } catch (err) {
    if (err instanceof FfmpegError) return unreadableReason(err.stderrTail, file);
    throw err;
  }
  return unplayableReason(parseProbe(raw), raw);
}

it('takes a media container: its probe and its format name', async () => {
  expect(await probeRefusal(clip)).toBeNull();
  expect(isMediaFormat('mov,mp4,m4a,3gp,3g2,mj2')).toBe(true);
  expect(isMediaFormat('matroska,webm')).toBe(true);
  expect(isMediaFormat('hls')).toBe(false);
});

it.each([
  [
    'an HLS playlist naming another media’s segments by path',
    'evil.m3u8',
    () => `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MAP:URI="${path.join(other, 'init.mp4')}"
#EXTINF:1.0,
${path.join(other, 'index0.m4s')}
#EXTINF:1.0,
../other/index1.m4s
#EXT-X-ENDLIST
`,
    /the file is an HLS playlist \(format hls\), not a video or audio file/,
  ],
  [
    'an HLS playlist naming another media’s playlist',
    'master.m3u8',
    () => `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\n${path.join(other, 'index.m3u8')}\n`,
    /the file is an HLS playlist \(format hls\)/,
  ],
  [
    'an FFmpeg concat list',
    'list.txt',
    () => `ffconcat version 1.0\nfile '${clip}'\n`,
    /the file is an FFmpeg concat list \(format concat\)/,
  ],
] as const)('refuses %s at the probe, naming it', async (_what, name, content, reason) => {
  const file = path.join(dir(), 'uploads', name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content());
  // Stored without its name, as an upload is.
  const stored = path.join(dir(), 'uploads', `source-${name.replace(/\W/g, '')}`);
  await writeFile(stored, content());
  for (const f of [file, stored]) {
    const refusal = await probeRefusal(f);
    expect(refusal).toMatch(reason);
  }
});

it('an encode reads no playlist either, and writes nothing of what it names', async () => {
  const playlist = path.join(dir(), 'sneaky.m3u8');
  await writeFile(
    playlist,
    `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI="${path.join(other, 'init.mp4')}"\n#EXTINF:1.0,\n${path.join(other, 'index0.m4s')}\n#EXT-X-ENDLIST\n`,
  );
  const out = path.join(dir(), 'sneaky-out');
  await mkdir(out);
  const rung: VideoRendition = {
    type: 'video',
    name: '240p',
    codec: 'h264',
    width: 320,
    height: 240,
    frameRate: 25,
    videoBitrate: 300,
    maxRate: 320,
    gopFrames: 50,
    segmentSeconds: 1,
  };
  const args = encodeRenditionArgs(rung, { input: playlist, outputDir: out, preset: 'ultrafast', threads: 1 });
  const failure = await runFfmpeg('ffmpeg', args).then(
    () => null,
    (err: unknown) => err as FfmpegError,
  );
  expect(failure).toBeInstanceOf(FfmpegError);
  expect(refusedFormatIn(failure!.stderrTail)).toBe('hls');
  expect((await readdir(out)).filter((f) => f.endsWith('.m4s') || f.endsWith('.mp4'))).toEqual([]);
});
