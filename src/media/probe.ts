import type { AudioStreamInfo, Probe, VideoStreamInfo } from '../domain/probe.ts';
import { isMediaFormat, probeInputArgs, refusedFormatIn, refusedFormatReason } from './source-formats.ts';

/** ffprobe's JSON, only the parts Gilfoyle reads. */
interface RawStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  bit_rate?: string;
  channels?: number;
  sample_rate?: string;
  /** Frames in the stream, when the container says (mp4, gif…; not Matroska). */
  nb_frames?: string;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  disposition?: { attached_pic?: number; default?: number; hearing_impaired?: number; forced?: number };
}
export interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

export const ffprobeArgs = (input: string): string[] => [
  '-v',
  'error',
  ...probeInputArgs(),
  '-print_format',
  'json',
  '-show_format',
  '-show_streams',
  input,
];

const num = (v: string | number | undefined): number | null => {
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** "30000/1001" → 29.97; "0/0" → 0. */
export function parseFrameRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [a, b] = rate.split('/').map(Number);
  if (!a || !Number.isFinite(a)) return 0;
  if (b === undefined) return a;
  return b ? a / b : 0;
}

function rotationOf(s: RawStream): number {
  const fromSide = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation;
  const fromTag = s.tags?.rotate !== undefined ? -Number(s.tags.rotate) : undefined;
  const raw = fromSide ?? fromTag ?? 0;
  // Display-matrix rotation is counter-clockwise and may be negative; normalise to 0/90/180/270.
  const r = (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
  return r;
}

/** A subtitle stream of a source that is text (so WebVTT can be made of it without OCR). */
export interface SourceSubtitle {
  /** The stream's index in the source (ffmpeg's -map 0:N). */
  index: number;
  codec: string;
  /** Its language tag when it has one ("und" is none). */
  language: string | null;
  title: string | null;
  isDefault: boolean;
  /** Marked for the hearing impaired: captions rather than subtitles. */
  captions: boolean;
}

const textSubtitleCodecs = new Set(['mov_text', 'subrip', 'srt', 'ass', 'ssa', 'webvtt', 'text']);

/** The source's text subtitle streams (mov_text in MP4, SubRip/ASS in Matroska…); bitmap ones (PGS, DVB) are not. */
export function textSubtitleStreams(raw: RawProbe): SourceSubtitle[] {
  return (raw.streams ?? [])
    .filter((s) => s.codec_type === 'subtitle' && textSubtitleCodecs.has(s.codec_name ?? '') && s.index !== undefined)
    .filter((s) => !s.disposition?.forced)
    .map((s) => {
      const language = s.tags?.language?.trim();
      return {
        index: s.index!,
        codec: s.codec_name!,
        language: language && language !== 'und' ? language : null,
        title: s.tags?.title?.trim().slice(0, 100) || null,
        isDefault: s.disposition?.default === 1,
        captions: s.disposition?.hearing_impaired === 1,
      };
    });
}

/** Turns ffprobe's JSON into Gilfoyle's Probe. */
export function parseProbe(raw: RawProbe): Probe {
  const streams = raw.streams ?? [];
  // Cover art and still pictures are not video: beside audio they are ignored like cover art,
  // alone they make the file a picture, which unplayableReason names.
  const still = stillImage(raw);
  const v = streams.find(
    (s) => s.codec_type === 'video' && !s.disposition?.attached_pic && (s.width ?? 0) > 0 && s !== still?.stream,
  );
  const a = streams.find((s) => s.codec_type === 'audio');
  let video: VideoStreamInfo | null = null;
  if (v) {
    const rotation = rotationOf(v);
    const swap = rotation === 90 || rotation === 270;
    const width = v.width ?? 0;
    const height = v.height ?? 0;
    const avg = parseFrameRate(v.avg_frame_rate);
    video = {
      codec: v.codec_name ?? 'unknown',
      width,
      height,
      displayWidth: swap ? height : width,
      displayHeight: swap ? width : height,
      rotation,
      frameRate: avg > 0 && avg < 1000 ? avg : parseFrameRate(v.r_frame_rate),
      pixelFormat: v.pix_fmt ?? null,
      bitrate: num(v.bit_rate),
    };
  }
  let audio: AudioStreamInfo | null = null;
  if (a) {
    audio = {
      codec: a.codec_name ?? 'unknown',
      profile: a.profile ?? null,
      channels: a.channels ?? 0,
      sampleRate: num(a.sample_rate) ?? 0,
      bitrate: num(a.bit_rate),
    };
  }
  return {
    formatName: raw.format?.format_name ?? 'unknown',
    duration: num(raw.format?.duration) ?? 0,
    size: num(raw.format?.size) ?? 0,
    bitrate: num(raw.format?.bit_rate),
    video,
    audio,
  };
}

/** Picture codecs, named as people know them. */
const imageCodecs: Record<string, string> = {
  mjpeg: 'JPEG',
  png: 'PNG',
  apng: 'PNG',
  webp: 'WebP',
  gif: 'GIF',
  bmp: 'BMP',
  tiff: 'TIFF',
  jpeg2000: 'JPEG 2000',
  jpegls: 'JPEG-LS',
  svg: 'SVG',
  qoi: 'QOI',
  pcx: 'PCX',
  targa: 'TGA',
  sgi: 'SGI',
  psd: 'PSD',
  dds: 'DDS',
  exr: 'OpenEXR',
  ppm: 'PPM',
  pgm: 'PGM',
  pbm: 'PBM',
  pam: 'PAM',
  xbm: 'XBM',
  xpm: 'XPM',
  photocd: 'Photo CD',
  hdr: 'HDR',
};

/**
 * A still picture (a photo, a PNG, a one-frame GIF), not a moving one: the video stream of an
 * image demuxer (`image2`, `jpeg_pipe`, `png_pipe`…), or a picture codec holding one frame.
 */
export function stillImage(raw: RawProbe): { stream: RawStream; label: string } | null {
  const format = raw.format?.format_name ?? '';
  const imageFormat = format === 'image2' || format === 'image2pipe' || format.endsWith('_pipe');
  for (const s of raw.streams ?? []) {
    if (s.codec_type !== 'video' || s.disposition?.attached_pic) continue;
    const codec = s.codec_name ?? '';
    if (imageFormat || (Object.hasOwn(imageCodecs, codec) && s.nb_frames === '1')) {
      return { stream: s, label: imageCodecs[codec] ?? (codec ? codec.toUpperCase() : 'unknown format') };
    }
  }
  return null;
}

/** What a stream that is neither playable video nor audio is, for a message. */
function streamKind(s: RawStream): string {
  switch (s.codec_type) {
    case 'subtitle':
      return 'subtitles';
    case 'data':
      return 'data';
    case 'attachment':
      return 'attachments';
    case 'video':
      return s.disposition?.attached_pic ? 'cover art' : 'a video stream without a picture size';
    default:
      return 'unknown streams';
  }
}

/**
 * Why a probed file cannot be encoded, or null when it can. With ffprobe's JSON (`raw`) the
 * reason also names what the file holds instead: a still image, only subtitles…
 */
export function unplayableReason(probe: Probe, raw: RawProbe = {}): string | null {
  if (!probe.video && !probe.audio) {
    const image = stillImage(raw);
    if (image) return `the file is a still image (${image.label}), not a video: upload a video or audio file`;
    const kinds = [...new Set((raw.streams ?? []).map(streamKind))];
    return `the file has no video or audio stream${kinds.length > 0 ? ` (it holds only ${kinds.join(' and ')})` : ''}`;
  }
  const format = raw.format?.format_name;
  if (format && !isMediaFormat(format)) return refusedFormatReason(format);
  if (probe.video && (probe.video.width < 2 || probe.video.height < 2)) return 'the video stream has no picture size';
  if (!(probe.duration > 0)) return 'the file has no duration (it is empty or was cut short)';
  return null;
}

/** ffprobe's own words, without the file path and the `[demuxer @ 0x…]` prefixes: "moov atom not found". */
const ffprobeWords = (line: string, file: string) =>
  line
    .split(file)
    .join('')
    .replace(/\[[^\]]* @ 0x[0-9a-f]+\]\s*/g, '')
    .replace(/^[:\s]+/, '')
    .trim();

/**
 * Why ffprobe could not read a file, in words a user understands, from its stderr. When the
 * cause is not a known one, ffprobe's last line follows in parentheses, without the temp path.
 */
export function unreadableReason(stderr: string, file: string): string {
  const refused = refusedFormatIn(stderr);
  if (refused) return refusedFormatReason(refused);
  const lines = stderr
    .split('\n')
    .map((l) => ffprobeWords(l, file))
    .filter(Boolean);
  const detail = lines.length > 0 ? ` (ffprobe: ${lines[lines.length - 1]})` : '';
  const all = lines.join('\n');
  if (/moov atom not found/i.test(all)) {
    return 'it is an incomplete MP4 or MOV file: its index (the moov atom) is missing, as happens when a recording or an upload is cut short; upload the complete file';
  }
  if (/EBML header parsing failed/i.test(all))
    return 'it is a damaged Matroska or WebM file: its header cannot be read';
  if (/Invalid data found when processing input/i.test(all))
    return 'it is not a video or audio file (its content is in no format FFmpeg recognises)';
  if (/End of file|truncated/i.test(all))
    return `it is truncated: it ends before FFmpeg could read its header${detail}`;
  return `FFmpeg cannot read it${detail}`;
}
