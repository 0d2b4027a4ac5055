import type { ChunkPlan } from '../domain/chunks.ts';
import type { AudioRendition, RenditionPlan, VideoRendition } from '../domain/renditions.ts';
import { sourceInputArgs } from './source-formats.ts';

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
  /** One chunk of a video rung: its time range of the source, its frames, its first segment's number. */
  chunk?: ChunkPlan;
  /**
   * Seconds the output's timeline starts at (tfdt), for the renditions of a chunked media: each
   * chunk at its own start plus this, and fragments cut as they come (frag_discont), so that the
   * timestamps continue across chunks exactly as in one encode.
   */
  timelineOffset?: number;
  /** Write the playlist after every segment (EVENT), for an encode whose segments are published as they land. */
  live?: boolean;
}

/** Seconds of source a chunk reads past its frames: the frame rate conversion needs what follows the last frame. */
const chunkReadMargin = 0.25;

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

/** Seconds as ffmpeg reads them, to the microsecond. */
const seconds = (t: number) => String(Math.round(t * 1e6) / 1e6);

const hlsOutput = (r: RenditionPlan, o: EncodeOptions): string[] => {
  const files = renditionFiles(r.name);
  const start = o.chunk?.start ?? 0;
  // prettier-ignore
  return [
    ...(o.timelineOffset !== undefined ? ['-output_ts_offset', seconds(start + o.timelineOffset)] : []),
    '-f', 'hls',
    '-hls_time', String(r.segmentSeconds),
    '-hls_playlist_type', o.live ? 'event' : 'vod',
    '-hls_segment_type', 'fmp4',
    // Live: the playlist (and each segment) is written whole under a temporary name, then renamed,
    // so that whoever reads it while ffmpeg runs never sees half of it.
    '-hls_flags', o.live ? 'independent_segments+temp_file' : 'independent_segments',
    ...(o.chunk ? ['-start_number', String(o.chunk.firstSegment)] : []),
    ...(o.timelineOffset !== undefined ? ['-hls_segment_options', 'movflags=+frag_discont'] : []),
    '-hls_fmp4_init_filename', files.init,
    '-hls_segment_filename', `${o.outputDir}/${files.segmentPattern}`,
    `${o.outputDir}/${files.playlist}`,
  ];
};

/**
 * ffmpeg's HLS muxer rounds the longest segment to get EXT-X-TARGETDURATION, so a media
 * shorter than half a second gets 0, which players and validators reject: the target
 * duration of such a playlist is raised to 1 (still ≥ every rounded EXTINF, as RFC 8216 asks).
 */
export const fixTargetDuration = (playlist: string): string =>
  playlist.replace(/^#EXT-X-TARGETDURATION:0+(\r?)$/m, '#EXT-X-TARGETDURATION:1$1');

// prettier-ignore
const common = (o: EncodeOptions): string[] => [
  '-hide_banner', '-nostdin', '-y',
  '-loglevel', 'error',
  '-progress', 'pipe:1', '-nostats',
  ...(o.decoderThreads ? ['-threads', String(o.decoderThreads)] : []),
  // A chunk seeks before the input (decoding from the keyframe before its start and dropping what
  // precedes it: an accurate seek) and reads only its own range of the source.
  ...(o.chunk ? ['-ss', seconds(o.chunk.start)] : []),
  ...(o.chunk?.frames ? ['-t', seconds(o.chunk.seconds + chunkReadMargin)] : []),
  // Media containers only, from the file or the object store's URL (ranged GETs of a presigned
  // URL, riding out a blip of the store): nothing the file itself names.
  ...sourceInputArgs(o.input),
  '-i', o.input,
  '-map_metadata', '-1',
];

/** Encoder arguments of each codec: same GOP on every rung and no scene-cut keyframes. */
function codecArgs(r: VideoRendition, o: EncodeOptions): string[] {
  const g = String(r.gopFrames);
  // prettier-ignore
  switch (r.codec) {
    case 'h264':
      return [
        '-c:v', 'libx264', '-preset', o.preset, '-profile:v', 'high', '-threads', String(o.threads),
        '-g', g, '-keyint_min', g, '-sc_threshold', '0', '-x264-params', 'scenecut=0:open_gop=0',
      ];
    case 'hevc':
      return [
        '-c:v', 'libx265', '-preset', o.preset, '-profile:v', 'main', '-tag:v', 'hvc1',
        '-g', g, '-keyint_min', g,
        '-x265-params', `scenecut=0:open-gop=0:log-level=error${o.threads > 0 ? `:pools=${o.threads}` : ''}`,
      ];
    case 'av1':
      return [
        '-c:v', 'libsvtav1', '-preset', String(svtPresets[o.preset] ?? 10),
        '-g', g,
        '-svtav1-params', `keyint=${g}:scd=0${o.threads > 0 ? `:lp=${o.threads}` : ''}`,
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
  // prettier-ignore
  return [
    ...common(o),
    '-map', '0:v:0',
    '-an', '-sn', '-dn',
    // Scale to the planned display size; ffmpeg has already applied any rotation.
    '-vf', `scale=${r.width}:${r.height}:flags=bicubic,setsar=1,format=yuv420p`,
    // Constant frame rate out, whatever came in (VFR phone video included).
    '-r', String(r.frameRate),
    '-fps_mode', 'cfr',
    ...codecArgs(r, o),
    '-b:v', `${r.videoBitrate}k`,
    '-maxrate', `${r.maxRate}k`,
    '-bufsize', `${r.maxRate * 2}k`,
    // A chunk's frames exactly: the next chunk starts at the next frame.
    ...(o.chunk?.frames ? ['-frames:v', String(o.chunk.frames)] : []),
    ...hlsOutput(r, o),
  ];
}

function audioArgs(r: AudioRendition, o: EncodeOptions): string[] {
  // prettier-ignore
  return [
    ...common(o),
    '-map', '0:a:0',
    '-vn', '-sn', '-dn',
    ...(r.copy ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', `${r.audioBitrate}k`, '-ac', String(r.channels), '-ar', '48000']),
    ...hlsOutput(r, o),
  ];
}

/** The exact ffmpeg argv that encodes one rendition to HLS (fMP4 segments). */
export function encodeRenditionArgs(r: RenditionPlan, o: EncodeOptions): string[] {
  return r.type === 'video' ? videoArgs(r, o) : audioArgs(r, o);
}

/** The start of every ffmpeg run that only reports errors (and never reads stdin). */
export const quietArgs = ['-hide_banner', '-nostdin', '-v', 'error'];

/**
 * A clip's own source, cut from its parent's: frame-accurate (the seek before the input decodes
 * up to the exact start, the encode starts there), re-encoded as a near-lossless mezzanine
 * (H.264 CRF 12, AAC 256 kb/s) that the pipeline then encodes like any upload.
 */
export function clipSourceArgs(
  inputArgs: string[],
  input: string,
  range: { start: number; end: number },
  kind: 'video' | 'audio',
  threads: number,
  output: string,
): string[] {
  return [
    ...quietArgs,
    ...['-progress', 'pipe:1', '-nostats'],
    ...inputArgs,
    ...['-ss', range.start.toFixed(3), '-i', input, '-t', (range.end - range.start).toFixed(3)],
    ...(kind === 'video'
      ? [
          '-map',
          '0:v:0',
          '-map',
          '0:a:0?',
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-crf',
          '12',
          '-pix_fmt',
          'yuv420p',
        ]
      : ['-map', '0:a:0', '-vn']),
    ...['-c:a', 'aac', '-b:a', '256k', '-threads', String(threads), '-sn', '-dn', '-map_metadata', '-1'],
    ...['-movflags', '+faststart', '-f', 'mp4', '-y', output],
  ];
}
