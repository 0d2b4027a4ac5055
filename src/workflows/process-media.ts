import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import { FailureType, nonRetryableFailureTypes } from '../domain/errors.ts';
import { downloadRendition, firstRenditions, planRenditions, type RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus } from '../domain/status.ts';
import type { ProcessingProgress, ProcessMediaInput, ProcessMediaResult } from '../domain/workflow.ts';
import type { VariantEntry } from '../media/hls.ts';
import { progressQuery } from './definitions.ts';

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
/**
 * Encodes, pictures and packaging run on the encode task queue (bounded by each worker's
 * concurrency) and heartbeat, so a worker that dies is noticed within the heartbeat timeout.
 */
const encodeOptions = (input: ProcessMediaInput): ActivityOptions => ({
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
});

/** Pause between scheduling two heavy activities, so workers receive them in the planned order. */
const schedulingGap = '50 milliseconds';

const mirror = proxyActivities<Activities>(mirrorOptions);
const { probeSource } = proxyActivities<Activities>(probeOptions);

/** The innermost failure: what an operator needs to read. */
function rootOf(err: unknown): unknown {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e;
}
const reasonOf = (err: unknown) => {
  const e = rootOf(err);
  return e instanceof Error ? e.message : String(err);
};
/** The run found the media gone, or no longer waiting for it: there is nothing to mark failed. */
const notWanted = (err: unknown) => {
  const e = rootOf(err);
  return e instanceof ApplicationFailure && (e.type === FailureType.MediaNotFound || e.type === FailureType.MediaNotScheduled);
};

/**
 * One durable run per media: probe, plan, encode the smallest rung and the audio first so
 * the media is playable early, then the rest of the ladder with the pictures, then package
 * (final master playlist, DASH, download) and finalize.
 */
export async function processMedia(input: ProcessMediaInput): Promise<ProcessMediaResult> {
  const { mediaId, sourceKey } = input;
  const heavy = proxyActivities<Activities>(encodeOptions(input));
  const state: ProcessingProgress = { stage: 'probing', playable: false, progress: 0, renditions: {} };
  setHandler(progressQuery, () => state);

  const encode = async (rendition: RenditionPlan, duration: number, exclusive: boolean): Promise<VariantEntry> => {
    state.renditions[rendition.name] = 'encoding';
    const out = await heavy.encodeRendition({ mediaId, sourceKey, rendition, duration, exclusive });
    state.renditions[rendition.name] = 'ready';
    const all = Object.values(state.renditions);
    state.progress = Math.floor((100 * all.filter((s) => s === 'ready').length) / all.length);
    return out;
  };

  try {
    if (input.sourceUrl) await heavy.fetchSourceFromUrl({ mediaId, sourceKey, url: input.sourceUrl, kind: input.kind });
    const probe = await probeSource({ mediaId, sourceKey, kind: input.kind });
    const plan = planRenditions(probe, input.ladder);
    for (const r of plan) state.renditions[r.name] = 'pending';
    state.stage = 'encoding';
    await mirror.startProcessing({ mediaId, plan });

    const first = firstRenditions(plan);
    const rest = plan.filter((r) => !first.includes(r));
    const firstOutputs = await Promise.all(first.map((r) => encode(r, probe.duration, r.type === 'video')));
    if (rest.length > 0) {
      await mirror.writeMasterPlaylist({ mediaId, outputs: firstOutputs });
      await mirror.markPlayable({ mediaId, renditions: first.map((r) => r.name) });
      state.playable = true;
    }

    // Longest first (the plan lists the largest rung first), pictures last: the encode that
    // finishes last is then a short one, not the top rung left alone on the machine. Tasks
    // scheduled in one go reach workers in no set order, so each is scheduled a moment after the last.
    const restEncodes: Promise<VariantEntry>[] = [];
    for (const r of rest) {
      restEncodes.push(encode(r, probe.duration, false));
      await sleep(schedulingGap);
    }
    const video = probe.video;
    const pictures = video
      ? heavy.makePictures({
          mediaId,
          sourceKey,
          storyboardFrom: firstOutputs.find((o) => o.type === 'video'),
          duration: probe.duration,
          displayWidth: video.displayWidth,
          displayHeight: video.displayHeight,
          settings: input.pictures,
        })
      : Promise.resolve([]);
    const restOutputs = await Promise.all(restEncodes);
    await pictures;

    state.stage = 'packaging';
    const byName = new Map([...firstOutputs, ...restOutputs].map((o) => [o.name, o]));
    const outputs = plan.map((r) => byName.get(r.name)!);
    await mirror.writeMasterPlaylist({ mediaId, outputs });
    await heavy.packageMedia({
      mediaId,
      outputs,
      duration: probe.duration,
      segmentSeconds: input.ladder.segmentSeconds,
      downloadRendition: downloadRendition(plan, input.downloadRendition ?? '720p')?.name ?? null,
    });
    await mirror.finalizeMedia({ mediaId, duration: probe.duration });
    state.stage = 'done';
    state.playable = true;
    return { mediaId, renditions: plan.map((r) => r.name), duration: probe.duration };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled (POST /medias/{id}/cancel): the media ends Errored, and the run Cancelled.
      state.stage = 'cancelled';
      await CancellationScope.nonCancellable(() => mirror.cancelMedia({ mediaId }));
      throw err;
    }
    if (notWanted(err)) {
      state.stage = 'failed';
      log.info('run not wanted any more', { mediaId, reason: reasonOf(err) });
      throw ApplicationFailure.create({ message: reasonOf(err), type: FailureType.MediaNotScheduled, nonRetryable: true });
    }
    state.stage = 'failed';
    const reason = reasonOf(err);
    log.warn('media processing failed', { mediaId, reason });
    await CancellationScope.nonCancellable(() => mirror.failMedia({ mediaId, reason }));
    // Fail the run, so the Temporal UI shows it failed and a retry may start a new run.
    throw ApplicationFailure.create({ message: reason, type: 'MediaErrored', nonRetryable: true, details: [MediaStatus.Errored] });
  }
}
