import path from 'node:path';
import { stat } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../domain/errors.ts';
import { processingStatuses, type SourceKind } from '../domain/status.ts';
import type { ClipRange } from '../domain/workflow.ts';
import { clipSourceArgs } from '../media/ffmpeg-args.ts';
import { runFfmpeg } from '../media/runner.ts';
import { sourceInputArgs } from '../media/source-formats.ts';
import { activityContext, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { claimRun, thisRun } from './media-guard.ts';
import { fetchStored } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

export const createClipActivities = (deps: ActivityDeps) => ({
  /**
   * A clip's source: its range of the parent's source, cut frame-accurately into the clip's own
   * source key. From then on the clip owns its file: deleting the parent breaks nothing.
   */
  async cutClipSource({
    mediaId,
    sourceKey,
    clip,
    kind,
  }: {
    mediaId: string;
    sourceKey: string;
    clip: ClipRange;
    kind: SourceKind;
  }): Promise<number> {
    const ctx = activityContext();
    await claimRun(deps, ctx, mediaId);
    const parent = await deps.medias.get(clip.mediaId);
    if (!parent?.source_key) {
      throw ApplicationFailure.nonRetryable(
        `the clip's parent media ${clip.mediaId} was deleted before the clip was cut from it`,
        FailureType.InvalidMedia,
      );
    }
    let size = 0;
    await withHeartbeat(
      ctx,
      () => ({ step: 'clip' }),
      () =>
        withTempDir(deps.tempDir, `clip-${mediaId}`, async (dir) => {
          const input = await fetchStored(deps, clip.mediaId, parent.source_key!, path.join(dir, 'parent'));
          const output = path.join(dir, 'clip.mp4');
          await runFfmpeg(
            deps.ffmpegPath,
            clipSourceArgs(sourceInputArgs(input), input, clip, kind, deps.threads, output),
            {
              signal: ctx?.cancellationSignal,
              timeoutMs: deps.ffmpegTimeoutMs,
            },
          );
          size = (await stat(output)).size;
          await deps.storage.putFile(sourceKey, output);
        }),
    );
    await deps.medias.setState(
      mediaId,
      { sourceSize: size },
      {
        type: 'media.fetched',
        message: `clip cut from media ${clip.mediaId}, ${clip.start.toFixed(3)}–${clip.end.toFixed(3)} s (${size} bytes)`,
        data: { clip: { media_id: clip.mediaId, start: clip.start, end: clip.end }, size },
      },
      thisRun(processingStatuses),
    );
    return size;
  },
});
