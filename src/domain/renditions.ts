import type { Probe } from './probe.ts';

/** One rung of the configured ladder. */
export interface LadderRung {
  name: string;
  /** Short side of the picture in pixels (720 means 1280×720 landscape or 720×1280 portrait). */
  height: number;
  /** kb/s */
  videoBitrate: number;
  /** kb/s; peak allowed by the rate control. */
  maxRate: number;
}

export interface EncodingLadder {
  rungs: LadderRung[];
  /** kb/s of the AAC audio rendition. */
  audioBitrate: number;
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
 * source's displayed aspect ratio and are even, as yuv420p requires.
 */
export function planRenditions(probe: Probe, ladder: EncodingLadder): RenditionPlan[] {
  const plans: RenditionPlan[] = [];
  const video = probe.video;
  if (video) {
    const portrait = video.displayHeight > video.displayWidth;
    const shortSide = Math.min(video.displayWidth, video.displayHeight);
    const longSide = Math.max(video.displayWidth, video.displayHeight);
    const frameRate = outputFrameRate(video.frameRate, ladder.maxFrameRate);
    const gopFrames = Math.max(1, Math.round(frameRate * ladder.gopSeconds));
    const rungs = [...ladder.rungs].sort((a, b) => b.height - a.height);
    let fitting = rungs.filter((r) => r.height <= shortSide);
    if (fitting.length === 0) {
      const smallest = rungs[rungs.length - 1];
      fitting = smallest ? [{ ...smallest, name: `${even(shortSide)}p`, height: shortSide }] : [];
    }
    for (const rung of fitting) {
      const short = even(rung.height);
      const long = even((rung.height * longSide) / shortSide);
      plans.push({
        type: 'video',
        name: rung.name,
        width: portrait ? short : long,
        height: portrait ? long : short,
        frameRate,
        videoBitrate: rung.videoBitrate,
        maxRate: rung.maxRate,
        gopFrames,
        segmentSeconds: ladder.segmentSeconds,
      });
    }
  }
  if (probe.audio) {
    plans.push({ type: 'audio', name: 'audio', audioBitrate: ladder.audioBitrate, segmentSeconds: ladder.segmentSeconds });
  }
  return plans;
}
