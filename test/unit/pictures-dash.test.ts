import { threadsPerEncode } from '../../src/config/processing.ts';
import { buildDashManifest } from '../../src/media/dash.ts';
import { missingEncoders, parseEncoderList } from '../../src/media/encoders.ts';
import type { VariantEntry } from '../../src/media/hls.ts';
import { planStoryboard, posterArgs, storyboardArgs, storyboardVtt } from '../../src/media/pictures.ts';

const settings = { thumbnailWidth: 160, columns: 10, maxThumbnails: 100, minIntervalSeconds: 1 };

describe('storyboard', () => {
  it('takes one thumbnail a second for short media, in a grid of 10 columns', () => {
    expect(planStoryboard(25, 1920, 1080, settings)).toEqual({
      count: 25,
      interval: 1,
      columns: 10,
      rows: 3,
      tileWidth: 160,
      tileHeight: 90,
    });
  });

  it('spreads at most max_thumbnails over long media, and keeps portrait thumbnails upright', () => {
    const p = planStoryboard(7200, 1080, 1920, settings);
    expect(p).toMatchObject({ count: 100, interval: 72, rows: 10, tileWidth: 160, tileHeight: 284 });
  });

  it('writes WebVTT cues that point at each tile of the sprite', () => {
    const p = planStoryboard(12.5, 640, 360, { ...settings, columns: 5 });
    const vtt = storyboardVtt(p, 12.5, 'storyboard.jpg');
    const lines = vtt.split('\n');
    expect(lines[0]).toBe('WEBVTT');
    expect(lines.slice(2, 4)).toEqual(['00:00:00.000 --> 00:00:01.042', 'storyboard.jpg#xywh=0,0,160,90']);
    expect(vtt).toContain('00:00:11.458 --> 00:00:12.500\nstoryboard.jpg#xywh=160,180,160,90');
    expect(storyboardArgs('in', 'out.jpg', p)).toContain('fps=1/1.041667:round=down,scale=160:90,setsar=1,tile=5x3');
  });

  it('takes the poster at the asked time, no larger than 1280', () => {
    expect(posterArgs('in', 'p.jpg', 1.5, 1920, 1080)).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-ss',
      '1.500',
      '-i',
      'in',
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-vf',
      'scale=1280:720,setsar=1',
      '-frames:v',
      '1',
      '-q:v',
      '3',
      '-update',
      '1',
      'p.jpg',
    ]);
  });
});

describe('DASH manifest', () => {
  const v = (name: string, codecs: string, type: 'video' | 'audio' = 'video'): VariantEntry => ({
    type,
    name,
    playlist: `${name}.m3u8`,
    init: `${name}_init.mp4`,
    codecs,
    bandwidth: 1000,
    averageBandwidth: 900,
    segments: [
      { uri: `${name}_00000.m4s`, duration: 4 },
      { uri: `${name}_00001.m4s`, duration: 4 },
      { uri: `${name}_00002.m4s`, duration: 1.5 },
    ],
    ...(type === 'video' ? { width: 640, height: 360, frameRate: 30 } : {}),
  });

  it('describes the HLS segments with a folded SegmentTimeline, one AdaptationSet per video codec', () => {
    const mpd = buildDashManifest(
      [v('360p', 'avc1.64001e'), v('240p', 'av01.0.01M.08'), v('audio', 'mp4a.40.2', 'audio')],
      9.5,
      4,
    );
    expect(mpd).toContain('type="static" mediaPresentationDuration="PT9.500S"');
    expect(mpd).toContain(
      '<SegmentTemplate timescale="1000" initialization="360p_init.mp4" media="360p_$Number%05d$.m4s" startNumber="0"><SegmentTimeline><S t="0" d="4000" r="1"/><S d="1500"/></SegmentTimeline></SegmentTemplate>',
    );
    expect(mpd.match(/<AdaptationSet[^>]*contentType="video"/g)).toHaveLength(2);
    expect(mpd).toMatch(/<AdaptationSet[^>]*contentType="audio"[^>]*>.*codecs="mp4a.40.2"/);
  });
});

describe('encoders', () => {
  const list =
    ' V....D libx264              libx264 H.264\n V..... libsvtav1            SVT-AV1\n A..... aac                  AAC\n';
  it('reads ffmpeg -encoders output', () => {
    expect([...parseEncoderList(list)]).toEqual(['libx264', 'libsvtav1', 'aac']);
  });
  it('names the config key of a codec this ffmpeg cannot encode', () => {
    expect(missingEncoders(['h264', 'hevc', 'av1'], parseEncoderList(list))).toEqual([
      'encoding.renditions.1.codec: hevc needs the ffmpeg encoder libx265, which this ffmpeg lacks',
    ]);
  });
  it('gives each concurrent encode up to twice its share of the cores, never more than the cores', () => {
    expect(threadsPerEncode(0, 2, 2)).toBe(2);
    expect(threadsPerEncode(0, 4, 16)).toBe(8);
    expect(threadsPerEncode(0, 8, 2)).toBe(2);
    expect(threadsPerEncode(0, 1, 4)).toBe(4);
    expect(threadsPerEncode(3, 2, 8)).toBe(3);
  });
});
