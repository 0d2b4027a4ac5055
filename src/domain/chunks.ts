import type { AudioRendition, VideoRendition } from './renditions.ts';

/**
 * Chunked encoding: a long source is cut, for each video rung, into chunks that are whole
 * segments on the rung's frame grid, each chunk its own encode activity on whichever worker takes
 * it. A chunk's segments are numbered on from the chunks before it and its timestamps continue
 * theirs, so the rung's playlist is simply the list of every chunk's segments: nothing is joined.
 */
export interface ChunkPlan {
  index: number;
  /** Seconds into the source where the chunk starts: a frame of the rung, on a segment boundary. */
  start: number;
  /** Frames the chunk encodes; null for the last chunk, which runs to the end of the source. */
  frames: number | null;
  /** Seconds of the source the chunk covers. */
  seconds: number;
  /** Number of the chunk's first segment in the rendition. */
  firstSegment: number;
}

/** What the workflow takes from config to decide: chunk length, and the shortest source that is chunked. */
export interface ChunkingSettings {
  /** Seconds per chunk, a multiple of the segment duration; 0: never chunk. */
  chunkSeconds: number;
  /** Sources up to this long are encoded whole. */
  thresholdSeconds: number;
}

/**
 * Every chunked rendition's timeline starts this far in (tfdt, and the audio's too), the same for
 * every chunk: no chunk then has negative decode timestamps for its muxer to shift (which it would
 * do for the first chunk only, B-frames delaying decode before presentation), so every chunk is
 * cut the same way, and their init segments are identical. Players start at the first segment.
 */
export const chunkedTimelineOffsetSeconds = 1;

/** Frames in one segment of the rung: whole GOPs, the same count whichever rung (a segment is a GOP multiple). */
export function segmentFrames(r: VideoRendition): number {
  const gopsPerSegment = Math.max(1, Math.round((r.segmentSeconds * r.frameRate) / r.gopFrames));
  return r.gopFrames * gopsPerSegment;
}

/** The chunks of a rung over a source of `duration` seconds, chunks of about `chunkSeconds` (whole segments). */
export function planChunks(duration: number, r: VideoRendition, chunkSeconds: number): ChunkPlan[] {
  const perSegment = segmentFrames(r);
  const segmentsPerChunk = Math.max(1, Math.round(chunkSeconds / r.segmentSeconds));
  const chunkFrames = perSegment * segmentsPerChunk;
  // A source of exactly k chunks (give or take a frame of rounding) has k chunks, not k + 1.
  const totalFrames = Math.max(1, duration * r.frameRate);
  const count = Math.max(1, Math.ceil((totalFrames - 1) / chunkFrames));
  return Array.from({ length: count }, (_, index) => {
    const start = (index * chunkFrames) / r.frameRate;
    const last = index === count - 1;
    return {
      index,
      start,
      frames: last ? null : chunkFrames,
      seconds: last ? Math.max(0, duration - start) : chunkFrames / r.frameRate,
      firstSegment: index * segmentsPerChunk,
    };
  });
}

/** Whether a source is encoded in chunks: chunking on, the source longer than the threshold and than one chunk. */
export const isChunked = (duration: number, c: ChunkingSettings | undefined): c is ChunkingSettings =>
  c !== undefined && c.chunkSeconds > 0 && duration > c.thresholdSeconds && duration > c.chunkSeconds;

/**
 * A media published while it still encodes (a chunked media, a long audio-only one): its
 * playable renditions' playlists grow (EVENT) as their parts land, and the media is playable as
 * soon as the first part of each is stored. The encode activities publish it themselves, with no
 * round trip through the workflow.
 */
export interface LiveMedia {
  /** The playable video rung, encoded in chunks; absent for an audio-only media. */
  video?: VideoRendition;
  audio?: AudioRendition;
  /** Seconds of audio stored before the media can start: what the first video chunk covers. */
  audioSecondsNeeded: number;
  /** The live playlists' target duration, fixed for their whole life. */
  targetDuration: number;
}
