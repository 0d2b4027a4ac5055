import { isChunked, planChunks, segmentFrames } from '../../src/domain/chunks.ts';
import type { VideoRendition } from '../../src/domain/renditions.ts';
import { buildDashManifest } from '../../src/media/dash.ts';
import { encodeRenditionArgs } from '../../src/media/ffmpeg-args.ts';
import { buildMediaPlaylist, type VariantEntry } from '../../src/media/hls.ts';

const rung = (frameRate: number, gopFrames: number): VideoRendition => ({
  type: 'video',
  name: '360p',
  codec: 'h264',
  width: 640,
  height: 360,
  frameRate,
  videoBitrate: 800,
  maxRate: 856,
  gopFrames,
  segmentSeconds: 4,
});

describe('planChunks', () => {
  it('cuts a source into whole segments on the frame grid, numbering segments on across chunks', () => {
    const chunks = planChunks(60, rung(30, 60), 12);
    expect(chunks.map((c) => [c.index, c.start, c.frames, c.seconds, c.firstSegment])).toEqual([
      [0, 0, 360, 12, 0],
      [1, 12, 360, 12, 3],
      [2, 24, 360, 12, 6],
      [3, 36, 360, 12, 9],
      [4, 48, null, 12, 12],
    ]);
  });

  it('keeps a last chunk that is shorter, to the end of the source', () => {
    const chunks = planChunks(30.5, rung(30, 60), 12);
    expect(chunks.map((c) => [c.start, c.frames, c.seconds])).toEqual([
      [0, 360, 12],
      [12, 360, 12],
      [24, null, 6.5],
    ]);
  });

  it('counts frames, not seconds, at NTSC rates: every chunk starts on a segment boundary of the rung', () => {
    const r = rung(29.97, 60);
    expect(segmentFrames(r)).toBe(120);
    const chunks = planChunks(120, r, 12);
    // 360 frames a chunk: 12.012 s at 29.97 fps.
    expect(chunks[1]!.start).toBeCloseTo(360 / 29.97, 9);
    expect(chunks.every((c) => c.frames === null || c.frames === 360)).toBe(true);
    expect(chunks).toHaveLength(10);
  });

  it('does not make a chunk of a rounding error at the end', () => {
    expect(planChunks(24.00001, rung(30, 60), 12)).toHaveLength(2);
  });

  it('chunks only sources longer than the threshold and than one chunk, and never when chunking is off', () => {
    const c = { chunkSeconds: 12, thresholdSeconds: 30 };
    expect(isChunked(20, c)).toBe(false);
    expect(isChunked(30, c)).toBe(false);
    expect(isChunked(31, c)).toBe(true);
    expect(isChunked(600, { ...c, chunkSeconds: 0 })).toBe(false);
    expect(isChunked(600, undefined)).toBe(false);
  });
});

describe('the argv of one chunk', () => {
  const r = rung(30, 60);
  const [, second, last] = planChunks(30, r, 12);
  const base = { input: 'https://store/source?sig', outputDir: '/t/out', preset: 'veryfast', threads: 1 } as const;
  const around = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it('seeks before the input and reads only its range, encodes exactly its frames, and continues the numbering and the timeline', () => {
    const args = encodeRenditionArgs(r, { ...base, chunk: second!, timelineOffset: 1 });
    expect(args.indexOf('-ss')).toBeLessThan(args.indexOf('-i'));
    expect(around(args, '-ss')).toBe('12');
    expect(around(args, '-t')).toBe('12.25');
    expect(around(args, '-frames:v')).toBe('360');
    expect(around(args, '-output_ts_offset')).toBe('13');
    expect(around(args, '-start_number')).toBe('3');
    expect(around(args, '-hls_segment_options')).toBe('movflags=+frag_discont');
    // Read from the object store, it reconnects through a blip.
    expect(args.indexOf('-reconnect')).toBeLessThan(args.indexOf('-i'));
    expect(encodeRenditionArgs(r, { ...base, input: '/local/source', chunk: second! })).not.toContain('-reconnect');
  });

  it('reads the last chunk to the end of the source', () => {
    const args = encodeRenditionArgs(r, { ...base, chunk: last!, timelineOffset: 1 });
    expect(around(args, '-ss')).toBe('24');
    expect(args).not.toContain('-t');
    expect(args).not.toContain('-frames:v');
  });

  it('writes a live encode’s playlist whole after every segment (EVENT, temp_file)', () => {
    const args = encodeRenditionArgs(
      { type: 'audio', name: 'audio', audioBitrate: 128, channels: 2, segmentSeconds: 4 },
      { ...base, live: true, timelineOffset: 1 },
    );
    expect(around(args, '-hls_playlist_type')).toBe('event');
    expect(around(args, '-hls_flags')).toBe('independent_segments+temp_file');
  });
});

describe('playlists of chunked renditions', () => {
  const segments = [
    { uri: '360p_00000.m4s', duration: 4 },
    { uri: '360p_00001.m4s', duration: 4 },
  ];

  it('grows as an EVENT playlist without ENDLIST until it is complete, then is VOD', () => {
    const event = buildMediaPlaylist({
      initUri: '360p_init.mp4',
      segments,
      targetDuration: 4,
      type: 'EVENT',
      ended: false,
    });
    expect(event).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(event).not.toContain('#EXT-X-ENDLIST');
    const vod = buildMediaPlaylist({ initUri: '360p_init.mp4', segments, targetDuration: 4, type: 'VOD', ended: true });
    expect(vod.split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:4',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MAP:URI="360p_init.mp4"',
      '#EXTINF:4.000000,',
      '360p_00000.m4s',
      '#EXTINF:4.000000,',
      '360p_00001.m4s',
      '#EXT-X-ENDLIST',
      '',
    ]);
  });

  it('tells DASH players where the timeline starts (SegmentTimeline t and presentationTimeOffset)', () => {
    const v: VariantEntry = {
      type: 'video',
      name: '360p',
      playlist: '360p.m3u8',
      init: '360p_init.mp4',
      segments,
      bandwidth: 900_000,
      averageBandwidth: 800_000,
      codecs: 'avc1.64001e',
      width: 640,
      height: 360,
      frameRate: 30,
      timelineOffset: 1,
    };
    const mpd = buildDashManifest([v], 8, 4);
    expect(mpd).toContain('presentationTimeOffset="1000"');
    expect(mpd).toContain('<S t="1000" d="4000" r="1"/>');
    expect(buildDashManifest([{ ...v, timelineOffset: undefined }], 8, 4)).not.toContain('presentationTimeOffset');
  });
});
