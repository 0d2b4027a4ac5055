import { ApplicationFailure, type Context } from '@temporalio/activity';
import { FailureType } from '../domain/errors.ts';
import { mediaPrefix } from '../domain/paths.ts';
import { processingStatuses, type MediaStatus } from '../domain/status.ts';
import { activityContext, mediaRunId } from './context.ts';
import type { ActivityDeps } from './deps.ts';

/** What keeps an activity from writing for a media that is gone, or no longer its run's. */

/**
 * Stores a media's files with `put`, unless the media was deleted (or the activity cancelled).
 * The API deletes a media's rows before its files, so a media found gone after the files are
 * stored was deleted meanwhile: its files, these included, are removed again, and nothing is
 * left behind whichever of the two came first.
 */
export async function storeForMedia(
  deps: ActivityDeps,
  ctx: Context | null,
  mediaId: string,
  put: () => Promise<unknown>,
): Promise<void> {
  await assertStillWanted(deps, ctx, mediaId);
  await put();
  if (!(await deps.medias.get(mediaId))) {
    await deps.storage.deletePrefix(mediaPrefix(mediaId));
    throw mediaGone(mediaId);
  }
}

/**
 * Throws when the media was deleted, or is no longer processed by this activity's run (the run
 * was terminated, by a force cancel, and the media marked Errored or retried since), or the
 * activity was cancelled: nothing more may be written for it.
 */
async function assertStillWanted(deps: ActivityDeps, ctx: Context | null, mediaId: string): Promise<void> {
  ctx?.cancellationSignal.throwIfAborted();
  const media = await deps.medias.get(mediaId);
  if (!media) throw mediaGone(mediaId);
  const runId = mediaRunId(ctx);
  if (runId && (media.workflow_run_id !== runId || !processingStatuses.includes(media.status)))
    throw notThisRun(mediaId, `${media.status}, run ${runId}`);
}

/** The failure of an activity whose media was deleted: nothing more is written for it. */
export const mediaGone = (mediaId: string) =>
  ApplicationFailure.nonRetryable(`media ${mediaId} no longer exists`, FailureType.MediaNotFound);

/** The failure of an activity whose run no longer processes the media: nothing of it is written. */
export const notThisRun = (mediaId: string, detail: string) =>
  ApplicationFailure.nonRetryable(
    `media ${mediaId} is no longer processed by this run (${detail})`,
    FailureType.MediaNotScheduled,
  );

/**
 * The first step of a run: it takes the media only while the media waits for processing, so
 * a run started by a stale message (the media was cancelled, or processed since) does nothing.
 */
export async function claimRun(deps: ActivityDeps, ctx: Context | null, mediaId: string): Promise<void> {
  const runId = mediaRunId(ctx);
  if (!runId) return;
  const claimed = await deps.medias.claimRun(mediaId, runId);
  if (claimed === null) throw mediaGone(mediaId);
  if (claimed !== 'claimed') {
    throw ApplicationFailure.nonRetryable(
      `media ${mediaId} is ${claimed}: it no longer waits for this run`,
      FailureType.MediaNotScheduled,
    );
  }
}

/** The guard of a mirror write: the media is processed by this activity's run (when in one), in one of these statuses. */
export const thisRun = (statuses?: readonly MediaStatus[]) => ({
  runId: mediaRunId(activityContext()),
  ...(statuses ? { statuses } : {}),
});
