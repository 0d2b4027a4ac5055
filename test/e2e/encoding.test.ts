import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { versionOf } from '../../src/api/routes/stream/caching.ts';
import { apiClient, type MediaJson } from '../helpers/api.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeAudio, makeVideo, probeStreams, type VideoOptions } from '../helpers/media.ts';
import { checkDash, checkFaststart, checkLadder, checkStoryboard } from '../helpers/output-checks.ts';
import { loggingFfmpeg, SCHED_IDLE, SCHED_OTHER } from '../helpers/pipeline.ts';
import { repoRoot, waitFor } from '../helpers/services.ts';

/**
 * What a streaming service ships, checked on real output: a ladder with aligned keyframes,
 * HLS and DASH over the same segments, an MP4 download, poster and storyboard, playable early.
 */
const defaultRungs = [
  { name: '1080p', height: 1080, video_bitrate: 5000 },
  { name: '720p', height: 720, video_bitrate: 2800 },
  { name: '480p', height: 480, video_bitrate: 1400 },
  { name: '360p', height: 360, video_bitrate: 800 },
];

const dir = scratchDir('gilfoyle-encoding');

interface Processed {
  media: MediaJson & { links: Record<string, string | null> };
  streamDir: string;
  /** Status the media had when it first reported playable. */
  statusWhenPlayable: string | null;
  /** `progress` values seen while Processing. */
  progressSeen: number[];
}

/** Uploads a generated source and waits until the media is Ready, noting when it became playable. */
async function processSource(g: RunningGilfoyle, file: string, kind: 'video' | 'audio' = 'video'): Promise<Processed> {
  const api = apiClient(g.url);
  const { body } = await api.createMedia(path.basename(file));
  const id = body.data.id;
  expect((await api.upload(id, kind, file)).status).toBe(200);
  let statusWhenPlayable: string | null = null;
  const progressSeen: number[] = [];
  const media = await waitFor(
    `media ${id} Ready`,
    async () => {
      const m = (await api.getMedia(id)).body.data as Processed['media'];
      if (m.playable && !statusWhenPlayable) statusWhenPlayable = m.status;
      if (m.status === 'Processing') progressSeen.push(m.progress);
      if (m.status === 'Errored') throw new Error(`media errored: ${m.error}`);
      return m.status === 'Ready' ? m : undefined;
    },
    180_000,
    100,
  );
  return { media, streamDir: path.join(g.storageRoot, 'medias', id, 'stream'), statusWhenPlayable, progressSeen };
}

const source = async (name: string, o: VideoOptions) => {
  const file = path.join(dir(), name);
  await makeVideo(file, o);
  return file;
};

const dims = async (file: string) => {
  const v = (await probeStreams(file)).find((s) => s.codec_type === 'video')!;
  return `${v.width}x${v.height}`;
};

describe('the default ladder, plus a 240p rung', () => {
  let g: RunningGilfoyle;
  let ffmpeg: Awaited<ReturnType<typeof loggingFfmpeg>>;
  beforeAll(async () => {
    ffmpeg = await loggingFfmpeg(dir());
    g = await startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
        ...defaultRungs,
        { name: '240p', height: 240, video_bitrate: 400 },
      ]),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_ENCODING_FFMPEG_PATH: ffmpeg.path,
    });
  }, 120_000);
  afterAll(() => g?.stop());

  it('encodes a 1080p source to every rung, playable early, as HLS, DASH, MP4, poster and storyboard', async () => {
    const file = await source('landscape-1080p.mp4', { seconds: 8, width: 1920, height: 1080, fps: 30 });
    const { media, streamDir, statusWhenPlayable, progressSeen } = await processSource(g, file);
    // The playable rung (240p, the smallest) at normal CPU priority; the ladder, pictures and
    // download only on spare cycles (SCHED_IDLE).
    const ffmpegs = (await ffmpeg.runs()).filter((f) => f.args.includes(`medias/${media.id}/`));
    const policyOf = (rung: string) => ffmpegs.find((f) => f.args.includes(`/${rung}_%05d.m4s`))?.policy;
    expect(policyOf('240p')).toBe(SCHED_OTHER);
    expect(['1080p', '720p', '480p', '360p'].map(policyOf)).toEqual([SCHED_IDLE, SCHED_IDLE, SCHED_IDLE, SCHED_IDLE]);
    expect(ffmpegs.filter((f) => f.args.includes('download.mp4')).map((f) => f.policy)).toEqual([SCHED_IDLE]);
    // Playable with the smallest rung while the rest of the ladder was still encoding.
    expect(statusWhenPlayable).toBe('Processing');
    // Progress went through intermediate values, and every temp folder is gone.
    expect(progressSeen.some((p) => p > 0 && p < 100)).toBe(true);
    expect(progressSeen.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(await readdir(g.tempDir)).toEqual([]);

    const ladder = await checkLadder(streamDir);
    expect(ladder.variants.map((v) => `${v.width}x${v.height}`)).toEqual([
      '1920x1080',
      '1280x720',
      '854x480',
      '640x360',
      '426x240',
    ]);
    expect(ladder.keyframeTimes).toEqual([0, 2, 4, 6].map((t) => expect.closeTo(t, 1)));
    for (const v of ladder.variants) {
      expect(v.rendition.targetDuration).toBe(4);
      expect(v.rendition.video?.codec).toBe('h264');
      expect(v.frameRate).toBeCloseTo(30, 1);
    }
    expect(ladder.master.variants[0]!.codecs).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
    expect(ladder.audio?.rendition.audio?.codec).toBe('aac');
    // The source's audio is mono AAC-LC at 48 kHz and 96 kb/s: copied, not encoded again, and the
    // master playlist and the DASH manifest say it is mono.
    expect(ladder.audio?.rendition.audio?.channels).toBe(1);
    expect(await readFile(path.join(streamDir, 'master.m3u8'), 'utf8')).toContain('CHANNELS="1"');
    expect(await readFile(path.join(streamDir, 'manifest.mpd'), 'utf8')).toContain(
      'audio_channel_configuration:2011" value="1"',
    );
    // Copied: about the source's 96 kb/s, where an encode would be about 128 kb/s.
    expect(ladder.audio!.rendition.averageBitrate).toBeLessThan(112_000);

    const dash = await checkDash(streamDir);
    expect(dash.mediaPresentationDuration).toBeCloseTo(8, 0);
    expect(dash.representations.map((r) => r.id).sort()).toEqual(['1080p', '240p', '360p', '480p', '720p', 'audio']);

    const download = path.join(streamDir, 'download.mp4');
    await checkFaststart(download);
    const streams = await probeStreams(download);
    expect(streams.map((s) => s.codec_type).sort()).toEqual(['audio', 'video']);
    expect(await dims(download)).toBe('1280x720');

    expect(await dims(path.join(streamDir, 'poster.jpg'))).toBe('1280x720');
    const storyboard = await checkStoryboard(streamDir, 8);
    expect(storyboard.cues).toHaveLength(8);

    expect(media.links).toMatchObject({
      master: `/medias/${media.id}/stream/master.m3u8`,
      dash: `/medias/${media.id}/stream/manifest.mpd`,
      // The files a run writes once carry its version (a CDN keeps them a year).
      download: `/medias/${media.id}/stream/download.mp4?v=${versionOf({ workflow_run_id: media.workflow!.run_id })}`,
      poster: `/medias/${media.id}/stream/poster.jpg?v=${versionOf({ workflow_run_id: media.workflow!.run_id })}`,
      storyboard: `/medias/${media.id}/stream/storyboard.vtt?v=${versionOf({ workflow_run_id: media.workflow!.run_id })}`,
    });
    for (const [file, type] of [
      ['manifest.mpd', 'application/dash+xml'],
      ['download.mp4', 'video/mp4'],
      ['poster.jpg', 'image/jpeg'],
      ['storyboard.vtt', 'text/vtt; charset=utf-8'],
      ['storyboard.jpg', 'image/jpeg'],
    ]) {
      const res = await fetch(`${g.url}/medias/${media.id}/stream/${file}`);
      expect([file, res.status, res.headers.get('content-type')]).toEqual([file, 200, type]);
    }
    const renditions = (await (await fetch(`${g.url}/medias/${media.id}/renditions`)).json()) as {
      data: { name: string; status: string; progress: number; codecs: string }[];
    };
    expect(renditions.data.map((r) => [r.name, r.status, r.progress])).toEqual(
      ['1080p', '720p', '480p', '360p', '240p', 'audio'].map((n) => [n, 'Ready', 100]),
    );
    const events = (await apiClient(g.url).events(media.id)).map((e) => e.type);
    expect(events.indexOf('media.playable')).toBeLessThan(events.indexOf('media.ready'));
    expect(events).toEqual(expect.arrayContaining(['media.pictures', 'media.download']));
  });

  it('keeps a rotated phone video upright', async () => {
    const file = await source('portrait-rotated.mp4', { seconds: 3, width: 640, height: 360, rotate: 90 });
    const { streamDir } = await processSource(g, file);
    const ladder = await checkLadder(streamDir);
    expect(ladder.variants.map((v) => `${v.width}x${v.height}`)).toEqual(['360x640', '240x426']);
    expect(await dims(path.join(streamDir, 'poster.jpg'))).toBe('360x640');
    await checkStoryboard(streamDir, 3);
  });

  it('gives an odd-sized source even dimensions with its aspect', async () => {
    const file = await source('odd-853x481.mp4', { seconds: 3, width: 853, height: 481 });
    const { streamDir } = await processSource(g, file);
    const ladder = await checkLadder(streamDir);
    expect(ladder.variants.map((v) => `${v.width}x${v.height}`)).toEqual(['852x480', '638x360', '426x240']);
  });

  it('encodes a source without audio as video-only HLS, DASH and MP4', async () => {
    const file = await source('silent.mp4', { seconds: 3, audio: false });
    const { streamDir, media } = await processSource(g, file);
    const ladder = await checkLadder(streamDir);
    expect(ladder.master.audio).toEqual([]);
    expect(ladder.master.variants.every((v) => !v.codecs.includes('mp4a'))).toBe(true);
    expect((await checkDash(streamDir)).representations.every((r) => r.id !== 'audio')).toBe(true);
    expect((await probeStreams(path.join(streamDir, 'download.mp4'))).map((s) => s.codec_type)).toEqual(['video']);
    expect(media.links.download).toMatch(/download\.mp4\?v=[\w-]{10}$/);
  });

  it('turns a variable frame rate source into constant frame rate', async () => {
    const file = await source('vfr.mp4', { seconds: 4, fps: 30, vfr: true });
    const { streamDir } = await processSource(g, file);
    await checkLadder(streamDir);
    const { stdout } = await execa('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=pts_time',
      '-of',
      'csv=p=0',
      path.join(streamDir, '360p.m3u8'),
    ]);
    const pts = stdout
      .trim()
      .split('\n')
      .map(Number)
      .sort((a, b) => a - b);
    const gaps = pts.slice(1).map((t, i) => t - pts[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThan(0.002);
  });

  it('downmixes 5.1 audio to stereo', async () => {
    const file = await source('surround.mp4', { seconds: 3, audioLayout: '5.1' });
    const { streamDir } = await processSource(g, file);
    const audio = (await probeStreams(path.join(streamDir, 'audio.m3u8'))) as {
      codec_type: string;
      channels?: number;
    }[];
    expect(audio.find((s) => s.codec_type === 'audio')?.channels).toBe(2);
  });

  it('gives an audio-only media AAC HLS and an M4A download, without pictures', async () => {
    const file = path.join(dir(), 'song.m4a');
    await makeAudio(file, { seconds: 5 });
    const { streamDir, media } = await processSource(g, file, 'audio');
    const ladder = await checkLadder(streamDir);
    expect(ladder.audioOnly).toBe(true);
    await checkFaststart(path.join(streamDir, 'download.m4a'));
    expect(media.links).toMatchObject({
      download: expect.stringMatching(/\/stream\/download\.m4a\?v=[\w-]{10}$/),
      poster: null,
      storyboard: null,
    });
    expect((await fetch(`${g.url}/medias/${media.id}/stream/download.m4a`)).headers.get('content-type')).toBe(
      'audio/mp4',
    );
  });
});

describe('codecs per rung', () => {
  let g: RunningGilfoyle;
  beforeAll(async () => {
    g = await startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
        { name: 'h264', height: 360, video_bitrate: 600 },
        { name: 'hevc', height: 240, video_bitrate: 300, codec: 'hevc' },
        { name: 'av1', height: 144, video_bitrate: 150, codec: 'av1' },
      ]),
      GILFOYLE_ENCODING_PRESET: 'veryfast',
    });
  }, 120_000);
  afterAll(() => g?.stop());

  it('encodes HEVC and AV1 rungs with their CODECS strings and aligned keyframes', async () => {
    const file = await source('codecs.mp4', { seconds: 4 });
    const { streamDir } = await processSource(g, file);
    // Same GOP on every rung; H.264's and HEVC's B-frames delay pictures by two frames (80 ms), AV1's do not.
    const ladder = await checkLadder(streamDir, { keyframeTolerance: 0.1 });
    expect(ladder.keyframeTimes).toHaveLength(2);
    const codecs = Object.fromEntries(ladder.master.variants.map((v) => [v.uri, v.codecs]));
    expect(codecs['h264.m3u8']).toMatch(/^avc1\.64/);
    expect(codecs['hevc.m3u8']).toMatch(/^hvc1\.1\.6\.L\d+\.[0-9A-F]{2}(\.[0-9A-F]{2})*,mp4a\.40\.2$/);
    expect(codecs['av1.m3u8']).toMatch(/^av01\.0\.\d\dM\.08,mp4a\.40\.2$/);
    const dash = await checkDash(streamDir);
    expect(dash.representations.map((r) => r.codecs.split('.')[0]).sort()).toEqual(['av01', 'avc1', 'hvc1', 'mp4a']);
  });

  it('refuses at start-up a codec the ffmpeg lacks, naming the key', async () => {
    const fake = path.join(dir(), 'ffmpeg-without-x265.sh');
    const { writeFile, chmod } = await import('node:fs/promises');
    await writeFile(
      fake,
      '#!/bin/sh\nif [ "$2" = "-encoders" ]; then ffmpeg -hide_banner -encoders | grep -v libx265; else exec ffmpeg "$@"; fi\n',
    );
    await chmod(fake, 0o755);
    const run = await execa('node', ['bin/gilfoyle.js', 'worker'], {
      cwd: repoRoot,
      reject: false,
      timeout: 60_000,
      env: {
        GILFOYLE_CONFIG: path.join(repoRoot, 'test/helpers/none.yml'),
        GILFOYLE_ENCODING_FFMPEG_PATH: fake,
        GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
          { name: 'hevc', height: 240, video_bitrate: 300, codec: 'hevc' },
        ]),
      },
    });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('encoding.renditions.0.codec: hevc needs the ffmpeg encoder libx265');
  });
});

describe('retries', () => {
  let g: RunningGilfoyle;
  beforeAll(async () => {
    // An ffmpeg that fails every encode of the rung named "flaky", as a crashing encoder would.
    const fake = path.join(dir(), 'ffmpeg-flaky.sh');
    const { writeFile, chmod } = await import('node:fs/promises');
    await writeFile(
      fake,
      '#!/bin/sh\ncase "$*" in *flaky.m3u8*) echo "x264 [error]: malloc of size 123 failed" >&2; exit 1;; esac\nexec ffmpeg "$@"\n',
    );
    await chmod(fake, 0o755);
    g = await startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
        { name: 'good', height: 360, video_bitrate: 600 },
        { name: 'flaky', height: 240, video_bitrate: 300 },
      ]),
      GILFOYLE_ENCODING_FFMPEG_PATH: fake,
      GILFOYLE_ENCODING_MAX_ATTEMPTS: '2',
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
    });
  }, 120_000);
  afterAll(() => g?.stop());

  it('ends Errored after the last attempt, with each attempt’s ffmpeg error in the events', async () => {
    const file = await source('retried.mp4', { seconds: 2 });
    const api = apiClient(g.url);
    const { body } = await api.createMedia('retried');
    await api.upload(body.data.id, 'video', file);
    const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
    expect(media.status).toBe('Errored');
    expect(media.error).toMatch(/malloc of size 123 failed/);
    const attempts = (await api.events(body.data.id)).filter((e) => e.type === 'rendition.attempt_failed');
    expect(attempts.map((e) => [e.data.rendition, e.data.attempt])).toEqual([
      ['flaky', 1],
      ['flaky', 2],
    ]);
    for (const e of attempts) expect(String(e.data.stderr)).toContain('x264 [error]: malloc of size 123 failed');
    const renditions = await api.renditions(body.data.id);
    expect(renditions.find((r) => r.name === 'flaky')).toMatchObject({ attempts: 2, status: 'Errored' });
    // The second attempt is counted as a retry, both as failures, on /metrics.
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toMatch(/^gilfoyle_activity_retries_total\{activity="encodeRendition"\} 1$/m);
    expect(metrics).toMatch(/^gilfoyle_activity_failures_total\{activity="encodeRendition",type="FfmpegError"\} 2$/m);
    // Each attempt's temp folder was removed; the good rung may still be finishing, so wait for it.
    await waitFor(
      'temp folders removed',
      async () => ((await readdir(g.tempDir)).length === 0 ? true : undefined),
      30_000,
    );
  });
});
