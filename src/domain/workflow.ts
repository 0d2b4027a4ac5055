import type { EncodingLadder } from './renditions.ts';
import type { SourceKind } from './status.ts';

/** Input of the processMedia workflow: everything it needs, so it reads no config itself. */
export interface ProcessMediaInput {
  mediaId: string;
  sourceKey: string;
  kind: SourceKind;
  ladder: EncodingLadder;
  /** Attempts per encode activity (encoding.max_attempts). */
  maxAttempts: number;
  /** Task queue of the workers that run encodes (their concurrency is bounded apart from bookkeeping). */
  encodeTaskQueue: string;
  /** Upper bound of one encode, seconds. */
  encodeTimeoutSeconds: number;
}

export interface ProcessMediaResult {
  mediaId: string;
  renditions: string[];
  duration: number;
}

export const workflowIdOf = (mediaId: string) => `media-${mediaId}`;
export const processMediaWorkflowType = 'processMedia';

/** Encode activities go to their own task queue so that a worker's encode slots never block bookkeeping. */
export const encodeTaskQueueOf = (taskQueue: string) => `${taskQueue}-encode`;
