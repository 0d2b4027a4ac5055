import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, type Context } from '@temporalio/activity';
import type { RenditionWriter } from '../db/medias.ts';
import { FailureType, isNotWanted } from '../domain/errors.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { videoCodecFromInit } from '../media/codec-string.ts';
import {
  encodeRenditionArgs,
  fixTargetDuration,
  renditionFiles,
  threadOptions,
  type EncodeOptions,
} from '../media/ffmpeg-args.ts';
import { aacLcCodec, measureBandwidth, parseMediaPlaylist, type MediaPlaylist } from '../media/hls.ts';
import { decodesCleanly, FfmpegError, runFfmpeg, type FfmpegProgress } from '../media/runner.ts';
import { mediaRunId } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { backgroundFfmpeg } from './ffmpeg.ts';

/**
 * What every encode activity shares (a whole rendition, a chunk of one, audio published as it
 * lands): running ffmpeg in the foreground or the background, reporting its progress, reading
 * back what it wrote, and recording a failed attempt.
 */

/**
 * `playable`: what makes the media playable (its smallest rung's first part and its audio),
 * encoded first at normal CPU priority, the video with every core. `ladder`: the rest, sharing
 * the cores at encoding.background_priority, paused while a playable encode runs on the worker.
 */
export type EncodeStage = 'playable' | 'ladder';

/** What an encode wrote, read back: its playlist, the size of each file, its bit rates and codec string. */
export interface EncodedOutput {
  playlist: MediaPlaylist;
  /** Bytes of each segment, in playlist order, and of the init segment. */
  sizes: number[];
  initBytes: number;
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
export async function readOutput(rendition: RenditionPlan, outDir: string): Promise<EncodedOutput> {
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
  return { playlist, sizes, initBytes, ...bw, codecs: await codecsOf(rendition, path.join(outDir, playlist.initUri)) };
}

/** The rendition writes of this attempt, in this run (guarded in the SQL against late, out-of-order writes). */
export const writerOf = (ctx: Context | null): RenditionWriter => ({
  attempt: ctx?.info.attempt ?? 1,
  runId: mediaRunId(ctx),
});

/** What an encode covers beyond the rendition: a chunk of it, its timeline offset, a playlist written as it goes. */
export type EncodeExtent = Pick<EncodeOptions, 'chunk' | 'timelineOffset' | 'live'>;

export const createEncoder = (deps: ActivityDeps) => {
  const { medias, logger } = deps;
  const background = backgroundFfmpeg(deps);

  /**
   * Turns ffmpeg's progress over `seconds` of output into a percentage: heartbeated at once, and
   * given to `write` (Postgres) at most once per interval.
   */
  function progressReporter(ctx: Context | null, seconds: number, write: (percent: number) => Promise<unknown>) {
    const interval = deps.progressIntervalMs ?? 1000;
    let lastWrite = 0;
    const state = { percent: 0 };
    const onProgress = (p: FfmpegProgress) => {
      state.percent = p.done ? 100 : seconds > 0 ? Math.min(99, Math.floor((p.outTime / seconds) * 100)) : 0;
      ctx?.heartbeat({ percent: state.percent });
      const now = Date.now();
      if (now - lastWrite >= interval) {
        lastWrite = now;
        void write(state.percent).catch(() => undefined);
      }
    };
    return { state, onProgress };
  }

  /**
   * Runs ffmpeg over the source (a path, or a URL it reads with ranged requests) into `outDir`.
   * A playable encode runs in the foreground (every core, normal priority, background ffmpegs of
   * this worker paused meanwhile); the rest in the background. Copied audio carries the source's
   * damage with it (an encode would conceal it): when it does not decode cleanly, it is encoded
   * after all, with the same channels. `copyChecked`: the source's audio was checked beforehand.
   */
  async function runEncode(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    source: string,
    outDir: string,
    stage: EncodeStage,
    onProgress: (p: FfmpegProgress) => void,
    extent: EncodeExtent = {},
    copyChecked = false,
  ) {
    const playable = stage === 'playable';
    const signal = ctx?.cancellationSignal;
    const run = (r: RenditionPlan) => {
      const args = encodeRenditionArgs(r, {
        input: source,
        outputDir: outDir,
        preset: deps.preset,
        ...threadOptions(playable && r.type === 'video', deps.threads),
        ...extent,
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
        !copyChecked &&
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

  /** Encode speed, by rendition and codec. */
  function observe(rendition: RenditionPlan, seconds: number, mediaSeconds: number) {
    const labels = { rendition: rendition.name, codec: rendition.type === 'video' ? rendition.codec : 'aac' };
    deps.metrics?.encodeDuration.observe(labels, seconds);
    if (mediaSeconds > 0 && seconds > 0) deps.metrics?.encodeRealtime.observe(labels, mediaSeconds / seconds);
  }

  /**
   * An attempt that failed: ffmpeg's own words as an event, and, when no attempt is left, what it
   * encoded marked Errored by `markErrored` (not for a media gone or no longer this run's).
   */
  async function recordFailure(
    ctx: Context | null,
    mediaId: string,
    what: { rendition: string; chunk?: number },
    err: unknown,
    markErrored: () => Promise<unknown>,
  ) {
    if (err instanceof CancelledFailure) return;
    const attempt = ctx?.info.attempt ?? 1;
    const part = what.chunk === undefined ? what.rendition : `${what.rendition} chunk ${what.chunk}`;
    if (err instanceof FfmpegError) {
      await medias.addEvent(mediaId, {
        type: 'rendition.attempt_failed',
        level: 'warn',
        message: `encoding ${part} failed (attempt ${attempt}): ${err.message}`,
        data: { ...what, attempt, exitCode: err.exitCode, stderr: err.stderrTail },
      });
    }
    logger.warn({ mediaId, ...what, attempt, err: (err as Error).message }, 'encode attempt failed');
    const maxAttempts = ctx?.info.retryPolicy?.maximumAttempts ?? 0;
    const final =
      (err instanceof ApplicationFailure && err.nonRetryable) || (maxAttempts > 0 && attempt >= maxAttempts);
    const notOurs = err instanceof ApplicationFailure && isNotWanted(err.type);
    if (final && !notOurs) await markErrored().catch(() => undefined);
  }

  return { progressReporter, runEncode, observe, recordFailure };
};
