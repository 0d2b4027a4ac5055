import type { AudioStreamInfo, Probe, VideoStreamInfo } from '../domain/probe.ts';

/** ffprobe's JSON, only the parts Gilfoyle reads. */
interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  bit_rate?: string;
  channels?: number;
  sample_rate?: string;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  disposition?: { attached_pic?: number };
}
export interface RawProbe {
  streams?: RawStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

export const ffprobeArgs = (input: string): string[] => [
  '-v', 'error',
  '-print_format', 'json',
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
  const r = ((Math.round(raw / 90) * 90) % 360 + 360) % 360;
  return r;
}

/** Turns ffprobe's JSON into Gilfoyle's Probe. */
export function parseProbe(raw: RawProbe): Probe {
  const streams = raw.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic && (s.width ?? 0) > 0);
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

/** Why a probed file cannot be encoded, or null when it can. */
export function unplayableReason(probe: Probe): string | null {
  if (!probe.video && !probe.audio) return 'the file has no audio or video stream';
  if (probe.video && (probe.video.width < 2 || probe.video.height < 2)) return 'the video stream has no picture size';
  if (!(probe.duration > 0)) return 'the file has no duration (empty or truncated)';
  return null;
}
