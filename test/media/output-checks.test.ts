/**
 * The output checks must catch real problems: every "fails" case below is an output ffmpeg
 * really produces with a wrong flag (scene-cut keyframes, split_by_time, no faststart) or a
 * hand-edited file with one defect; every "passes" case is a correct output.
 */
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import {
  checkDash,
  checkFaststart,
  checkHlsRendition,
  checkLadder,
  checkStoryboard,
  keyframeTimes,
  mp4Boxes,
  mp4TopLevelBoxes,
  parseIsoDuration,
  parseMaster,
  type HlsRenditionReport,
} from '../helpers/output-checks.ts';

const seconds = 6;
const fps = 25;
let dir: string;

/** 6 s of testsrc2 cutting to smptebars at 2.6 s: a scene cut x264 turns into a keyframe unless told not to. */
const scene = (w: number, h: number) =>
  `testsrc2=s=${w}x${h}:r=${fps}:d=2.6[a];smptebars=s=${w}x${h}:r=${fps}:d=${seconds - 2.6}[b];[a][b]concat=n=2:v=1:a=0[v]`;
const fixedGop = ['-g', '50', '-keyint_min', '50', '-sc_threshold', '0'];

async function videoRung(name: string, w: number, h: number, { gop = fixedGop, hls = ['-hls_time', '2'] } = {}) {
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-filter_complex',
    scene(w, h),
    '-map',
    '[v]',
    '-c:v',
    'libx264',
    '-preset',
    'superfast',
    '-pix_fmt',
    'yuv420p',
    '-threads',
    '1',
    ...gop,
    '-f',
    'hls',
    '-hls_segment_type',
    'fmp4',
    '-hls_playlist_type',
    'vod',
    ...hls,
    '-hls_fmp4_init_filename',
    `${name}_init.mp4`,
    '-hls_segment_filename',
    path.join(dir, `${name}_%05d.m4s`),
    path.join(dir, `${name}.m3u8`),
  ]);
}

async function audioRendition() {
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'hls',
    '-hls_segment_type',
    'fmp4',
    '-hls_playlist_type',
    'vod',
    '-hls_time',
    '2',
    '-hls_fmp4_init_filename',
    'audio_init.mp4',
    '-hls_segment_filename',
    path.join(dir, 'audio_%05d.m4s'),
    path.join(dir, 'audio.m3u8'),
  ]);
}

async function progressive(file: string, faststart: boolean) {
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=s=160x90:r=25:d=2',
    '-f',
    'lavfi',
    '-i',
    'sine=duration=2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    ...(faststart ? ['-movflags', '+faststart'] : []),
    path.join(dir, file),
  ]);
}

async function sprite() {
  // 6 thumbnails of 80x45 in a 3x2 grid → a 240x90 sheet.
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-filter_complex',
    `${scene(320, 180)};[v]fps=1,scale=80:45,tile=3x2[s]`,
    '-map',
    '[s]',
    '-frames:v',
    '1',
    path.join(dir, 'storyboard.jpg'),
  ]);
}

const renditions: Record<string, HlsRenditionReport> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-output-checks-'));
  await Promise.all([
    videoRung('180p', 320, 180),
    videoRung('144p', 256, 144),
    // Same content, same -g, but x264's defaults: a keyframe at the 2.6 s scene cut.
    // (x264 does not see that cut at 256x144, it does at 320x180.)
    videoRung('cut180p', 320, 180, { gop: ['-g', '50'] }),
    // Segments cut on time, not on keyframes.
    videoRung('split180p', 320, 180, { hls: ['-hls_time', '1.5', '-hls_flags', 'split_by_time'] }),
    audioRendition(),
    progressive('download.mp4', true),
    progressive('plain.mp4', false),
    sprite(),
  ]);
  for (const name of ['180p', '144p', 'audio']) renditions[name] = await checkHlsRendition(dir, `${name}.m3u8`);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const rendition = (name: string): HlsRenditionReport => {
  const r = renditions[name];
  if (!r) throw new Error(`no rendition ${name}`);
  return r;
};

/** Writes a rendition playlist derived from 180p.m3u8 with one edit. */
async function editedPlaylist(name: string, edit: (text: string) => string) {
  await writeFile(path.join(dir, name), edit(await readFile(path.join(dir, '180p.m3u8'), 'utf8')));
  return name;
}

describe('checkHlsRendition', () => {
  it('passes a fixed-GOP fMP4 rung and reports segments, keyframes and bitrates', async () => {
    const r = rendition('180p');
    expect(r.targetDuration).toBe(2);
    expect(r.initUri).toBe('180p_init.mp4');
    expect(r.segments.map((s) => [s.uri, s.duration])).toEqual([
      ['180p_00000.m4s', 2],
      ['180p_00001.m4s', 2],
      ['180p_00002.m4s', 2],
    ]);
    expect(r.video).toMatchObject({ codec: 'h264', width: 320, height: 180, frameRate: 25 });
    const kf = r.keyframeTimes ?? [];
    // x264 superfast uses B-frames: the first pts is 2 frames in, and segment starts are relative to it.
    expect(kf.map((t) => Number((t - r.video!.startTime).toFixed(3)))).toEqual([0, 2, 4]);
    expect(await keyframeTimes(dir, '180p.m3u8')).toEqual(kf);
    expect(r.peakBitrate).toBeGreaterThanOrEqual(r.averageBitrate);
    const first = r.segments[0]!;
    expect(r.peakBitrate).toBeGreaterThanOrEqual(((first.bytes + r.initBytes) * 8) / first.duration);
  });

  it('passes an audio rendition (no keyframe check)', () => {
    const a = rendition('audio');
    expect(a.audio).toEqual({ codec: 'aac', channels: 1 });
    expect(a.video).toBeUndefined();
    expect(a.keyframeTimes).toBeUndefined();
    expect(a.segments.length).toBeGreaterThanOrEqual(3);
  });

  it('fails segments that do not start on a keyframe (hls_flags split_by_time)', async () => {
    await expect(checkHlsRendition(dir, 'split180p.m3u8')).rejects.toThrow(
      /split180p\.m3u8: segment 1 \(split180p_00001\.m4s\) starts at .* but the nearest keyframe is at/,
    );
  });

  it('fails a playlist without ENDLIST, a non-VOD one, and EXTINF over TARGETDURATION', async () => {
    const noEnd = await editedPlaylist('noend.m3u8', (t) => t.replace('#EXT-X-ENDLIST', ''));
    await expect(checkHlsRendition(dir, noEnd)).rejects.toThrow(/noend\.m3u8: no #EXT-X-ENDLIST/);
    const event = await editedPlaylist('event.m3u8', (t) => t.replace('PLAYLIST-TYPE:VOD', 'PLAYLIST-TYPE:EVENT'));
    await expect(checkHlsRendition(dir, event)).rejects.toThrow(/EXT-X-PLAYLIST-TYPE is EVENT, expected VOD/);
    const short = await editedPlaylist('short.m3u8', (t) => t.replace('TARGETDURATION:2', 'TARGETDURATION:1'));
    await expect(checkHlsRendition(dir, short)).rejects.toThrow(
      /segment 0 \(180p_00000\.m4s\) lasts 2 s, rounds to 2 > TARGETDURATION 1/,
    );
  });

  it('fails a segment that is not fMP4', async () => {
    await writeFile(path.join(dir, 'junk_00000.m4s'), Buffer.alloc(4000, 7));
    const junk = await editedPlaylist('junk.m3u8', (t) => t.replace('180p_00001.m4s', 'junk_00000.m4s'));
    await expect(checkHlsRendition(dir, junk)).rejects.toThrow(/junk\.m3u8 segment 1: junk_00000\.m4s is not ISO-BMFF/);
  });

  it('fails a missing segment or init file', async () => {
    const missing = await editedPlaylist('missing.m3u8', (t) => t.replace('180p_00002.m4s', '180p_00009.m4s'));
    await expect(checkHlsRendition(dir, missing)).rejects.toThrow(
      /missing\.m3u8 segment 2: 180p_00009\.m4s does not exist/,
    );
    const noInit = await editedPlaylist('noinit.m3u8', (t) => t.replace('180p_init.mp4', '180p_gone.mp4'));
    await expect(checkHlsRendition(dir, noInit)).rejects.toThrow(
      /noinit\.m3u8 EXT-X-MAP: 180p_gone\.mp4 does not exist/,
    );
  });
});

describe('parseMaster', () => {
  it('reads variants (quoted commas in CODECS) and audio media', () => {
    const m = parseMaster(
      '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",DEFAULT=YES,URI="audio.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,FRAME-RATE=25.000,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"\n360p.m3u8\n',
    );
    expect(m).toEqual({
      variants: [
        {
          uri: '360p.m3u8',
          bandwidth: 900000,
          averageBandwidth: 800000,
          resolution: { width: 640, height: 360 },
          frameRate: 25,
          codecs: 'avc1.64001e,mp4a.40.2',
          audioGroup: 'audio',
        },
      ],
      audio: [{ groupId: 'audio', uri: 'audio.m3u8' }],
    });
  });

  it('fails an AUDIO group nobody declares and a STREAM-INF without URI', () => {
    expect(() =>
      parseMaster(
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9,AVERAGE-BANDWIDTH=8,CODECS="avc1.64001e",AUDIO="aud"\n1.m3u8\n',
      ),
    ).toThrow(/AUDIO="aud" but no EXT-X-MEDIA/);
    expect(() =>
      parseMaster('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=9,AVERAGE-BANDWIDTH=8,CODECS="mp4a.40.2"\n'),
    ).toThrow(/line 2: EXT-X-STREAM-INF is not followed by a URI/);
  });
});

describe('checkLadder', () => {
  type Rung = { name: string; width?: number; height?: number; bandwidth?: number };
  /** A master the way Gilfoyle writes it, from the measured peaks (override per rung to break it). */
  function master(rungs: Rung[], { audio = true } = {}) {
    const a = rendition('audio');
    const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
    if (audio)
      lines.push(
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="default",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="1",URI="audio.m3u8"',
      );
    for (const r of rungs) {
      const v = renditions[r.name] ?? rendition('180p');
      const bandwidth = r.bandwidth ?? Math.ceil(v.peakBitrate) + (audio ? Math.ceil(a.peakBitrate) : 0);
      const average = Math.min(bandwidth, Math.ceil(v.averageBitrate) + (audio ? Math.ceil(a.averageBitrate) : 0));
      lines.push(
        `#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth},AVERAGE-BANDWIDTH=${average},RESOLUTION=${r.width}x${r.height},FRAME-RATE=25.000,` +
          `CODECS="avc1.640016${audio ? ',mp4a.40.2' : ''}"${audio ? ',AUDIO="audio"' : ''}`,
        `${r.name}.m3u8`,
      );
    }
    return lines.join('\n') + '\n';
  }
  const ladder = async (text: string) => {
    await writeFile(path.join(dir, 'master.m3u8'), text);
    return checkLadder(dir);
  };
  const good: Rung[] = [
    { name: '180p', width: 320, height: 180 },
    { name: '144p', width: 256, height: 144 },
  ];

  it('passes aligned rungs with an audio group, BANDWIDTH = video peak + audio peak', async () => {
    const r = await ladder(master(good));
    expect(r.audioOnly).toBe(false);
    expect(r.variants.map((v) => [v.uri, v.width, v.height])).toEqual([
      ['180p.m3u8', 320, 180],
      ['144p.m3u8', 256, 144],
    ]);
    for (const v of r.variants) expect(v.measuredPeak).toBeLessThanOrEqual(v.bandwidth);
    expect(r.audio?.uri).toBe('audio.m3u8');
    expect(r.keyframeTimes).toHaveLength(3);
  });

  it('fails a rung whose keyframes follow scene cuts', async () => {
    const cut = await checkHlsRendition(dir, 'cut180p.m3u8'); // ffmpeg's HLS muxer still cuts only on keyframes
    expect(cut.segments.map((s) => s.duration)).toEqual([2, 2.6, 1.4]);
    renditions.cut180p = cut;
    await expect(ladder(master([...good, { name: 'cut180p', width: 320, height: 180 }]))).rejects.toThrow(
      /variant cut180p\.m3u8: 4 keyframes but 180p\.m3u8 has 3/,
    );
  });

  it('fails a BANDWIDTH that leaves out the audio peak', async () => {
    const low = Math.ceil(rendition('180p').peakBitrate);
    await expect(ladder(master([{ ...good[0]!, bandwidth: low }, good[1]!]))).rejects.toThrow(
      new RegExp(
        `variant 180p\\.m3u8: measured peak \\d+ bit/s \\(rendition \\d+ \\+ audio \\d+\\) exceeds BANDWIDTH=${low}`,
      ),
    );
  });

  it('fails a RESOLUTION that is not the encoded size', async () => {
    await expect(ladder(master([{ name: '180p', width: 320, height: 240 }]))).rejects.toThrow(
      /variant 180p\.m3u8: RESOLUTION=320x240 but ffprobe reports 320x180/,
    );
  });

  it('passes an audio-only master', async () => {
    const a = rendition('audio');
    const r = await ladder(
      `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(a.peakBitrate)},AVERAGE-BANDWIDTH=${Math.ceil(a.averageBitrate)},CODECS="mp4a.40.2"\naudio.m3u8\n`,
    );
    expect(r.audioOnly).toBe(true);
    expect(r.variants).toHaveLength(1);
    expect(r.keyframeTimes).toBeUndefined();
  });
});

describe('checkDash', () => {
  /** An MPD over the HLS renditions' own init/segment files. */
  function mpd({ type = 'static', list = false, extraSegment = false } = {}) {
    const rep = (name: string, attrs: string) => {
      const r = rendition(name);
      if (list) {
        const urls = r.segments.map((s) => `<SegmentURL media="${s.uri}"/>`).join('');
        return `<Representation id="${name}" ${attrs}><SegmentList timescale="1000" duration="2000"><Initialization sourceURL="${r.initUri}"/>${urls}</SegmentList></Representation>`;
      }
      const ss = r.segments
        .map((s, i) => `<S ${i === 0 ? 't="0" ' : ''}d="${Math.round(s.duration * 1000)}"/>`)
        .join('');
      const extra = extraSegment ? '<S d="2000"/>' : '';
      return `<Representation id="${name}" ${attrs}><SegmentTemplate timescale="1000" startNumber="0" initialization="$RepresentationID$_init.mp4" media="$RepresentationID$_$Number%05d$.m4s"><SegmentTimeline>${ss}${extra}</SegmentTimeline></SegmentTemplate></Representation>`;
    };
    return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="${type}" profiles="urn:mpeg:dash:profile:isoff-live:2011" mediaPresentationDuration="PT${seconds}.0S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" codecs="avc1.640016">
      ${rep('180p', 'bandwidth="400000" width="320" height="180"')}
      ${rep('144p', 'bandwidth="300000" width="256" height="144"')}
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4">
      ${rep('audio', 'bandwidth="70000" codecs="mp4a.40.2" audioSamplingRate="48000"')}
    </AdaptationSet>
  </Period>
</MPD>
`;
  }
  const dash = async (name: string, text: string) => {
    await writeFile(path.join(dir, name), text);
    return checkDash(dir, name);
  };

  it('passes a SegmentTemplate + SegmentTimeline MPD over the fMP4 segments, and ffmpeg decodes it', async () => {
    const r = await dash('manifest.mpd', mpd());
    expect(r.mediaPresentationDuration).toBe(seconds);
    expect(r.representations.map((x) => [x.id, x.width, x.height, x.codecs])).toEqual([
      ['180p', 320, 180, 'avc1.640016'],
      ['144p', 256, 144, 'avc1.640016'],
      ['audio', undefined, undefined, 'mp4a.40.2'],
    ]);
    for (const x of r.representations) {
      const hls = rendition(x.id);
      expect(x.init).toBe(hls.initUri);
      expect(x.segments).toEqual(hls.segments.map((s) => s.uri));
    }
  });

  it('passes a SegmentList MPD', async () => {
    const r = await dash('list.mpd', mpd({ list: true }));
    expect(r.representations[0]?.segments).toEqual(['180p_00000.m4s', '180p_00001.m4s', '180p_00002.m4s']);
  });

  it('fails a timeline that names a segment that was never written', async () => {
    await expect(dash('extra.mpd', mpd({ extraSegment: true }))).rejects.toThrow(
      /extra\.mpd: Representation 180p segment 3: 180p_00003\.m4s does not exist/,
    );
  });

  it('reads MPD durations', () => {
    expect(parseIsoDuration('PT6.0S')).toBe(6);
    expect(parseIsoDuration('P0Y0M0DT0H1M6.500S')).toBe(66.5);
    expect(() => parseIsoDuration('6S')).toThrow(/not an ISO 8601 duration/);
  });

  it('fails a dynamic MPD', async () => {
    await expect(dash('live.mpd', mpd({ type: 'dynamic' }))).rejects.toThrow(
      /MPD@type is "dynamic", expected "static"/,
    );
  });

  it('fails when ffmpeg cannot decode a segment', async () => {
    // Copy the 144p rung under other names, then scramble the mdat payload of one segment:
    // every file exists and parses as fMP4, but the H.264 inside does not decode.
    const files = rendition('144p')
      .segments.map((s) => s.uri)
      .concat('144p_init.mp4');
    for (const f of files) await writeFile(path.join(dir, f.replace('144p', 'bad')), await readFile(path.join(dir, f)));
    const seg = path.join(dir, 'bad_00001.m4s');
    const mdat = (await mp4Boxes(seg)).find((b) => b.type === 'mdat')!;
    const bytes = await readFile(seg);
    for (let i = mdat.offset + 200; i < mdat.offset + mdat.size - 100; i += 7) bytes[i] = bytes[i]! ^ 0x5a;
    await writeFile(seg, bytes);
    const text = mpd().replace(/"144p"/g, '"bad"');
    await expect(dash('bad.mpd', text)).rejects.toThrow(/bad\.mpd: ffmpeg cannot decode it/);
  });
});

describe('MP4 boxes', () => {
  it('passes a faststart MP4 and fails a plain one', async () => {
    const fast = await checkFaststart(path.join(dir, 'download.mp4'));
    expect(fast.indexOf('moov')).toBeLessThan(fast.indexOf('mdat'));
    expect(fast[0]).toBe('ftyp');
    const plain = await mp4TopLevelBoxes(path.join(dir, 'plain.mp4')); // ffmpeg 5.1: ftyp free mdat moov
    expect(plain.indexOf('mdat')).toBeLessThan(plain.indexOf('moov'));
    await expect(checkFaststart(path.join(dir, 'plain.mp4'))).rejects.toThrow(/plain\.mp4: moov comes after mdat/);
  });

  it('reads 64-bit largesize and size-0 (to end of file) boxes', async () => {
    const box = (type: string, payload: number) => {
      const b = Buffer.alloc(8 + payload);
      b.writeUInt32BE(8 + payload, 0);
      b.write(type, 4, 'latin1');
      return b;
    };
    const large = Buffer.alloc(16 + 100);
    large.writeUInt32BE(1, 0);
    large.write('mdat', 4, 'latin1');
    large.writeBigUInt64BE(116n, 8);
    const toEnd = Buffer.alloc(8 + 50);
    toEnd.write('free', 4, 'latin1'); // size 0
    const file = path.join(dir, 'synthetic.mp4');
    await writeFile(file, Buffer.concat([box('ftyp', 16), box('moov', 40), large, toEnd]));
    expect(await mp4Boxes(file)).toEqual([
      { type: 'ftyp', offset: 0, size: 24 },
      { type: 'moov', offset: 24, size: 48 },
      { type: 'mdat', offset: 72, size: 116 },
      { type: 'free', offset: 188, size: 58 },
    ]);
    await writeFile(file, Buffer.concat([box('ftyp', 16), box('mdat', 40).subarray(0, 30)]));
    await expect(mp4TopLevelBoxes(file)).rejects.toThrow(
      /box at offset 24 \(mdat\): size 48 runs past the end of the file \(54 bytes\)/,
    );
    await unlink(file);
  });
});

describe('checkStoryboard', () => {
  const cue = (from: string, to: string, xywh: string) => `${from} --> ${to}\nstoryboard.jpg#xywh=${xywh}\n`;
  const grid = Array.from({ length: 6 }, (_, i) => ({
    from: `00:00:0${i}.000`,
    to: `00:00:0${i + 1}.000`,
    xywh: `${(i % 3) * 80},${Math.floor(i / 3) * 45},80,45`,
  }));
  const vtt = (cues: { from: string; to: string; xywh: string }[]) =>
    `WEBVTT\n\n${cues.map((c) => cue(c.from, c.to, c.xywh)).join('\n')}`;
  const storyboard = async (text: string, duration = seconds) => {
    await writeFile(path.join(dir, 'storyboard.vtt'), text);
    return checkStoryboard(dir, duration);
  };

  it('passes cues tiling the sprite over the whole duration', async () => {
    const r = await storyboard(vtt(grid));
    expect([r.spriteWidth, r.spriteHeight]).toEqual([240, 90]);
    expect(r.cues).toHaveLength(6);
    expect(r.cues[5]).toEqual({ start: 5, end: 6, image: 'storyboard.jpg', x: 160, y: 45, w: 80, h: 45 });
  });

  it('fails a region outside the sprite', async () => {
    const bad = grid.map((c, i) => (i === 5 ? { ...c, xywh: '240,45,80,45' } : c));
    await expect(storyboard(vtt(bad))).rejects.toThrow(
      /cue 5 .*region x=240,y=45,w=80,h=45 lies outside the 240x90 sprite/,
    );
  });

  it('fails overlapping cues, a late first cue and a last cue that ends too early', async () => {
    const overlap = grid.map((c, i) => (i === 2 ? { ...c, from: '00:00:01.500' } : c));
    await expect(storyboard(vtt(overlap))).rejects.toThrow(/cue 2 .*overlaps cue 1, which ends at 2\.000 s/);
    await expect(storyboard(vtt(grid.slice(1)))).rejects.toThrow(/first cue starts at 1\.000 s, not 0/);
    await expect(storyboard(vtt(grid), 8)).rejects.toThrow(/last cue ends at 6\.000 s, before duration 8\.000 - 1 s/);
    await expect(storyboard(vtt(grid).replace('WEBVTT', 'WEBVTX'))).rejects.toThrow(/first line is not "WEBVTT"/);
  });
});
