import type { ChunkingSettings } from './chunks.ts';
import type { EncodingLadder } from './renditions.ts';
import type { SourceKind } from './status.ts';

export interface PictureSettings {
  /** Fraction of the duration where the poster is taken. */
  posterAt: number;
  storyboard: {
    thumbnailWidth: number;
    columns: number;
    maxThumbnails: number;
    minIntervalSeconds: number;
  } | null;
}

/** Input of the processMedia workflow: everything it needs, so it reads no config itself. */
export interface ProcessMediaInput {
  mediaId: string;
  sourceKey: string;
  kind: SourceKind;
  /** Upload from URL: fetched into sourceKey first. */
  sourceUrl?: string;
  /** A clip: its source is cut from this range of the parent's before it is probed. */
  clip?: ClipRange;
  ladder: EncodingLadder;
  /** Attempts per encode activity (encoding.max_attempts). */
  maxAttempts: number;
  /** Task queue of the workers that run encodes (their concurrency is bounded apart from bookkeeping). */
  encodeTaskQueue: string;
  /** Upper bound of one encode, seconds. */
  encodeTimeoutSeconds: number;
  /** A heavy activity silent this long is deemed lost (its worker died) and retried elsewhere; default 30. */
  heartbeatTimeoutSeconds?: number;
  /** Long sources are encoded in chunks (encoding.chunk_seconds); absent: every rendition whole. */
  chunking?: ChunkingSettings;
  /** Rung remuxed into the MP4 download (encoding.mp4_rendition); absent: 720p if planned, else the largest. */
  downloadRendition?: string;
  pictures: PictureSettings;
}

/** How to process (ladder, attempts, pictures…), from config: everything of the workflow input but the media. */
export type ProcessingSettings = Omit<ProcessMediaInput, 'mediaId' | 'sourceKey' | 'kind' | 'sourceUrl' | 'clip'>;

export interface ProcessMediaResult {
  mediaId: string;
  renditions: string[];
  duration: number;
}

/** What the `progress` query answers while a media is processed. */
export interface ProcessingProgress {
  stage: 'probing' | 'encoding' | 'packaging' | 'done' | 'failed' | 'cancelled';
  playable: boolean;
  /** Share of the renditions encoded, 0–100. Live per-encode percentages are in the activities' heartbeats. */
  progress: number;
  renditions: Record<string, 'pending' | 'encoding' | 'ready'>;
}

export const workflowIdOf = (mediaId: string) => `media-${mediaId}`;
/** The child workflow that encodes one rendition of a media in chunks. */
export const chunkedRenditionWorkflowIdOf = (mediaId: string, rendition: string) =>
  `${workflowIdOf(mediaId)}-${rendition}`;
export const processMediaWorkflowType = 'processMedia';

/** Encode activities go to their own task queue so that a worker's encode slots never block bookkeeping. */
export const encodeTaskQueueOf = (taskQueue: string) => `${taskQueue}-encode`;

/** A clip's range of its parent media, in seconds of the parent. */
export interface ClipRange {
  mediaId: string;
  start: number;
  end: number;
}
