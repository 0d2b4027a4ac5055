import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { MediaRepository } from '../db/medias.ts';
import { FailureType } from '../domain/errors.ts';
import { masterPlaylistName, streamKey } from '../domain/paths.ts';
import type { Probe } from '../domain/probe.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus, RenditionStatus, type SourceKind } from '../domain/status.ts';
import type { Logger } from '../logger.ts';
import { encodeRenditionArgs, renditionFiles } from '../media/ffmpeg-args.ts';
import { aacLcCodec, avc1Codec, buildMasterPlaylist, measureBandwidth, parseMediaPlaylist, type VariantEntry } from '../media/hls.ts';
import { ffprobeArgs, parseProbe, unplayableReason, type RawProbe } from '../media/probe.ts';
import { FfmpegError, runFfmpeg, runFfprobe } from '../media/runner.ts';
import { StorageNotFoundError, type StorageDriver } from '../storage/driver.ts';

export interface ActivityDeps {
  medias: MediaRepository;
  storage: StorageDriver;
  logger: Logger;
  ffmpegPath: string;
  ffprobePath: string;
  /** Parent of the per-attempt temp folders. */
  tempDir?: string;
  preset: string;
  threads: number;
  /** Least time between two progress writes to Postgres. */
  progressIntervalMs?: number;
}

/** A per-attempt temp folder, removed by `use`'s end whatever happens. */
async function withTempDir<T>(parent: string | undefined, label: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(parent ?? os.tmpdir(), `gilfoyle-${label}-`));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Activity context when running inside Temporal; null when called directly (unit tests). */
function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

export const createActivities = (deps: ActivityDeps) => {
  const { medias, storage, logger } = deps;

  /** Copies the source into `dir`; a missing source or a deleted media cannot be retried into existence. */
  async function fetchSource(mediaId: string, sourceKey: string, dir: string): Promise<string> {
    const file = path.join(dir, 'source');
    try {
      await storage.getToFile(sourceKey, file);
    } catch (err) {
      if (err instanceof StorageNotFoundError) {
        const media = await medias.get(mediaId);
        if (!media) throw ApplicationFailure.nonRetryable(`media ${mediaId} no longer exists`, FailureType.MediaNotFound);
        throw ApplicationFailure.nonRetryable('the uploaded source file is missing from storage', FailureType.InvalidMedia);
      }
      throw err;
    }
    return file;
  }

  async function probeSource({ mediaId, sourceKey, kind }: { mediaId: string; sourceKey: string; kind: SourceKind }): Promise<Probe> {
    const ctx = activityContext();
    return withTempDir(deps.tempDir, `probe-${mediaId}`, async (dir) => {
      const file = await fetchSource(mediaId, sourceKey, dir);
      const { size } = await stat(file);
      if (size === 0) throw ApplicationFailure.nonRetryable('the uploaded file is empty (0 bytes)', FailureType.InvalidMedia);
      let probe: Probe;
      try {
        const out = await runFfprobe(deps.ffprobePath, ffprobeArgs(file), { signal: ctx?.cancellationSignal });
        probe = parseProbe(JSON.parse(out) as RawProbe);
      } catch (err) {
        if (err instanceof FfmpegError || err instanceof SyntaxError) {
          throw ApplicationFailure.nonRetryable(`not a media file: ${err.message}`, FailureType.InvalidMedia);
        }
        throw err;
      }
      const why = unplayableReason(probe) ?? (kind === 'audio' && !probe.audio ? 'the file uploaded as audio has no audio stream' : null);
      if (why) throw ApplicationFailure.nonRetryable(`cannot process this file: ${why}`, FailureType.InvalidMedia);
      const summary = probe.video
        ? `${probe.video.codec} ${probe.video.displayWidth}x${probe.video.displayHeight}${probe.audio ? ` + ${probe.audio.codec}` : ''}`
        : `${probe.audio!.codec} audio`;
      await medias.setState(mediaId, { probe, duration: probe.duration }, {
        type: 'media.probed',
        message: `probed: ${probe.formatName}, ${summary}, ${probe.duration.toFixed(2)} s`,
        data: { formatName: probe.formatName, duration: probe.duration, video: probe.video, audio: probe.audio },
      });
      // Uploaded as audio: the picture (e.g. cover art, or a video sent by mistake) is not encoded.
      return kind === 'audio' ? { ...probe, video: null } : probe;
    });
  }

  async function startProcessing({ mediaId, plan }: { mediaId: string; plan: RenditionPlan[] }): Promise<void> {
    await medias.planRenditions(mediaId, plan);
    await medias.setState(mediaId, { status: MediaStatus.Processing, progress: 0 }, {
      type: 'media.processing',
      message: `encoding ${plan.length} rendition(s): ${plan.map((r) => r.name).join(', ')}`,
      data: { renditions: plan },
    });
  }

  /** Codec string of an encoded rendition, read back from the output. */
  async function codecsOf(rendition: RenditionPlan, playlistFile: string): Promise<string> {
    if (rendition.type === 'audio') return aacLcCodec;
    const out = await runFfprobe(deps.ffprobePath, [
      '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=profile,level', '-of', 'json', playlistFile,
    ]);
    const s = (JSON.parse(out) as { streams?: { profile?: string; level?: number }[] }).streams?.[0];
    return avc1Codec(s?.profile, s?.level);
  }

  async function encodeRendition(input: { mediaId: string; sourceKey: string; rendition: RenditionPlan; duration: number }): Promise<VariantEntry> {
    const { mediaId, sourceKey, rendition, duration } = input;
    const ctx = activityContext();
    const attempt = ctx?.info.attempt ?? 1;
    const interval = deps.progressIntervalMs ?? 1000;
    let lastWrite = 0;
    let percent = 0;
    // Heartbeat even while ffmpeg is silent (fetching the source, slow first frames).
    const beat = ctx ? setInterval(() => ctx.heartbeat({ percent }), 5000) : null;
    try {
      await medias.updateRendition(mediaId, rendition.name, { status: RenditionStatus.Encoding, progress: 0, attempts: attempt });
      return await withTempDir(deps.tempDir, `${mediaId}-${rendition.name}-a${attempt}`, async (dir) => {
        const source = await fetchSource(mediaId, sourceKey, dir);
        const outDir = path.join(dir, 'out');
        await mkdir(outDir);
        const args = encodeRenditionArgs(rendition, { input: source, outputDir: outDir, preset: deps.preset, threads: deps.threads });
        try {
          await runFfmpeg(deps.ffmpegPath, args, {
            signal: ctx?.cancellationSignal,
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
        }
        const files = renditionFiles(rendition.name);
        const playlistFile = path.join(outDir, files.playlist);
        const playlist = parseMediaPlaylist(await readFile(playlistFile, 'utf8'));
        if (playlist.segments.length === 0) {
          throw ApplicationFailure.nonRetryable(`encoding ${rendition.name} produced no segments`, FailureType.InvalidMedia);
        }
        const sizes = await Promise.all(playlist.segments.map(async (s) => (await stat(path.join(outDir, s.uri))).size));
        const initBytes = playlist.initUri ? (await stat(path.join(outDir, playlist.initUri))).size : 0;
        const bw = measureBandwidth(playlist.segments.map((s, i) => ({ duration: s.duration, bytes: sizes[i]! })), initBytes);
        const codecs = await codecsOf(rendition, playlistFile);
        // A media deleted while it encoded must not get files back.
        ctx?.cancellationSignal.throwIfAborted();
        if (!(await medias.get(mediaId))) throw ApplicationFailure.nonRetryable(`media ${mediaId} no longer exists`, FailureType.MediaNotFound);
        for (const name of await readdir(outDir)) await storage.putFile(streamKey(mediaId, name), path.join(outDir, name));
        await medias.updateRendition(mediaId, rendition.name, {
          status: RenditionStatus.Ready,
          progress: 100,
          bandwidth: bw.bandwidth,
          average_bandwidth: bw.averageBandwidth,
          codecs,
          playlist: files.playlist,
        });
        await medias.addEvent(mediaId, {
          type: 'rendition.ready',
          message: `rendition ${rendition.name} encoded (${playlist.segments.length} segments, ${Math.round(bw.averageBandwidth / 1000)} kb/s average)`,
          data: { rendition: rendition.name, attempt, segments: playlist.segments.length, ...bw },
        });
        return {
          type: rendition.type,
          name: rendition.name,
          playlist: files.playlist,
          codecs,
          ...bw,
          ...(rendition.type === 'video' ? { width: rendition.width, height: rendition.height, frameRate: rendition.frameRate } : {}),
        };
      });
    } catch (err) {
      if (!(err instanceof CancelledFailure)) {
        logger.warn({ mediaId, rendition: rendition.name, attempt, err: (err as Error).message }, 'encode attempt failed');
      }
      throw err;
    } finally {
      if (beat) clearInterval(beat);
    }
  }

  async function writeMasterPlaylist({ mediaId, outputs }: { mediaId: string; outputs: VariantEntry[] }): Promise<void> {
    await storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(outputs));
  }

  async function finalizeMedia({ mediaId, duration }: { mediaId: string; duration: number }): Promise<void> {
    await medias.setState(mediaId, { status: MediaStatus.Ready, playable: true, progress: 100 }, {
      type: 'media.ready',
      message: `ready to stream (${duration.toFixed(2)} s)`,
    });
  }

  async function failMedia({ mediaId, reason }: { mediaId: string; reason: string }): Promise<void> {
    await medias.setState(mediaId, { status: MediaStatus.Errored, playable: false, error: reason }, {
      type: 'media.errored',
      level: 'error',
      message: reason,
    });
  }

  return { probeSource, startProcessing, encodeRendition, writeMasterPlaylist, finalizeMedia, failMedia };
};
