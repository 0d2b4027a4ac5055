import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { apiClient, type EventJson, type MediaJson } from '../helpers/api.ts';
import { startGilfoyle, storedSourceKey, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { decodeFully, makeAudio, makeVideo, noise } from '../helpers/media.ts';
import { checkLadder, mp4TopLevelBoxes } from '../helpers/output-checks.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { waitFor } from '../helpers/services.ts';

/**
 * The bad-input corpus: odd, broken and extreme files, each generated here, uploaded to a
 * running `gilfoyle all`, and each must end either Ready with correct output or Errored with
 * an event whose message names the cause in words a user understands. Gilfoyle itself must
 * survive all of it and leave no temp files behind.
 *
 * CORPUS_LONG_AUDIO_SECONDS sets the length of the long silent audio (default 20 minutes; a
 * long run, e.g. `npm run test:chaos`, may use 7200).
 */
const longAudioSeconds = Number(process.env.CORPUS_LONG_AUDIO_SECONDS ?? 1200);
/** How long one case may take from upload to Ready or Errored: more for a longer audio. */
const caseTimeoutMs = 150_000 + longAudioSeconds * 25;
const ladder = [
  { name: '360p', height: 360, video_bitrate: 500 },
  { name: '240p', height: 240, video_bitrate: 250 },
];

const dir = scratchDir('gilfoyle-bad-input');
const run = (args: string[]) => execa('ffmpeg', ['-v', 'error', '-y', ...args]);

/** Byte offset of a top-level ISO-BMFF box. */
function boxOffset(bytes: Buffer, type: string): number {
  for (let at = 0; at + 8 <= bytes.length;) {
    const size = bytes.readUInt32BE(at);
    if (bytes.toString('latin1', at + 4, at + 8) === type) return at;
    if (size < 8) break;
    at += size;
  }
  throw new Error(`no top-level ${type} box`);
}

interface StreamFacts {
  codec_type: string;
  codec_name: string;
  profile?: string;
  pix_fmt?: string;
  channels?: number;
  width?: number;
  height?: number;
}
const streamsOf = async (file: string): Promise<StreamFacts[]> =>
  (
    JSON.parse((await execa('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file])).stdout) as {
      streams: StreamFacts[];
    }
  ).streams;

interface ReadyContext {
  media: MediaJson;
  streamDir: string;
  /** Every rendition's playlist file name (video variants, then the audio rendition). */
  playlists: string[];
}

type Outcome =
  | {
      status: 'Ready';
      /** Seconds, as the media reports it and as every rendition lasts. */
      duration: number;
      /** Video renditions expected, as WxH (in any order); [] for an audio-only media. */
      renditions: string[];
      /** Whether an audio rendition is expected. */
      audio: boolean;
      check?: (c: ReadyContext) => Promise<void>;
    }
  | { status: 'Errored'; error: RegExp };

interface Case {
  input: string;
  file: string;
  kind: 'video' | 'audio';
  make(file: string): Promise<void>;
  expected: Outcome;
}

const ready = (
  duration: number,
  renditions: string[],
  audio: boolean,
  check?: (c: ReadyContext) => Promise<void>,
): Outcome => ({ status: 'Ready', duration, renditions, audio, ...(check ? { check } : {}) });
const errored = (error: RegExp): Outcome => ({ status: 'Errored', error });

const corpus: Case[] = [
  {
    input: 'zero bytes',
    file: 'empty.mp4',
    kind: 'video',
    make: (f) => writeFile(f, Buffer.alloc(0)),
    expected: errored(/the uploaded file is empty \(0 bytes\)/),
  },
  {
    input: 'plain text named .mp4',
    file: 'notes.mp4',
    kind: 'video',
    make: (f) => writeFile(f, 'this is not a video, just some text\n'.repeat(50)),
    expected: errored(/not a video or audio file/),
  },
  {
    input: 'a JPEG photo',
    file: 'photo.jpg',
    kind: 'video',
    make: (f) => run(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-frames:v', '1', f]).then(() => undefined),
    expected: errored(/still image \(JPEG\), not a video/),
  },
  {
    input: 'a PNG picture',
    file: 'picture.png',
    kind: 'video',
    make: (f) => run(['-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', f]).then(() => undefined),
    expected: errored(/still image \(PNG\), not a video/),
  },
  {
    input: 'MP4 cut before its moov atom',
    file: 'no-moov.mp4',
    kind: 'video',
    make: async (f) => {
      // Without +faststart the moov (the index) is written last: cutting before it loses it.
      await makeVideo(`${f}.full.mp4`, { seconds: 2, width: 320, height: 240 });
      const bytes = await readFile(`${f}.full.mp4`);
      await writeFile(f, bytes.subarray(0, boxOffset(bytes, 'moov')));
    },
    expected: errored(/incomplete MP4 or MOV file: its index \(the moov atom\) is missing/),
  },
  {
    input: 'MPEG-TS with 16 KiB of noise in the middle',
    file: 'corrupt-middle.ts',
    kind: 'video',
    make: async (f) => {
      await run([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=25:duration=4',
        '-f',
        'lavfi',
        '-i',
        'sine=duration=4',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'aac',
        '-f',
        'mpegts',
        `${f}.clean.ts`,
      ]);
      const bytes = await readFile(`${f}.clean.ts`);
      noise(16 * 1024).copy(bytes, Math.floor(bytes.length / 2));
      await writeFile(f, bytes);
    },
    // FFmpeg decodes past the damage: a few frames are lost or smeared, the timeline is whole.
    expected: ready(4, ['320x240'], true),
  },
  {
    input: 'MP4 with 16 KiB of noise in the middle of its mdat',
    file: 'corrupt-mdat.mp4',
    kind: 'video',
    make: async (f) => {
      await makeVideo(`${f}.clean.mp4`, { seconds: 4, width: 320, height: 240 });
      const bytes = await readFile(`${f}.clean.mp4`);
      noise(16 * 1024).copy(bytes, Math.floor(bytes.length / 2));
      await writeFile(f, bytes);
    },
    expected: ready(4, ['320x240'], true),
  },
  {
    input: 'subtitle-only MKV',
    file: 'subtitles.mkv',
    kind: 'video',
    make: async (f) => {
      await writeFile(
        `${f}.srt`,
        '1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,500 --> 00:00:04,000\nWorld\n',
      );
      await run(['-i', `${f}.srt`, '-c:s', 'srt', f]);
    },
    expected: errored(/no video or audio stream \(it holds only subtitles\)/),
  },
  {
    input: 'audio-only file sent to /upload/video',
    file: 'song.mp3',
    kind: 'video',
    make: (f) => makeAudio(f, { seconds: 3 }),
    expected: ready(3, [], true, async ({ streamDir }) => {
      expect(await readdir(streamDir)).toContain('download.m4a');
    }),
  },
  {
    input: 'video sent to /upload/audio',
    file: 'clip-as-audio.mp4',
    kind: 'audio',
    make: (f) => makeVideo(f, { seconds: 3, width: 320, height: 240 }),
    expected: ready(3, [], true, async ({ streamDir }) => {
      const files = await readdir(streamDir);
      expect(files).toContain('download.m4a');
      expect(files).not.toContain('poster.jpg');
    }),
  },
  {
    input: 'video without sound sent to /upload/audio',
    file: 'silent-film.mp4',
    kind: 'audio',
    make: (f) => makeVideo(f, { seconds: 2, width: 320, height: 240, audio: false }),
    expected: errored(/uploaded as audio has no audio stream/),
  },
  {
    input: '16×16 video',
    file: 'tiny-16x16.mp4',
    kind: 'video',
    make: (f) => makeVideo(f, { seconds: 2, width: 16, height: 16 }),
    // Smaller than every rung: one rendition at its own size, never upscaled.
    expected: ready(2, ['16x16'], true),
  },
  {
    input: '7680×4320 (8K) video',
    file: 'huge-8k.mp4',
    kind: 'video',
    make: (f) =>
      run([
        '-f',
        'lavfi',
        '-i',
        'color=c=navy:size=7680x4320:rate=25:duration=0.4',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        f,
      ]).then(() => undefined),
    expected: ready(0.4, ['640x360', '426x240'], false, async ({ streamDir }) => {
      expect((await streamsOf(path.join(streamDir, 'poster.jpg')))[0]).toMatchObject({ width: 1280, height: 720 });
    }),
  },
  {
    input: '0.1 s clip',
    file: 'blink.mp4',
    kind: 'video',
    make: (f) => makeVideo(f, { seconds: 0.1, width: 320, height: 240 }),
    expected: ready(0.1, ['320x240'], true),
  },
  {
    input: `${longAudioSeconds} s of silence, mono, low bitrate`,
    file: 'long-silence.m4a',
    kind: 'audio',
    make: (f) =>
      run([
        '-f',
        'lavfi',
        '-i',
        'anullsrc=r=8000:cl=mono',
        '-t',
        String(longAudioSeconds),
        '-c:a',
        'aac',
        '-b:a',
        '16k',
        f,
      ]).then(() => undefined),
    expected: ready(longAudioSeconds, [], true),
  },
  {
    input: 'HEVC 10-bit',
    file: 'hevc-10bit.mp4',
    kind: 'video',
    make: (f) =>
      run([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=640x360:rate=25:duration=1',
        '-c:v',
        'libx265',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p10le',
        '-x265-params',
        'log-level=error',
        '-tag:v',
        'hvc1',
        f,
      ]).then(() => undefined),
    expected: ready(1, ['640x360', '426x240'], false, async ({ streamDir, playlists }) => {
      for (const p of playlists) {
        // Encoded to H.264 8-bit, which every player decodes.
        const [v] = await streamsOf(path.join(streamDir, p));
        expect(v).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p' });
        expect(v!.profile).not.toMatch(/10|4:2:2|4:4:4/);
      }
    }),
  },
  {
    input: 'VP9 + Opus WebM',
    file: 'vp9-opus.webm',
    kind: 'video',
    make: (f) =>
      run([
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=640x360:rate=25:duration=2',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440:sample_rate=48000:duration=2',
        '-c:v',
        'libvpx-vp9',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-b:v',
        '300k',
        '-c:a',
        'libopus',
        f,
      ]).then(() => undefined),
    expected: ready(2, ['640x360', '426x240'], true),
  },
  {
    input: '5.1 AAC',
    file: 'surround.mp4',
    kind: 'video',
    make: (f) => makeVideo(f, { seconds: 2, width: 320, height: 240, audioLayout: '5.1' }),
    expected: ready(2, ['320x240'], true, async ({ streamDir }) => {
      expect(await streamsOf(path.join(streamDir, 'audio.m3u8'))).toEqual([
        expect.objectContaining({ codec_name: 'aac', channels: 2 }),
      ]);
    }),
  },
  {
    input: 'phone video rotated 90° (portrait)',
    file: 'phone-portrait.mp4',
    kind: 'video',
    make: (f) => makeVideo(f, { seconds: 2, width: 640, height: 360, rotate: 90 }),
    expected: ready(2, ['360x640', '240x426'], true, async ({ streamDir }) => {
      expect((await streamsOf(path.join(streamDir, 'poster.jpg')))[0]).toMatchObject({ width: 360, height: 640 });
    }),
  },
];

/** What one case ended as, or why waiting for it failed. */
type Settled = { media: MediaJson; events: EventJson[]; uploadStatus: number } | { failure: Error };

let g: RunningGilfoyle;
let api: ReturnType<typeof apiClient>;
const outcomes = new Map<string, Promise<Settled>>();
const startedAt = Date.now();

/** Generates the source, creates the media, uploads it and waits until it is Ready or Errored. */
async function processCase(c: Case): Promise<Settled> {
  const file = path.join(dir(), c.file);
  await c.make(file);
  const { body } = await api.createMedia(c.input);
  const up = await api.upload(body.data.id, c.kind, file);
  if (up.status !== 200) return { media: body.data, events: [], uploadStatus: up.status };
  const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored'], caseTimeoutMs);
  return { media, events: await api.events(media.id), uploadStatus: up.status };
}

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify(ladder),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_ENCODING_MAX_ATTEMPTS: '2',
  });
  api = apiClient(g.url);
  // Everything at once: the worker takes two encodes at a time, the rest wait in Temporal.
  for (const c of corpus) {
    outcomes.set(
      c.input,
      processCase(c).catch((err: unknown) => ({ failure: err as Error })),
    );
  }
}, 120_000);

afterAll(() => g?.stop());

/** The case's media ended as expected, and its output (when Ready) is correct. */
async function checkOutcome({ input, expected }: Case): Promise<void> {
  const settled = await outcomes.get(input)!;
  if ('failure' in settled) throw settled.failure;
  const { media, events, uploadStatus } = settled;
  expect(uploadStatus).toBe(200);
  const errorEvents = events.filter((e) => e.type === 'media.errored');

  if (expected.status === 'Errored') {
    expect({ status: media.status, error: media.error }).toEqual({
      status: 'Errored',
      error: expect.stringMatching(expected.error),
    });
    // An event says the same thing; the message is for people: one line, no temp paths, no pointers.
    expect(errorEvents).toEqual([expect.objectContaining({ level: 'error', message: media.error })]);
    expect(media.error).toMatch(/^cannot process this file: /);
    expect(media.error).not.toMatch(/\n|\/tmp\/|gilfoyle-|0x[0-9a-f]{6,}|\[.* @ /);
    expect(media.playable).toBe(false);
    expect((await api.stream(media.id, 'master.m3u8')).status).toBe(425);
    return;
  }

  expect({ status: media.status, error: media.error, errorEvents }).toEqual({
    status: 'Ready',
    error: null,
    errorEvents: [],
  });
  expect(media).toMatchObject({ playable: true, progress: 100 });
  const tolerance = Math.max(0.3, expected.duration * 0.01);
  expect(Math.abs(media.duration! - expected.duration)).toBeLessThanOrEqual(tolerance);
  const master = await api.stream(media.id, 'master.m3u8');
  expect(master.status).toBe(200);
  await master.arrayBuffer();

  const streamDir = path.join(g.storageRoot, 'medias', media.id, 'stream');
  const report = await checkLadder(streamDir);
  expect(report.audioOnly).toBe(expected.renditions.length === 0);
  if (expected.renditions.length > 0) {
    // The master lists variants by measured bandwidth, which on a tiny flat clip need not follow size.
    expect(report.variants.map((v) => `${v.width}x${v.height}`).sort()).toEqual([...expected.renditions].sort());
    for (const v of report.variants) expect(v.rendition.video?.codec).toBe('h264');
  }
  expect(Boolean(report.audio ?? report.variants.some((v) => v.rendition.audio))).toBe(expected.audio);
  const playlists = [
    ...report.variants.filter((v) => v.rendition.video).map((v) => v.uri),
    ...(report.audio ? [report.audio.uri] : report.audioOnly ? report.variants.map((v) => v.uri) : []),
  ];
  for (const p of playlists) {
    const rendition =
      p === report.audio?.uri ? report.audio.rendition : report.variants.find((v) => v.uri === p)!.rendition;
    // Segment durations add up to the source's (a frame or an AAC packet of slack).
    expect(Math.abs(rendition.duration - expected.duration)).toBeLessThanOrEqual(tolerance);
    await decodeFully(path.join(streamDir, p));
  }
  const renditions = await api.renditions(media.id);
  expect(renditions.map((r) => r.status)).toEqual(renditions.map(() => 'Ready'));
  if (report.audioOnly) {
    expect(await mp4TopLevelBoxes(path.join(streamDir, 'download.m4a'))).toContain('moov');
  } else {
    expect(await mp4TopLevelBoxes(path.join(streamDir, 'download.mp4'))).toContain('moov');
  }
  await expected.check?.({ media, streamDir, playlists });
}

describe('the bad-input corpus: each file ends Ready with correct output, or Errored naming the cause', () => {
  it.each(corpus)('$input ($file, /upload/$kind)', checkOutcome, caseTimeoutMs + 30_000);
});

describe('a playlist or a list of files uploaded as a video', () => {
  it.each([
    [
      'an HLS playlist naming another media’s segments, by absolute and relative path',
      'evil.m3u8',
      /^cannot process this file: the file is an HLS playlist \(format hls\), not a video or audio file/,
      (victimDir: string, victimId: string, files: string[]) =>
        [
          '#EXTM3U',
          '#EXT-X-VERSION:7',
          '#EXT-X-TARGETDURATION:4',
          `#EXT-X-MAP:URI="${path.join(
            victimDir,
            files.find((f) => f.endsWith('_init.mp4'))!,
          )}"`,
          ...files
            .filter((f) => f.endsWith('.m4s'))
            .flatMap((f, i) => ['#EXTINF:1.0,', i % 2 ? `../${victimId}/stream/${f}` : path.join(victimDir, f)]),
          '#EXT-X-ENDLIST',
          '',
        ].join('\n'),
    ],
    [
      'an FFmpeg concat list naming another media’s download',
      'list.txt',
      /^cannot process this file: the file is an FFmpeg concat list \(format concat\)/,
      (victimDir: string) => `ffconcat version 1.0\nfile '${path.join(victimDir, 'download.mp4')}'\n`,
    ],
  ] as const)(
    '%s ends Errored naming it, and nothing of the other media reaches it',
    async (_w, name, reason, text) => {
      const victimSource = path.join(dir(), `victim-${name}.mp4`);
      await makeVideo(victimSource, { seconds: 2, width: 320, height: 240 });
      const victim = await api.uploadNew('victim', 'video', victimSource);
      expect((await api.waitForStatus(victim.id, ['Ready', 'Errored'], caseTimeoutMs)).status).toBe('Ready');
      const victimDir = path.join(g.storageRoot, 'medias', victim.id, 'stream');
      const content = text(victimDir, victim.id, await readdir(victimDir));

      const file = path.join(dir(), name);
      await writeFile(file, content);
      const hostile = await api.uploadNew('hostile', 'video', file);
      const errored = await api.waitForStatus(hostile.id, ['Ready', 'Errored'], caseTimeoutMs);
      expect(errored).toMatchObject({ status: 'Errored', playable: false, error: expect.stringMatching(reason) });
      const events = await api.events(hostile.id);
      expect(events.filter((e) => e.type === 'media.errored')).toEqual([
        expect.objectContaining({ level: 'error', message: errored.error }),
      ]);
      // Refused at the probe, once, for good: no rendition was encoded, nothing but the upload is stored.
      expect(events.map((e) => e.type)).not.toContain('rendition.ready');
      const stored = await g.storage.list(`medias/${hostile.id}/`);
      expect(stored).toEqual([await storedSourceKey(g, hostile.id)]);
      expect(await readFile(path.join(g.storageRoot, stored[0]!), 'utf8')).toBe(content);
      expect((await api.stream(hostile.id, 'master.m3u8')).status).toBe(425);
      // The other media is as it was.
      expect((await api.getMedia(victim.id)).body.data).toMatchObject({ status: 'Ready', playable: true });
    },
    2 * caseTimeoutMs,
  );
});

describe('after the whole corpus', () => {
  it('Gilfoyle is still up, logged no crash and freed its temp space', async () => {
    await Promise.all(outcomes.values());
    // Signal 0 throws when the process is gone.
    expect(() => process.kill(g.pid, 0)).not.toThrow();
    const health = await fetch(`${g.url}/healthz`);
    expect(health.status).toBe(200);
    expect(g.logs()).not.toMatch(/"level":(50|60)|uncaught|unhandled|out of memory|segmentation fault|core dumped/i);
    // Every attempt's temp folder is removed; an activity still winding down gets a moment.
    await waitFor(
      'the worker temp folder to be empty',
      async () => ((await readdir(g.tempDir)).length === 0 ? true : undefined),
      30_000,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${(await readdir(g.tempDir)).join(', ')}`);
    });
    // What each file ended as, for whoever reads the test output.
    const table = await Promise.all(
      corpus.map(async (c) => {
        const s = await outcomes.get(c.input)!;
        const outcome =
          'failure' in s
            ? `test failure: ${s.failure.message}`
            : s.media.status === 'Ready'
              ? `Ready, ${s.media.duration} s`
              : `${s.media.status}: ${s.media.error}`;
        return `  ${c.input} → ${outcome}`;
      }),
    );
    console.log(
      `bad-input corpus: ${corpus.length} files in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n${table.join('\n')}`,
    );
  }, 60_000);
});
