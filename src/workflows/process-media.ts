import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import { nonRetryableFailureTypes } from '../domain/errors.ts';
import { planRenditions } from '../domain/renditions.ts';
import { MediaStatus } from '../domain/status.ts';
import type { ProcessMediaInput, ProcessMediaResult } from '../domain/workflow.ts';

type Activities = ReturnType<typeof createActivities>;

/** Short bookkeeping activities: Postgres writes, playlists. */
const mirrorOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
};
const probeOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: nonRetryableFailureTypes },
};
/** Encodes heartbeat progress; a worker that dies is noticed within the heartbeat timeout. */
const encodeOptions = (input: ProcessMediaInput): ActivityOptions => ({
  taskQueue: input.encodeTaskQueue,
  startToCloseTimeout: `${input.encodeTimeoutSeconds} seconds`,
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: input.maxAttempts,
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  },
});

const mirror = proxyActivities<Activities>(mirrorOptions);
const { probeSource } = proxyActivities<Activities>(probeOptions);

/** The reason to show an operator: the innermost failure's message. */
function reasonOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}

/** One durable run per media: probe, plan, encode every rendition, write the master playlist, finalize. */
export async function processMedia(input: ProcessMediaInput): Promise<ProcessMediaResult> {
  const { mediaId, sourceKey } = input;
  const { encodeRendition } = proxyActivities<Activities>(encodeOptions(input));
  try {
    const probe = await probeSource({ mediaId, sourceKey, kind: input.kind });
    const plan = planRenditions(probe, input.ladder);
    await mirror.startProcessing({ mediaId, plan });
    const outputs = await Promise.all(
      plan.map((rendition) => encodeRendition({ mediaId, sourceKey, rendition, duration: probe.duration })),
    );
    await mirror.writeMasterPlaylist({ mediaId, outputs });
    await mirror.finalizeMedia({ mediaId, duration: probe.duration });
    return { mediaId, renditions: plan.map((r) => r.name), duration: probe.duration };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const reason = reasonOf(err);
    log.warn('media processing failed', { mediaId, reason });
    await CancellationScope.nonCancellable(() => mirror.failMedia({ mediaId, reason }));
    // Fail the run, so the Temporal UI shows it failed and a retry may start a new run.
    throw ApplicationFailure.create({ message: reason, type: 'MediaErrored', nonRetryable: true, details: [MediaStatus.Errored] });
  }
}
