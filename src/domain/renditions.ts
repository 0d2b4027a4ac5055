import type { Probe } from './probe.ts';

export type VideoCodec = 'h264' | 'hevc' | 'av1';

/** One rung of the configured ladder. */
export interface LadderRung {
  name: string;
  /** Short side of the picture in pixels (720 means 1280×720 landscape or 720×1280 portrait). */
  height?: number;
  /** Long side of the picture in pixels, for rungs defined by width instead. */
  width?: number;
  /** kb/s */
  videoBitrate: number;
  /** kb/s; peak allowed by the rate control. */
  maxRate: number;
  codec: VideoCodec;
  /** Frame rate cap of this rung; the ladder's when absent. */
  maxFrameRate?: number;
}

export interface EncodingLadder {
  rungs: LadderRung[];
  /** kb/s of the AAC audio rendition. */
  audioBitrate: number;
  /** Copy the source's audio instead of encoding it when it already is what the rendition would be (canCopyAudio). */
  audioCopy?: boolean;
  /** Frame rate cap: sources above it are brought down to it. */
  maxFrameRate: number;
  /** Seconds between keyframes, the same on every rung so that players switch cleanly. */
  gopSeconds: number;
  /** Seconds per HLS segment: a multiple of gopSeconds. */
  segmentSeconds: number;
}

export interface VideoRendition {
  type: 'video';
  name: string;
  codec: VideoCodec;
  width: number;
  height: number;
  frameRate: number;
  videoBitrate: number;
  maxRate: number;
  gopFrames: number;
  segmentSeconds: number;
}

export interface AudioRendition {
  type: 'audio';
  name: string;
  audioBitrate: number;
  /** The source's audio stream is copied as it is (see canCopyAudio). */
  copy?: boolean;
  /** Channels of the rendition: the source's when copied, else 2 (stereo). */
  channels: number;
  segmentSeconds: number;
}

export type RenditionPlan = VideoRendition | AudioRendition;

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/** Output frame rate: the source's, capped, and a sane default when the probe could not tell. */
export function outputFrameRate(sourceFps: number, cap: number): number {
  const fps = sourceFps > 0 && Number.isFinite(sourceFps) ? sourceFps : 30;
  return Math.min(Math.round(fps * 1000) / 1000, cap);
}

/**
 * Which renditions to encode. Rungs larger than the source are dropped (never upscaled);
 * a source smaller than every rung gets one rendition at its own size. Sizes keep the
 * source's displayed aspect ratio and are even, as yuv420p requires. Video rungs come
 * largest first, then the audio rendition.
 */
export function planRenditions(probe: Probe, ladder: EncodingLadder): RenditionPlan[] {
  const plans: RenditionPlan[] = [];
  const video = probe.video;
  if (video) {
    const portrait = video.displayHeight > video.displayWidth;
    const shortSide = Math.min(video.displayWidth, video.displayHeight);
    const longSide = Math.max(video.displayWidth, video.displayHeight);
    const scaleOf = (r: LadderRung) =>
      r.width !== undefined ? r.width / longSide : (r.height ?? shortSide) / shortSide;
    const rungs = [...ladder.rungs].sort((a, b) => scaleOf(b) - scaleOf(a));
    let fitting = rungs.map((rung) => ({ rung, scale: scaleOf(rung) })).filter((r) => r.scale <= 1 + 1e-9);
    if (fitting.length === 0 && rungs.length > 0) {
      const smallest = rungs[rungs.length - 1]!;
      fitting = [{ rung: { ...smallest, name: `${even(shortSide)}p` }, scale: 1 }];
    }
    for (const { rung, scale } of fitting) {
      const short = even(shortSide * scale);
      const long = even(longSide * scale);
      const frameRate = outputFrameRate(video.frameRate, rung.maxFrameRate ?? ladder.maxFrameRate);
      plans.push({
        type: 'video',
        name: rung.name,
        codec: rung.codec,
        width: portrait ? short : long,
        height: portrait ? long : short,
        frameRate,
        videoBitrate: rung.videoBitrate,
        maxRate: rung.maxRate,
        gopFrames: Math.max(1, Math.round(frameRate * ladder.gopSeconds)),
        segmentSeconds: ladder.segmentSeconds,
      });
    }
  }
  if (probe.audio) {
    plans.push({
      type: 'audio',
      name: 'audio',
      audioBitrate: ladder.audioBitrate,
      segmentSeconds: ladder.segmentSeconds,
      ...(ladder.audioCopy && canCopyAudio(probe, ladder.audioBitrate)
        ? { copy: true, channels: probe.audio.channels }
        : { channels: 2 }),
    });
  }
  return plans;
}

/**
 * Whether the source's audio already is what the audio rendition would be: mono or stereo AAC-LC
 * at 48 kHz, in an MP4 or MOV (ISOBMFF packets, no ADTS stream to repair), at no more than the
 * rendition's bitrate (with 10% to spare). Copying it skips an encode and a generation of loss;
 * mono stays mono (the playlists say so).
 */
export function canCopyAudio(probe: Probe, audioBitrate: number): boolean {
  const a = probe.audio;
  return (
    a !== null &&
    a.codec === 'aac' &&
    a.profile === 'LC' &&
    (a.channels === 1 || a.channels === 2) &&
    a.sampleRate === 48000 &&
    a.bitrate !== null &&
    a.bitrate <= audioBitrate * 1000 * 1.1 &&
    /\b(mov|mp4)\b/.test(probe.formatName)
  );
}

const pixels = (r: VideoRendition) => r.width * r.height;

/**
 * What makes a media playable soonest: its smallest video rung and its audio. An audio-only
 * media is playable with its audio alone.
 */
export function firstRenditions(plan: RenditionPlan[]): RenditionPlan[] {
  const videos = plan.filter((r): r is VideoRendition => r.type === 'video');
  const smallest = videos.reduce<VideoRendition | null>((min, r) => (!min || pixels(r) < pixels(min) ? r : min), null);
  return plan.filter((r) => r.type === 'audio' || r === smallest);
}

/** The rung remuxed into the MP4 download: the preferred one if planned, else the largest planned. */
export function downloadRendition(plan: RenditionPlan[], preferred: string): VideoRendition | null {
  const videos = plan.filter((r): r is VideoRendition => r.type === 'video');
  return (
    videos.find((r) => r.name === preferred) ??
    videos.reduce<VideoRendition | null>((max, r) => (!max || pixels(r) > pixels(max) ? r : max), null)
  );
}
