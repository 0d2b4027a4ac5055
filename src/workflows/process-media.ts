import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import { FailureType, isNotWanted, nonRetryableFailureTypes } from '../domain/errors.ts';
import { downloadRendition, firstRenditions, type RenditionPlan } from '../domain/renditions.ts';
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

const mirror = proxyActivities<Activities>(mirrorOptions);
const { probeSource } = proxyActivities<Activities>(probeOptions);

/**
 * Task queue priorities (1 goes first): what makes a media playable; then the ladder, largest
 * rung first; then the short jobs (pictures, download). Longest first: what is left running at
 * the end, with cores to spare, is short. Across media too: a new media's playable rung goes
 * ahead of the ladders already waiting.
 */
const priority = { playable: 1, ladderFrom: 2, ladderTo: 4, short: 5 } as const;

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
  return e instanceof ApplicationFailure && isNotWanted(e.type);
};

/**
 * One durable run per media: probe and plan; encode the smallest rung and the audio first, so the
 * media is playable soonest; the rest of the ladder, the pictures and the download meanwhile, at
 * lower priority; then the manifests, and Ready.
 */
export async function processMedia(input: ProcessMediaInput): Promise<ProcessMediaResult> {
  const { mediaId, sourceKey } = input;
  const heavy = (priorityKey: number) =>
    proxyActivities<Activities>({ ...encodeOptions(input), priority: { priorityKey } });
  const state: ProcessingProgress = { stage: 'probing', playable: false, progress: 0, renditions: {} };
  setHandler(progressQuery, () => state);

  // Every heavy job, so that a run that fails or is cancelled stops them all and waits until they
  // have stopped before it marks the media: no encode then writes after the media's last event.
  const jobs: Promise<unknown>[] = [];
  const job = <T>(p: Promise<T>): Promise<T> => {
    jobs.push(p);
    // A failure ends the run at the first await that sees it; the others must not reject unhandled.
    p.catch(() => undefined);
    return p;
  };
  const work = new CancellationScope();

  const encode = async (
    rendition: RenditionPlan,
    duration: number,
    stage: 'playable' | 'ladder',
    priorityKey: number,
    publishWith?: RenditionPlan[],
  ): Promise<VariantEntry> => {
    state.renditions[rendition.name] = 'encoding';
    const out = await job(
      heavy(priorityKey).encodeRendition({
        mediaId,
        sourceKey,
        rendition,
        duration,
        stage,
        ...(publishWith ? { publishWith } : {}),
      }),
    );
    state.renditions[rendition.name] = 'ready';
    const all = Object.values(state.renditions);
    state.progress = Math.floor((100 * all.filter((s) => s === 'ready').length) / all.length);
    return out;
  };

  try {
    return await work.run(async () => {
      if (input.sourceUrl)
        await heavy(priority.playable).fetchSourceFromUrl({
          mediaId,
          sourceKey,
          url: input.sourceUrl,
          kind: input.kind,
        });
      const { probe, plan } = await probeSource({ mediaId, sourceKey, kind: input.kind, ladder: input.ladder });
      for (const r of plan) state.renditions[r.name] = 'pending';
      state.stage = 'encoding';

      const first = firstRenditions(plan);
      const rest = plan.filter((r) => !first.includes(r));
      const encodes = new Map<string, Promise<VariantEntry>>();
      // With more to encode, the last of the first renditions to finish makes the media playable.
      const publishWith = rest.length > 0 ? first : undefined;
      for (const r of first) encodes.set(r.name, encode(r, probe.duration, 'playable', priority.playable, publishWith));
      // Marking the media Processing takes one short activity: when it is done, the playable
      // encodes have reached the workers, and the ladder can follow without racing them for a slot.
      await mirror.startProcessing({ mediaId, plan });
      rest.forEach((r, i) =>
        encodes.set(r.name, encode(r, probe.duration, 'ladder', Math.min(priority.ladderTo, priority.ladderFrom + i))),
      );
      const output = (name: string) => encodes.get(name)!;

      const playable = job(
        Promise.all(first.map((r) => output(r.name))).then(() => {
          if (publishWith) state.playable = true;
        }),
      );
      const video = probe.video;
      const smallest = first.find((r) => r.type === 'video');
      // Pictures once the smallest rung exists: the storyboard is taken from it, far cheaper to decode than the source.
      const pictures = job(
        video
          ? (smallest ? output(smallest.name) : Promise.resolve(undefined)).then((storyboardFrom) =>
              heavy(priority.short).makePictures({
                mediaId,
                sourceKey,
                storyboardFrom,
                duration: probe.duration,
                displayWidth: video.displayWidth,
                displayHeight: video.displayHeight,
                settings: input.pictures,
              }),
            )
          : Promise.resolve([]),
      );
      // The download as soon as its rung and the audio are encoded.
      const downloadRung = downloadRendition(plan, input.downloadRendition ?? '720p');
      const audio = plan.find((r) => r.type === 'audio');
      const download = job(
        Promise.all([downloadRung && output(downloadRung.name), audio && output(audio.name)]).then(([v, a]) =>
          heavy(priority.short).makeDownload({ mediaId, ...(v ? { video: v } : {}), ...(a ? { audio: a } : {}) }),
        ),
      );

      const outputs = await Promise.all(plan.map((r) => output(r.name)));
      const [files] = await Promise.all([Promise.all([download, pictures]), playable]);
      state.stage = 'packaging';
      await mirror.finalizeMedia({
        mediaId,
        outputs,
        duration: probe.duration,
        segmentSeconds: input.ladder.segmentSeconds,
        files: files.flat(),
      });
      state.stage = 'done';
      state.playable = true;
      return { mediaId, renditions: plan.map((r) => r.name), duration: probe.duration };
    });
  } catch (err) {
    work.cancel();
    await CancellationScope.nonCancellable(() => Promise.allSettled(jobs));
    if (isCancellation(err)) {
      // Cancelled (POST /medias/{id}/cancel): the media ends Errored, and the run Cancelled.
      state.stage = 'cancelled';
      await CancellationScope.nonCancellable(() => mirror.cancelMedia({ mediaId }));
      throw err;
    }
    if (notWanted(err)) {
      state.stage = 'failed';
      log.info('run not wanted any more', { mediaId, reason: reasonOf(err) });
      throw ApplicationFailure.create({
        message: reasonOf(err),
        type: FailureType.MediaNotScheduled,
        nonRetryable: true,
      });
    }
    state.stage = 'failed';
    const reason = reasonOf(err);
    log.warn('media processing failed', { mediaId, reason });
    await CancellationScope.nonCancellable(() => mirror.failMedia({ mediaId, reason }));
    // Fail the run, so the Temporal UI shows it failed and a retry may start a new run.
    throw ApplicationFailure.create({
      message: reason,
      type: 'MediaErrored',
      nonRetryable: true,
      details: [MediaStatus.Errored],
    });
  }
}
