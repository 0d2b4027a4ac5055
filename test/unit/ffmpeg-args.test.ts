import { encodeRenditionArgs, fixTargetDuration, threadOptions } from '../../src/media/ffmpeg-args.ts';
import { mediaFormats } from '../../src/media/source-formats.ts';

/** How every encode reads a local source: from the file only, media containers only. */
const fileSource = ['-protocol_whitelist', 'file', '-format_whitelist', mediaFormats.join(',')];

describe('encodeRenditionArgs', () => {
  it('builds the exact argv of a video rung: fixed GOP, no scene-cut keyframes, fMP4 HLS', () => {
    const args = encodeRenditionArgs(
      {
        type: 'video',
        name: '720p',
        codec: 'h264',
        width: 1280,
        height: 720,
        frameRate: 30,
        videoBitrate: 2800,
        maxRate: 2996,
        gopFrames: 60,
        segmentSeconds: 4,
      },
      { input: '/tmp/a/source', outputDir: '/tmp/a/out', preset: 'veryfast', threads: 1 },
    );
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-progress',
      'pipe:1',
      '-nostats',
      ...fileSource,
      '-i',
      '/tmp/a/source',
      '-map_metadata',
      '-1',
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-vf',
      'scale=1280:720:flags=bicubic,setsar=1,format=yuv420p',
      '-r',
      '30',
      '-fps_mode',
      'cfr',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-profile:v',
      'high',
      '-threads',
      '1',
      '-g',
      '60',
      '-keyint_min',
      '60',
      '-sc_threshold',
      '0',
      '-x264-params',
      'scenecut=0:open_gop=0',
      '-b:v',
      '2800k',
      '-maxrate',
      '2996k',
      '-bufsize',
      '5992k',
      '-f',
      'hls',
      '-hls_time',
      '4',
      '-hls_playlist_type',
      'vod',
      '-hls_segment_type',
      'fmp4',
      '-hls_flags',
      'independent_segments',
      '-hls_fmp4_init_filename',
      '720p_init.mp4',
      '-hls_segment_filename',
      '/tmp/a/out/720p_%05d.m4s',
      '/tmp/a/out/720p.m3u8',
    ]);
  });

  const rung = {
    type: 'video' as const,
    name: 'r',
    width: 640,
    height: 360,
    frameRate: 30,
    videoBitrate: 500,
    maxRate: 535,
    gopFrames: 60,
    segmentSeconds: 4,
  };
  const opts = { input: 'in', outputDir: 'out', preset: 'veryfast', threads: 2 };

  it('asks libx265 for a fixed GOP, Apple-compatible hvc1 tag and the thread pool size', () => {
    const args = encodeRenditionArgs({ ...rung, codec: 'hevc' }, opts);
    const at = args.indexOf('-c:v');
    expect(args.slice(at, at + 14)).toEqual([
      '-c:v',
      'libx265',
      '-preset',
      'veryfast',
      '-profile:v',
      'main',
      '-tag:v',
      'hvc1',
      '-g',
      '60',
      '-keyint_min',
      '60',
      '-x265-params',
      'scenecut=0:open-gop=0:log-level=error:pools=2',
    ]);
  });

  it('asks SVT-AV1 for a fixed GOP without scene detection', () => {
    const args = encodeRenditionArgs({ ...rung, codec: 'av1' }, opts);
    const at = args.indexOf('-c:v');
    expect(args.slice(at, at + 8)).toEqual([
      '-c:v',
      'libsvtav1',
      '-preset',
      '10',
      '-g',
      '60',
      '-svtav1-params',
      'keyint=60:scd=0:lp=2',
    ]);
  });

  it('decodes on one thread when the encode shares the machine, on every core when it has it alone', () => {
    const video = { ...rung, codec: 'h264' as const };
    const shared = encodeRenditionArgs(video, { ...opts, ...threadOptions(false, 2) });
    expect(shared.slice(shared.indexOf('-threads'), shared.indexOf('-i') + 2)).toEqual([
      '-threads',
      '1',
      ...fileSource,
      '-i',
      'in',
    ]);
    expect(shared.slice(shared.indexOf('-c:v'), shared.indexOf('-c:v') + 8)).toContain('2');
    const exclusive = encodeRenditionArgs(video, { ...opts, ...threadOptions(true, 2) });
    expect(exclusive.indexOf('-threads')).toBeGreaterThan(exclusive.indexOf('-i'));
    expect(exclusive[exclusive.indexOf('-threads') + 1]).toBe('0');
  });

  it('copies the source audio when the plan says so', () => {
    const args = encodeRenditionArgs(
      { type: 'audio', name: 'audio', audioBitrate: 128, segmentSeconds: 4, copy: true, channels: 1 },
      opts,
    );
    expect(args.slice(args.indexOf('-dn') + 1, args.indexOf('-f'))).toEqual(['-c:a', 'copy']);
  });

  it('builds the exact argv of the audio rendition: stereo AAC', () => {
    const args = encodeRenditionArgs(
      { type: 'audio', name: 'audio', audioBitrate: 128, segmentSeconds: 4, channels: 2 },
      { input: 'in', outputDir: 'out', preset: 'veryfast', threads: 0 },
    );
    expect(args).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-loglevel',
      'error',
      '-progress',
      'pipe:1',
      '-nostats',
      ...fileSource,
      '-i',
      'in',
      '-map_metadata',
      '-1',
      '-map',
      '0:a:0',
      '-vn',
      '-sn',
      '-dn',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-ac',
      '2',
      '-ar',
      '48000',
      '-f',
      'hls',
      '-hls_time',
      '4',
      '-hls_playlist_type',
      'vod',
      '-hls_segment_type',
      'fmp4',
      '-hls_flags',
      'independent_segments',
      '-hls_fmp4_init_filename',
      'audio_init.mp4',
      '-hls_segment_filename',
      'out/audio_%05d.m4s',
      'out/audio.m3u8',
    ]);
  });
});

describe('fixTargetDuration', () => {
  const playlist = (target: string, extinf: string) =>
    [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      `#EXT-X-TARGETDURATION:${target}`,
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-MAP:URI="240p_init.mp4"',
      `#EXTINF:${extinf},`,
      '240p_00000.m4s',
      '#EXT-X-ENDLIST',
      '',
    ].join('\n');

  it('raises the 0 ffmpeg writes for a media shorter than half a second to 1', () => {
    expect(fixTargetDuration(playlist('0', '0.120000'))).toBe(playlist('1', '0.120000'));
  });

  it('leaves every other playlist as it is', () => {
    expect(fixTargetDuration(playlist('4', '4.000000'))).toBe(playlist('4', '4.000000'));
    expect(fixTargetDuration(playlist('10', '10.000000'))).toBe(playlist('10', '10.000000'));
  });
});
