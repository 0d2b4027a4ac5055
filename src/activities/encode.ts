import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { ApplicationFailure, CancelledFailure, type Context } from '@temporalio/activity';
import type { RenditionWriter } from '../db/medias.ts';
import { FailureType, isNotWanted } from '../domain/errors.ts';
import { streamKey } from '../domain/paths.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { videoCodecFromInit } from '../media/codec-string.ts';
import { encodeRenditionArgs, fixTargetDuration, renditionFiles, threadOptions } from '../media/ffmpeg-args.ts';
import {
  aacLcCodec,
  measureBandwidth,
  parseMediaPlaylist,
  type MediaPlaylist,
  type VariantEntry,
} from '../media/hls.ts';
import { decodesCleanly, FfmpegError, runFfmpeg, type FfmpegProgress } from '../media/runner.ts';
import { activityContext, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { backgroundFfmpeg } from './ffmpeg.ts';
import { storeForMedia } from './media-guard.ts';
import { publishIfAllReady, readyEntry, shapeOf } from './publish.ts';
import { fetchStored } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

export interface EncodeInput {
  mediaId: string;
  sourceKey: string;
  rendition: RenditionPlan;
  duration: number;
  /**
   * `playable`: what makes the media playable (its smallest rung and its audio), encoded first at
   * normal CPU priority, the video with every core. `ladder`: the rest, sharing the cores at
   * encoding.background_priority, paused while a playable encode runs on the worker.
   */
  stage: 'playable' | 'ladder';
  /**
   * The renditions that together make the media playable, this one among them, when the media
   * has more to encode. The last of them to be encoded publishes them: a master playlist of
   * them, then the playable flag that opens the stream (no round trip through the workflow).
   */
  publishWith?: RenditionPlan[];
}

/** What an encode wrote, read back: its playlist, the size of each file, its bit rates and codec string. */
interface EncodedOutput {
  playlist: MediaPlaylist;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
}

/** Codec string of an encoded rendition, from the decoder configuration in its init segment. */
async function codecsOf(rendition: RenditionPlan, initFile: string): Promise<string> {
  if (rendition.type === 'audio') return aacLcCodec;
  const codecs = videoCodecFromInit(await readFile(initFile));
  if (!codecs)
    throw new Error(`the init segment of ${rendition.name} holds no decoder configuration Gilfoyle can read`);
  return codecs;
}

/** Reads back what ffmpeg wrote in `outDir`: the playlist (target duration fixed), bit rates measured from the files, the codec string. */
async function readOutput(rendition: RenditionPlan, outDir: string): Promise<EncodedOutput> {
  const playlistFile = path.join(outDir, renditionFiles(rendition.name).playlist);
  const written = await readFile(playlistFile, 'utf8');
  const playlistText = fixTargetDuration(written);
  if (playlistText !== written) await writeFile(playlistFile, playlistText);
  const playlist = parseMediaPlaylist(playlistText);
  if (playlist.segments.length === 0 || !playlist.initUri) {
    throw ApplicationFailure.nonRetryable(`encoding ${rendition.name} produced no segments`, FailureType.InvalidMedia);
  }
  const sizes = await Promise.all(playlist.segments.map(async (s) => (await stat(path.join(outDir, s.uri))).size));
  const initBytes = (await stat(path.join(outDir, playlist.initUri))).size;
  const bw = measureBandwidth(
    playlist.segments.map((s, i) => ({ duration: s.duration, bytes: sizes[i]! })),
    initBytes,
    playlist.targetDuration,
  );
  return { playlist, ...bw, codecs: await codecsOf(rendition, path.join(outDir, playlist.initUri)) };
}

/** The rendition writes of this attempt, in this run (guarded in the SQL against late, out-of-order writes). */
const writerOf = (ctx: Context | null): RenditionWriter => ({
  attempt: ctx?.info.attempt ?? 1,
  runId: ctx?.info.workflowExecution?.runId,
});

export const createEncodeActivities = (deps: ActivityDeps) => {
  const { medias, logger } = deps;
  const background = backgroundFfmpeg(deps);

  /**
   * The rendition as an earlier attempt left it, when that attempt stored every file and marked
   * it Ready but did not live to report it (its worker died): a retry then resumes from there
   * instead of encoding it again.
   */
  async function alreadyEncoded(mediaId: string, rendition: RenditionPlan): Promise<VariantEntry | null> {
    const entry = readyEntry(
      rendition,
      (await medias.listRenditions(mediaId)).find((r) => r.name === rendition.name),
    );
    if (!entry) return null;
    const playlist = parseMediaPlaylist(await streamText(await deps.storage.get(streamKey(mediaId, entry.playlist))));
    if (!playlist.initUri || playlist.segments.length === 0) return null;
    return { ...entry, init: playlist.initUri, segments: playlist.segments };
  }

  /** Turns ffmpeg's progress into a percentage: heartbeated at once, written to Postgres at most once per interval. */
  function progressReporter(ctx: Context | null, mediaId: string, rendition: RenditionPlan, duration: number) {
    const interval = deps.progressIntervalMs ?? 1000;
    let lastWrite = 0;
    const state = { percent: 0 };
    const onProgress = (p: FfmpegProgress) => {
      state.percent = p.done ? 100 : duration > 0 ? Math.min(99, Math.floor((p.outTime / duration) * 100)) : 0;
      ctx?.heartbeat({ percent: state.percent });
      const now = Date.now();
      if (now - lastWrite >= interval) {
        lastWrite = now;
        void medias.renditionProgress(mediaId, rendition.name, state.percent, writerOf(ctx)).catch(() => undefined);
      }
    };
    return { state, onProgress };
  }

  /**
   * Runs ffmpeg over the source into `outDir`. A playable encode runs in the foreground (every
   * core, normal priority, background ffmpegs of this worker paused meanwhile); the rest in the
   * background. Copied audio carries the source's damage with it (an encode would conceal it):
   * when it does not decode cleanly, it is encoded after all, with the same channels.
   */
  async function runEncode(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    source: string,
    outDir: string,
    stage: EncodeInput['stage'],
    onProgress: (p: FfmpegProgress) => void,
  ) {
    const playable = stage === 'playable';
    const signal = ctx?.cancellationSignal;
    const run = (r: RenditionPlan) => {
      const args = encodeRenditionArgs(r, {
        input: source,
        outputDir: outDir,
        preset: deps.preset,
        ...threadOptions(playable && r.type === 'video', deps.threads),
      });
      return playable
        ? runFfmpeg(deps.ffmpegPath, args, { signal, timeoutMs: deps.ffmpegTimeoutMs, priority: 'normal', onProgress })
        : background(args, signal, { onProgress });
    };
    const leaveForeground = playable ? deps.foreground?.enterForeground() : undefined;
    try {
      await run(rendition);
      const playlistFile = path.join(outDir, renditionFiles(rendition.name).playlist);
      if (
        rendition.type === 'audio' &&
        rendition.copy &&
        !(await decodesCleanly(deps.ffmpegPath, playlistFile, { signal, timeoutMs: deps.ffmpegTimeoutMs }))
      ) {
        logger.info({ mediaId }, 'copied audio does not decode cleanly: encoding it instead');
        await rm(outDir, { recursive: true, force: true });
        await mkdir(outDir);
        await run({ ...rendition, copy: false });
      }
    } finally {
      leaveForeground?.();
    }
  }

  /** Stores the rendition's files (unless the media is gone meanwhile), then marks it Ready with its event, in one transaction. */
  async function storeRendition(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    outDir: string,
    out: EncodedOutput,
    attempt: number,
  ) {
    await storeForMedia(deps, ctx, mediaId, async () => {
      for (const name of await readdir(outDir))
        await deps.storage.putFile(streamKey(mediaId, name), path.join(outDir, name));
    });
    const { bandwidth, averageBandwidth, codecs } = out;
    await medias.renditionReady(
      mediaId,
      rendition.name,
      { bandwidth, average_bandwidth: averageBandwidth, codecs, playlist: renditionFiles(rendition.name).playlist },
      {
        type: 'rendition.ready',
        message: `rendition ${rendition.name} encoded (${out.playlist.segments.length} segments, ${Math.round(averageBandwidth / 1000)} kb/s average)`,
        data: {
          rendition: rendition.name,
          attempt,
          segments: out.playlist.segments.length,
          codecs,
          bandwidth,
          averageBandwidth,
        },
      },
      writerOf(ctx),
    );
  }

  /** An attempt that failed: ffmpeg's own words as an event, and the rendition Errored when no attempt is left. */
  async function recordFailure(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    attempt: number,
    err: unknown,
  ) {
    if (err instanceof CancelledFailure) return;
    if (err instanceof FfmpegError) {
      await medias.addEvent(mediaId, {
        type: 'rendition.attempt_failed',
        level: 'warn',
        message: `encoding ${rendition.name} failed (attempt ${attempt}): ${err.message}`,
        data: { rendition: rendition.name, attempt, exitCode: err.exitCode, stderr: err.stderrTail },
      });
    }
    logger.warn({ mediaId, rendition: rendition.name, attempt, err: (err as Error).message }, 'encode attempt failed');
    const maxAttempts = ctx?.info.retryPolicy?.maximumAttempts ?? 0;
    const final =
      (err instanceof ApplicationFailure && err.nonRetryable) || (maxAttempts > 0 && attempt >= maxAttempts);
    // A media gone, or no longer this run's (force-cancelled, retried since): its rendition is not ours to mark.
    const notOurs = err instanceof ApplicationFailure && isNotWanted(err.type);
    // The last attempt: /renditions shows the rung Errored (the workflow marks the media).
    if (final && !notOurs) await medias.renditionErrored(mediaId, rendition.name, writerOf(ctx)).catch(() => undefined);
  }

  /** Encodes one rendition to fMP4 HLS, heartbeating progress, and stores its files. One attempt, one temp folder. */
  async function encodeRendition({
    mediaId,
    sourceKey,
    rendition,
    duration,
    stage,
    publishWith,
  }: EncodeInput): Promise<VariantEntry> {
    const ctx = activityContext();
    const attempt = ctx?.info.attempt ?? 1;
    try {
      const resumed = attempt > 1 ? await alreadyEncoded(mediaId, rendition) : null;
      if (resumed) {
        logger.info(
          { mediaId, rendition: rendition.name, attempt },
          'rendition already encoded and stored by an earlier attempt',
        );
        if (publishWith?.length) await publishIfAllReady(deps, mediaId, publishWith);
        return resumed;
      }
      await medias.startRenditionAttempt(mediaId, rendition.name, writerOf(ctx));
      const progress = progressReporter(ctx, mediaId, rendition, duration);
      const label = `${mediaId}-${rendition.name}-a${attempt}`;
      return await withHeartbeat(
        ctx,
        () => progress.state,
        () =>
          withTempDir(deps.tempDir, label, async (dir) => {
            const source = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
            const outDir = path.join(dir, 'out');
            await mkdir(outDir);
            const started = performance.now();
            await runEncode(ctx, mediaId, rendition, source, outDir, stage, progress.onProgress);
            const seconds = (performance.now() - started) / 1000;
            const labels = { rendition: rendition.name, codec: rendition.type === 'video' ? rendition.codec : 'aac' };
            deps.metrics?.encodeDuration.observe(labels, seconds);
            if (duration > 0 && seconds > 0) deps.metrics?.encodeRealtime.observe(labels, duration / seconds);
            const out = await readOutput(rendition, outDir);
            await storeRendition(ctx, mediaId, rendition, outDir, out, attempt);
            if (publishWith?.length) await publishIfAllReady(deps, mediaId, publishWith);
            const { playlist, bandwidth, averageBandwidth, codecs } = out;
            const files = renditionFiles(rendition.name);
            return {
              type: rendition.type,
              name: rendition.name,
              playlist: files.playlist,
              init: playlist.initUri!,
              segments: playlist.segments,
              codecs,
              bandwidth,
              averageBandwidth,
              ...shapeOf(rendition),
            };
          }),
      );
    } catch (err) {
      await recordFailure(ctx, mediaId, rendition, attempt, err);
      throw err;
    }
  }

  return { encodeRendition };
};
