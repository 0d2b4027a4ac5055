import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { isChunked, planChunks, type ChunkingSettings } from '../domain/chunks.ts';
import { FailureType } from '../domain/errors.ts';
import type { Probe } from '../domain/probe.ts';
import { planRenditions, type EncodingLadder, type RenditionPlan } from '../domain/renditions.ts';
import { processingStatuses, type SourceKind } from '../domain/status.ts';
import {
  ffprobeArgs,
  parseProbe,
  textSubtitleStreams,
  unplayableReason,
  unreadableReason,
  type RawProbe,
} from '../media/probe.ts';
import { FfmpegError, runFfprobe } from '../media/runner.ts';
import { activityContext, mediaRunId, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { claimRun, notThisRun, thisRun } from './media-guard.ts';
import { fetchStored } from './stored-files.ts';
import { takeSourceSubtitles } from './subtitles.ts';
import { withTempDir } from './temp-dirs.ts';

export interface ProbeInput {
  mediaId: string;
  sourceKey: string;
  kind: SourceKind;
  ladder: EncodingLadder;
  /** Chunked encoding of long sources: the rendition rows get their chunk counts. */
  chunking?: ChunkingSettings;
}

export interface ProbeResult {
  /** What is encoded: for a media uploaded as audio, without its picture. */
  probe: Probe;
  /** The renditions to encode, largest video first, then the audio (planRenditions). */
  plan: RenditionPlan[];
}

export const createProbeActivities = (deps: ActivityDeps) => ({
  /**
   * ffprobe the source and plan its renditions from the ladder; anything that is not playable
   * media fails here, once, without retries.
   */
  async probeSource({ mediaId, sourceKey, kind, ladder, chunking }: ProbeInput): Promise<ProbeResult> {
    const ctx = activityContext();
    await claimRun(deps, ctx, mediaId);
    return withHeartbeat(
      ctx,
      () => ({ step: 'probe' }),
      () =>
        withTempDir(deps.tempDir, `probe-${mediaId}`, async (dir) => {
          const file = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
          const { size } = await stat(file);
          const invalid = (why: string) =>
            ApplicationFailure.nonRetryable(`cannot process this file: ${why}`, FailureType.InvalidMedia);
          if (size === 0) throw invalid('the uploaded file is empty (0 bytes)');
          let raw: RawProbe;
          try {
            raw = JSON.parse(
              await runFfprobe(deps.ffprobePath, ffprobeArgs(file), { signal: ctx?.cancellationSignal }),
            ) as RawProbe;
          } catch (err) {
            if (err instanceof FfmpegError) {
              // The user reads the cause; ffprobe's own lines go to the worker log.
              deps.logger.warn({ mediaId, stderr: err.stderrTail }, 'ffprobe could not read the source');
              throw invalid(unreadableReason(err.stderrTail, file));
            }
            if (err instanceof SyntaxError) throw invalid('FFmpeg cannot read it (ffprobe gave no description of it)');
            throw err;
          }
          const probe = parseProbe(raw);
          const why =
            unplayableReason(probe, raw) ??
            (kind === 'audio' && !probe.audio ? 'the file uploaded as audio has no audio stream' : null);
          if (why) throw invalid(why);
          const summary = probe.video
            ? `${probe.video.codec} ${probe.video.displayWidth}x${probe.video.displayHeight}${probe.audio ? ` + ${probe.audio.codec} ${probe.audio.channels} ch` : ''}`
            : `${probe.audio!.codec} audio, ${probe.audio!.channels} ch`;
          await deps.medias.setState(
            mediaId,
            { probe, duration: probe.duration },
            {
              type: 'media.probed',
              message: `probed: ${probe.formatName}, ${summary}, ${probe.duration.toFixed(2)} s`,
              data: { formatName: probe.formatName, duration: probe.duration, video: probe.video, audio: probe.audio },
            },
            thisRun(processingStatuses),
          );
          // Uploaded as audio: the picture (cover art, or a video sent by mistake) is not encoded.
          const used = kind === 'audio' ? { ...probe, video: null } : probe;
          const plan = planRenditions(used, ladder);
          const chunks = isChunked(used.duration, chunking)
            ? Object.fromEntries(
                plan.flatMap((r) =>
                  r.type === 'video' ? [[r.name, planChunks(used.duration, r, chunking.chunkSeconds).length]] : [],
                ),
              )
            : {};
          if (!(await deps.medias.planRenditions(mediaId, plan, mediaRunId(ctx), chunks))) {
            throw notThisRun(mediaId, 'not planning its renditions');
          }
          // Text subtitle streams of a video become attachments (and text tracks of its streams).
          if (kind === 'video') await takeSourceSubtitles(deps, mediaId, file, textSubtitleStreams(raw), dir);
          return { probe: used, plan };
        }),
    );
  },
});
