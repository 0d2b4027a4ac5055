import type { AudioRendition, RenditionPlan, VideoRendition } from '../domain/renditions.ts';

export interface EncodeOptions {
  /** Source file path. */
  input: string;
  /** Folder the rendition's playlist and segments are written to. */
  outputDir: string;
  preset: string;
  /** Encoder threads; 0 lets the encoder decide. */
  threads: number;
  /** Decoder threads; absent or 0 lets ffmpeg decide (frame threads on every core). */
  decoderThreads?: number;
}

/**
 * Threads of an encode. An exclusive one (the rung that makes the media playable) takes every
 * core. One that shares the machine gets its share for the encoder and decodes on one thread:
 * frame-threaded decoding costs more CPU in all (about 0.4 s of 1.5 s for a 20 s 1080p source),
 * and a core's worth of other encodes is there to use the rest.
 */
export const threadOptions = (
  exclusive: boolean,
  sharedThreads: number,
): Pick<EncodeOptions, 'threads' | 'decoderThreads'> =>
  exclusive ? { threads: 0 } : { threads: sharedThreads, decoderThreads: 1 };

/** File names of a rendition's HLS output, flat inside the media's stream folder. */
export const renditionFiles = (name: string) => ({
  playlist: `${name}.m3u8`,
  init: `${name}_init.mp4`,
  segmentPattern: `${name}_%05d.m4s`,
});

const hlsOutput = (r: RenditionPlan, outputDir: string): string[] => {
  const files = renditionFiles(r.name);
  return [
    '-f',
    'hls',
    '-hls_time',
    String(r.segmentSeconds),
    '-hls_playlist_type',
    'vod',
    '-hls_segment_type',
    'fmp4',
    '-hls_flags',
    'independent_segments',
    '-hls_fmp4_init_filename',
    files.init,
    '-hls_segment_filename',
    `${outputDir}/${files.segmentPattern}`,
    `${outputDir}/${files.playlist}`,
  ];
};

/**
 * ffmpeg's HLS muxer rounds the longest segment to get EXT-X-TARGETDURATION, so a media
 * shorter than half a second gets 0, which players and validators reject: the target
 * duration of such a playlist is raised to 1 (still ≥ every rounded EXTINF, as RFC 8216 asks).
 */
export const fixTargetDuration = (playlist: string): string =>
  playlist.replace(/^#EXT-X-TARGETDURATION:0+(\r?)$/m, '#EXT-X-TARGETDURATION:1$1');

const common = (o: EncodeOptions): string[] => [
  '-hide_banner',
  '-nostdin',
  '-y',
  '-loglevel',
  'error',
  '-progress',
  'pipe:1',
  '-nostats',
  ...(o.decoderThreads ? ['-threads', String(o.decoderThreads)] : []),
  '-i',
  o.input,
  '-map_metadata',
  '-1',
];

/** Encoder arguments of each codec: same GOP on every rung and no scene-cut keyframes. */
function codecArgs(r: VideoRendition, o: EncodeOptions): string[] {
  const g = String(r.gopFrames);
  switch (r.codec) {
    case 'h264':
      return [
        '-c:v',
        'libx264',
        '-preset',
        o.preset,
        '-profile:v',
        'high',
        '-threads',
        String(o.threads),
        '-g',
        g,
        '-keyint_min',
        g,
        '-sc_threshold',
        '0',
        '-x264-params',
        'scenecut=0:open_gop=0',
      ];
    case 'hevc':
      return [
        '-c:v',
        'libx265',
        '-preset',
        o.preset,
        '-profile:v',
        'main',
        '-tag:v',
        'hvc1',
        '-g',
        g,
        '-keyint_min',
        g,
        '-x265-params',
        `scenecut=0:open-gop=0:log-level=error${o.threads > 0 ? `:pools=${o.threads}` : ''}`,
      ];
    case 'av1':
      return [
        '-c:v',
        'libsvtav1',
        '-preset',
        String(svtPresets[o.preset] ?? 10),
        '-g',
        g,
        '-svtav1-params',
        `keyint=${g}:scd=0${o.threads > 0 ? `:lp=${o.threads}` : ''}`,
      ];
  }
}

/** x264 preset names → SVT-AV1 presets of similar speed. */
const svtPresets: Record<string, number> = {
  ultrafast: 12,
  superfast: 12,
  veryfast: 10,
  faster: 9,
  fast: 8,
  medium: 7,
  slow: 5,
};

function videoArgs(r: VideoRendition, o: EncodeOptions): string[] {
  return [
    ...common(o),
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    // Scale to the planned display size; ffmpeg has already applied any rotation.
    '-vf',
    `scale=${r.width}:${r.height}:flags=bicubic,setsar=1,format=yuv420p`,
    // Constant frame rate out, whatever came in (VFR phone video included).
    '-r',
    String(r.frameRate),
    '-fps_mode',
    'cfr',
    ...codecArgs(r, o),
    '-b:v',
    `${r.videoBitrate}k`,
    '-maxrate',
    `${r.maxRate}k`,
    '-bufsize',
    `${r.maxRate * 2}k`,
    ...hlsOutput(r, o.outputDir),
  ];
}

function audioArgs(r: AudioRendition, o: EncodeOptions): string[] {
  return [
    ...common(o),
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    ...(r.copy
      ? ['-c:a', 'copy']
      : ['-c:a', 'aac', '-b:a', `${r.audioBitrate}k`, '-ac', String(r.channels), '-ar', '48000']),
    ...hlsOutput(r, o.outputDir),
  ];
}

/** The exact ffmpeg argv that encodes one rendition to HLS (fMP4 segments). */
export function encodeRenditionArgs(r: RenditionPlan, o: EncodeOptions): string[] {
  return r.type === 'video' ? videoArgs(r, o) : audioArgs(r, o);
}
