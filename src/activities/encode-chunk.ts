import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chunkedTimelineOffsetSeconds, type ChunkPlan } from '../domain/chunks.ts';
import { streamKey } from '../domain/paths.ts';
import type { VideoRendition } from '../domain/renditions.ts';
import { RenditionStatus } from '../domain/status.ts';
import { renditionFiles } from '../media/ffmpeg-args.ts';
import { activityContext, forMediaRun, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { createEncoder, readOutput, writerOf, type EncodeStage } from './encoder.ts';
import type { LiveMedia } from '../domain/chunks.ts';
import { storeForMedia } from './media-guard.ts';
import { publishLive, writeLiveVideoPlaylist } from './publish.ts';
import { fetchStored } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

export interface EncodeChunkInput {
  mediaId: string;
  sourceKey: string;
  rendition: VideoRendition;
  chunk: ChunkPlan;
  stage: EncodeStage;
  /** The playable rung of a media published while it encodes: its playlist grows as its chunks land. */
  live?: LiveMedia;
  /** The run that processes the media (the parent of the chunks' workflow), which every write is guarded by. */
  mediaRunId?: string;
}

/** What the workflow learns of a stored chunk (its segments are in Postgres, not in the history). */
export interface ChunkResult {
  chunk: number;
  segments: number;
}

/** This worker, as Temporal names it by default (and the history shows it): which machine encoded a chunk. */
const workerIdentity = `${process.pid}@${os.hostname()}`;

export const createChunkActivities = (deps: ActivityDeps) => {
  const { medias, logger } = deps;
  const encoder = createEncoder(deps);

  /**
   * The source as ffmpeg reads a chunk of it: the store's own file (a local store), or a presigned
   * URL it reads with ranged requests, only what the chunk needs (an object store); a download
   * only for a store that has neither.
   */
  async function chunkSource(mediaId: string, key: string, dir: string): Promise<string> {
    const local = await deps.storage.localFile(key);
    if (local) return local;
    const expires = Math.ceil((deps.ffmpegTimeoutMs ?? 6 * 3600_000) / 1000) + 600;
    return (await deps.storage.readUrl(key, expires)) ?? fetchStored(deps, mediaId, key, path.join(dir, 'source'));
  }

  /** The growing playlist and the playable flag of a live media, once this chunk of its playable rung is stored. */
  async function publish(mediaId: string, live: LiveMedia | undefined) {
    if (!live) return;
    await writeLiveVideoPlaylist(deps, mediaId, live);
    await publishLive(deps, mediaId, live);
  }

  /**
   * Encodes one chunk of one rendition: its time range of the source, with the rung's settings,
   * into the rung's segments for that range (numbered and timed on from the chunks before it),
   * and stores them. One attempt, one temp folder; retried on its own, on any worker.
   */
  async function encodeChunk({
    mediaId,
    sourceKey,
    rendition,
    chunk,
    stage,
    live,
  }: EncodeChunkInput): Promise<ChunkResult> {
    const ctx = activityContext();
    const attempt = ctx?.info.attempt ?? 1;
    const writer = writerOf(ctx);
    const what = { rendition: rendition.name, chunk: chunk.index };
    try {
      if (attempt > 1) {
        // An earlier attempt stored it and did not live to report it: resume from there.
        const row = (await medias.listChunks(mediaId, rendition.name)).find((c) => c.chunk === chunk.index);
        if (row?.status === RenditionStatus.Ready) {
          logger.info({ mediaId, ...what, attempt }, 'chunk already encoded and stored by an earlier attempt');
          await publish(mediaId, live);
          return { chunk: chunk.index, segments: row.segments?.length ?? 0 };
        }
      }
      await medias.startChunkAttempt(mediaId, rendition.name, chunk.index, writer);
      const progress = encoder.progressReporter(ctx, chunk.seconds, (percent) =>
        medias.chunkProgress(mediaId, rendition.name, chunk.index, percent, writer),
      );
      const label = `${mediaId}-${rendition.name}-c${chunk.index}-a${attempt}`;
      return await withHeartbeat(
        ctx,
        () => ({ ...progress.state, chunk: chunk.index }),
        () =>
          withTempDir(deps.tempDir, label, async (dir) => {
            const source = await chunkSource(mediaId, sourceKey, dir);
            const outDir = path.join(dir, 'out');
            await mkdir(outDir);
            const started = performance.now();
            await encoder.runEncode(ctx, mediaId, rendition, source, outDir, stage, progress.onProgress, {
              chunk,
              timelineOffset: chunkedTimelineOffsetSeconds,
            });
            encoder.observe(rendition, (performance.now() - started) / 1000, chunk.seconds);
            const out = await readOutput(rendition, outDir);
            const files = renditionFiles(rendition.name);
            // The init segment is the same for every chunk of a rung: the first chunk's is kept.
            const names = [...(chunk.index === 0 ? [files.init] : []), ...out.playlist.segments.map((s) => s.uri)];
            await storeForMedia(deps, ctx, mediaId, async () => {
              for (const name of names) await deps.storage.putFile(streamKey(mediaId, name), path.join(outDir, name));
            });
            const segments = out.playlist.segments.map((s, i) => ({
              uri: s.uri,
              duration: s.duration,
              bytes: out.sizes[i]!,
            }));
            await medias.chunkReady(
              mediaId,
              rendition.name,
              chunk.index,
              { segments, init_bytes: out.initBytes, codecs: out.codecs },
              {
                type: 'rendition.chunk_ready',
                message: `${rendition.name} chunk ${chunk.index} encoded (${segments.length} segments from ${chunk.start.toFixed(2)} s, attempt ${attempt})`,
                data: {
                  ...what,
                  attempt,
                  start: chunk.start,
                  segments: segments.length,
                  firstSegment: chunk.firstSegment,
                  worker: workerIdentity,
                },
              },
              writer,
            );
            await publish(mediaId, live);
            return { chunk: chunk.index, segments: segments.length };
          }),
      );
    } catch (err) {
      await encoder.recordFailure(ctx, mediaId, what, err, () =>
        medias.chunkErrored(mediaId, rendition.name, chunk.index, writer),
      );
      throw err;
    }
  }

  return {
    encodeChunk: (input: EncodeChunkInput) => forMediaRun(input.mediaRunId, () => encodeChunk(input)),
  };
};
