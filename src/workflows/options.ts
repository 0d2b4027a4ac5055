import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
import { isNotWanted, nonRetryableFailureTypes } from '../domain/errors.ts';
import type { ProcessMediaInput } from '../domain/workflow.ts';

/** What the workflows share: activity timeouts and retries, task queue priorities, and their jobs' bookkeeping. */

/** Short bookkeeping activities: Postgres writes, playlists. */
export const mirrorOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
};

/**
 * The probe heartbeats too: a worker that dies while it fetches or probes the source is noticed
 * within the heartbeat timeout, not after the whole start-to-close timeout (the soak found a
 * media held 5 minutes so).
 */
export const probeOptions = (input: Pick<ProcessMediaInput, 'heartbeatTimeoutSeconds'>): ActivityOptions => ({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30} seconds`,
  retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: nonRetryableFailureTypes },
});
/** Where and how long encodes run, from the workflow input (config). */
export type EncodeSettings = Pick<
  ProcessMediaInput,
  'encodeTaskQueue' | 'encodeTimeoutSeconds' | 'heartbeatTimeoutSeconds' | 'maxAttempts'
>;

/**
 * Encodes, pictures and packaging run on the encode task queue (bounded by each worker's
 * concurrency) and heartbeat, so a worker that dies is noticed within the heartbeat timeout.
 */
export const encodeOptions = (input: EncodeSettings, priorityKey?: number): ActivityOptions => ({
  taskQueue: input.encodeTaskQueue,
  startToCloseTimeout: `${input.encodeTimeoutSeconds} seconds`,
  heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? 30} seconds`,
  // A cancelled media waits until ffmpeg is killed and the attempt's temp files are gone.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: input.maxAttempts,
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
  ...(priorityKey !== undefined ? { priority: { priorityKey } } : {}),
});

/**
 * Task queue priorities (1 goes first): what makes a media playable; then the ladder, largest
 * rung first; then the short jobs (pictures, download). Longest first: what is left running at
 * the end, with cores to spare, is short. Across media too: a new media's playable rung goes
 * ahead of the ladders already waiting.
 */
export const priority = { playable: 1, ladderFrom: 2, ladderTo: 4, short: 5 } as const;

/** The innermost failure (through activities and child workflows): what an operator needs to read. */
export function rootOf(err: unknown): unknown {
  let e: unknown = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e;
}

export const reasonOf = (err: unknown) => {
  const e = rootOf(err);
  return e instanceof Error ? e.message : String(err);
};

/** The run found the media gone, or no longer waiting for it: there is nothing to mark failed. */
export const notWanted = (err: unknown) => {
  const e = rootOf(err);
  return e instanceof ApplicationFailure && isNotWanted(e.type);
};

/**
 * A run's heavy jobs, so that a run that fails or is cancelled stops them all and waits until
 * they have stopped before it marks the media: nothing then writes after the media's last event.
 */
export function jobTracker() {
  const jobs: Promise<unknown>[] = [];
  return {
    add<T>(p: Promise<T>): Promise<T> {
      jobs.push(p);
      // A failure ends the run at the first await that sees it; the others must not reject unhandled.
      p.catch(() => undefined);
      return p;
    },
    /** Cancels `scope` (the jobs' scope) and waits, whatever happens, until every job has settled. */
    async stop(scope: CancellationScope): Promise<void> {
      scope.cancel();
      await CancellationScope.nonCancellable(() => Promise.allSettled(jobs));
    },
  };
}
