import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import type { RenditionRow } from '../db/medias.ts';
import { FailureType } from '../domain/errors.ts';
import { masterPlaylistName, streamKey } from '../domain/paths.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { RenditionStatus } from '../domain/status.ts';
import { encodeRenditionArgs, fixTargetDuration, renditionFiles, threadOptions } from '../media/ffmpeg-args.ts';
import { videoCodecFromInit } from '../media/codec-string.ts';
import { aacLcCodec, buildMasterPlaylist, measureBandwidth, parseMediaPlaylist, type MasterEntry, type VariantEntry } from '../media/hls.ts';
import { decodesCleanly, FfmpegError, runFfmpeg } from '../media/runner.ts';
import { activityContext, fetchStored, storeForMedia, withHeartbeat, withTempDir, type ActivityDeps } from './support.ts';

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

/** What the plan says of a rendition in the master playlist: its picture, or its channels. */
const shapeOf = (r: RenditionPlan): Pick<MasterEntry, 'width' | 'height' | 'frameRate' | 'channels'> =>
  r.type === 'video' ? { width: r.width, height: r.height, frameRate: r.frameRate } : { channels: r.channels };

/** A rendition's master playlist entry from its row, once it is Ready and measured; null before. */
function readyEntry(plan: RenditionPlan, row: RenditionRow | undefined): MasterEntry | null {
  if (row?.status !== RenditionStatus.Ready || !row.playlist || row.bandwidth === null || row.codecs === null) return null;
  return {
    type: plan.type,
    name: plan.name,
    playlist: row.playlist,
    bandwidth: row.bandwidth,
    averageBandwidth: row.average_bandwidth ?? row.bandwidth,
    codecs: row.codecs,
    ...shapeOf(plan),
  };
}

export const createEncodeActivities = (deps: ActivityDeps) => {
  const { medias, logger } = deps;

  /** Codec string of an encoded rendition, from the decoder configuration in its init segment. */
  async function codecsOf(rendition: RenditionPlan, initFile: string): Promise<string> {
    if (rendition.type === 'audio') return aacLcCodec;
    const codecs = videoCodecFromInit(await readFile(initFile));
    if (!codecs) throw new Error(`the init segment of ${rendition.name} holds no decoder configuration Gilfoyle can read`);
    return codecs;
  }

  /** Publishes the playable renditions if they are all encoded by now (whichever finishes last does it). */
  async function publishIfAllReady(mediaId: string, publishWith: RenditionPlan[]): Promise<void> {
    const rows = new Map((await medias.listRenditions(mediaId)).map((r) => [r.name, r]));
    const entries = publishWith.map((p) => readyEntry(p, rows.get(p.name)));
    if (!entries.every((e) => e !== null)) return;
    // The playlist first: once the flag is set, the API serves it.
    await storeForMedia(deps, null, mediaId, () => deps.storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(entries)));
    const names = publishWith.map((p) => p.name);
    await medias.markPlayable(mediaId, {
      type: 'media.playable',
      message: `playable with ${names.join(', ')} while the rest of the ladder encodes`,
      data: { renditions: names },
    });
  }

  /**
   * The rendition as an earlier attempt left it, when that attempt stored every file and marked
   * it Ready but did not live to report it (its worker died): a retry then resumes from there
   * instead of encoding it again.
   */
  async function alreadyEncoded(mediaId: string, rendition: RenditionPlan): Promise<VariantEntry | null> {
    const entry = readyEntry(rendition, (await medias.listRenditions(mediaId)).find((r) => r.name === rendition.name));
    if (!entry) return null;
    const playlist = parseMediaPlaylist(await streamText(await deps.storage.get(streamKey(mediaId, entry.playlist))));
    if (!playlist.initUri || playlist.segments.length === 0) return null;
    return { ...entry, init: playlist.initUri, segments: playlist.segments };
  }

  /** Encodes one rendition to fMP4 HLS, heartbeating progress, and stores its files. One attempt, one temp folder. */
  async function encodeRendition({ mediaId, sourceKey, rendition, duration, stage, publishWith }: EncodeInput): Promise<VariantEntry> {
    const ctx = activityContext();
    const attempt = ctx?.info.attempt ?? 1;
    const interval = deps.progressIntervalMs ?? 1000;
    let lastWrite = 0;
    let percent = 0;
    try {
      const resumed = attempt > 1 ? await alreadyEncoded(mediaId, rendition) : null;
      if (resumed) {
        logger.info({ mediaId, rendition: rendition.name, attempt }, 'rendition already encoded and stored by an earlier attempt');
        if (publishWith?.length) await publishIfAllReady(mediaId, publishWith);
        return resumed;
      }
      await medias.updateRendition(mediaId, rendition.name, { status: RenditionStatus.Encoding, progress: 0, attempts: attempt });
      return await withHeartbeat(ctx, () => ({ percent }), () => withTempDir(deps.tempDir, `${mediaId}-${rendition.name}-a${attempt}`, async (dir) => {
        const source = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
        const outDir = path.join(dir, 'out');
        await mkdir(outDir);
        const playable = stage === 'playable';
        const argsOf = (r: RenditionPlan) =>
          encodeRenditionArgs(r, { input: source, outputDir: outDir, preset: deps.preset, ...threadOptions(playable && r.type === 'video', deps.threads) });
        const started = performance.now();
        const leaveForeground = playable ? deps.foreground?.enterForeground() : undefined;
        const run = (r: RenditionPlan) =>
          runFfmpeg(deps.ffmpegPath, argsOf(r), {
            signal: ctx?.cancellationSignal,
            timeoutMs: deps.ffmpegTimeoutMs,
            priority: playable ? 'normal' : deps.backgroundPriority,
            ...(!playable && deps.foreground ? { onSpawn: (pid: number) => deps.foreground!.trackBackground(pid) } : {}),
            onProgress: (p) => {
              percent = p.done ? 100 : duration > 0 ? Math.min(99, Math.floor((p.outTime / duration) * 100)) : 0;
              ctx?.heartbeat({ percent });
              const now = Date.now();
              if (now - lastWrite >= interval) {
                lastWrite = now;
                void medias.updateRendition(mediaId, rendition.name, { progress: percent }).catch(() => undefined);
              }
            },
          });
        const files = renditionFiles(rendition.name);
        const playlistFile = path.join(outDir, files.playlist);
        try {
          await run(rendition);
          // Copied audio carries the source's damage with it (an encode would conceal it): when
          // it does not decode cleanly, it is encoded after all, with the same channels.
          if (rendition.type === 'audio' && rendition.copy && !(await decodesCleanly(deps.ffmpegPath, playlistFile, { signal: ctx?.cancellationSignal, timeoutMs: deps.ffmpegTimeoutMs }))) {
            logger.info({ mediaId }, 'copied audio does not decode cleanly: encoding it instead');
            await rm(outDir, { recursive: true, force: true });
            await mkdir(outDir);
            await run({ ...rendition, copy: false });
          }
        } catch (err) {
          if (err instanceof FfmpegError) {
            await medias.addEvent(mediaId, {
              type: 'rendition.attempt_failed',
              level: 'warn',
              message: `encoding ${rendition.name} failed (attempt ${attempt}): ${err.message}`,
              data: { rendition: rendition.name, attempt, exitCode: err.exitCode, stderr: err.stderrTail },
            });
          }
          throw err;
        } finally {
          leaveForeground?.();
        }
        const seconds = (performance.now() - started) / 1000;
        const labels = { rendition: rendition.name, codec: rendition.type === 'video' ? rendition.codec : 'aac' };
        deps.metrics?.encodeDuration.observe(labels, seconds);
        if (duration > 0 && seconds > 0) deps.metrics?.encodeRealtime.observe(labels, duration / seconds);
        const written = await readFile(playlistFile, 'utf8');
        const playlistText = fixTargetDuration(written);
        if (playlistText !== written) await writeFile(playlistFile, playlistText);
        const playlist = parseMediaPlaylist(playlistText);
        if (playlist.segments.length === 0 || !playlist.initUri) {
          throw ApplicationFailure.nonRetryable(`encoding ${rendition.name} produced no segments`, FailureType.InvalidMedia);
        }
        const sizes = await Promise.all(playlist.segments.map(async (s) => (await stat(path.join(outDir, s.uri))).size));
        const initBytes = (await stat(path.join(outDir, playlist.initUri))).size;
        const bw = measureBandwidth(playlist.segments.map((s, i) => ({ duration: s.duration, bytes: sizes[i]! })), initBytes, playlist.targetDuration);
        const codecs = await codecsOf(rendition, path.join(outDir, playlist.initUri));
        // A media deleted while it encoded must not get files back.
        await storeForMedia(deps, ctx, mediaId, async () => {
          for (const name of await readdir(outDir)) await deps.storage.putFile(streamKey(mediaId, name), path.join(outDir, name));
        });
        await medias.updateRendition(
          mediaId,
          rendition.name,
          { status: RenditionStatus.Ready, progress: 100, bandwidth: bw.bandwidth, average_bandwidth: bw.averageBandwidth, codecs, playlist: files.playlist },
          {
            type: 'rendition.ready',
            message: `rendition ${rendition.name} encoded (${playlist.segments.length} segments, ${Math.round(bw.averageBandwidth / 1000)} kb/s average)`,
            data: { rendition: rendition.name, attempt, segments: playlist.segments.length, codecs, ...bw },
          },
        );
        if (publishWith?.length) await publishIfAllReady(mediaId, publishWith);
        return {
          type: rendition.type,
          name: rendition.name,
          playlist: files.playlist,
          init: playlist.initUri,
          segments: playlist.segments,
          codecs,
          ...bw,
          ...shapeOf(rendition),
        };
      }));
    } catch (err) {
      if (!(err instanceof CancelledFailure)) {
        logger.warn({ mediaId, rendition: rendition.name, attempt, err: (err as Error).message }, 'encode attempt failed');
        // The last attempt: /renditions shows the rung Errored (the workflow marks the media).
        const maxAttempts = ctx?.info.retryPolicy?.maximumAttempts ?? 0;
        const final = (err instanceof ApplicationFailure && err.nonRetryable) || (maxAttempts > 0 && attempt >= maxAttempts);
        // A media gone, or no longer this run's (force-cancelled, retried since): its rendition is not ours to mark.
        const notOurs = err instanceof ApplicationFailure && (err.type === FailureType.MediaNotFound || err.type === FailureType.MediaNotScheduled);
        if (final && !notOurs) await medias.updateRendition(mediaId, rendition.name, { status: RenditionStatus.Errored }).catch(() => undefined);
      }
      throw err;
    }
  }

  return { encodeRendition };
};
