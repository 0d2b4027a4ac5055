import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import type { Context } from '@temporalio/activity';
import { streamKey } from '../domain/paths.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { renditionFiles } from '../media/ffmpeg-args.ts';
import { buildMediaPlaylist, parseMediaPlaylist, type MediaSegment, type VariantEntry } from '../media/hls.ts';
import { decodesCleanly, FfmpegError } from '../media/runner.ts';
import { sourceInputArgs } from '../media/source-formats.ts';
import { activityContext, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { createEncoder, readOutput, writerOf, type EncodedOutput, type EncodeStage } from './encoder.ts';
import type { LiveMedia } from '../domain/chunks.ts';
import { storeForMedia } from './media-guard.ts';
import { publishIfAllReady, publishLive, readyEntry, shapeOf } from './publish.ts';
import { fetchStored } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

export interface EncodeInput {
  mediaId: string;
  sourceKey: string;
  rendition: RenditionPlan;
  duration: number;
  stage: EncodeStage;
  /**
   * The renditions that together make the media playable, this one among them, when the media
   * has more to encode. The last of them to be encoded publishes them: a master playlist of
   * them, then the playable flag that opens the stream (no round trip through the workflow).
   */
  publishWith?: RenditionPlan[];
  /** Where its timeline starts, seconds (a chunked media's renditions share one offset). */
  timelineOffset?: number;
  /**
   * The media is published while it encodes: this rendition's segments are stored as ffmpeg
   * writes them, its playlist grows with them, and the media is playable as soon as enough of it
   * is stored (with the first chunk of the video, when there is one).
   */
  live?: LiveMedia;
}

/** How often a live encode stores what ffmpeg has written since the last time. */
const livePollMs = 500;

export const createEncodeActivities = (deps: ActivityDeps) => {
  const { medias, logger } = deps;
  const encoder = createEncoder(deps);

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

  /** Stores the rendition's files (unless the media is gone meanwhile), then marks it Ready with its event, in one transaction. */
  async function storeRendition(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    outDir: string,
    out: EncodedOutput,
    names: string[],
  ) {
    await storeForMedia(deps, ctx, mediaId, async () => {
      for (const name of names) await deps.storage.putFile(streamKey(mediaId, name), path.join(outDir, name));
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
          attempt: ctx?.info.attempt ?? 1,
          segments: out.playlist.segments.length,
          codecs,
          bandwidth,
          averageBandwidth,
        },
      },
      writerOf(ctx),
    );
  }

  /**
   * A live encode's publisher: while ffmpeg writes, the segments its playlist lists are stored
   * (the init segment first), then Gilfoyle's own growing playlist of them, the seconds stored,
   * and, once the media has enough, its playable flag. `flush` stores what is left at the end.
   */
  function livePublisher(
    ctx: Context | null,
    mediaId: string,
    rendition: RenditionPlan,
    outDir: string,
    live: LiveMedia,
  ) {
    const files = renditionFiles(rendition.name);
    const stored: MediaSegment[] = [];
    let initStored = false;
    let busy: Promise<void> = Promise.resolve();
    // A retry starts over, storing the same segments again: the growing playlist an earlier
    // attempt published is left as it is until this attempt has caught up with it (it never shrinks).
    const published =
      (ctx?.info.attempt ?? 1) > 1
        ? deps.storage
            .get(streamKey(mediaId, files.playlist))
            .then(streamText)
            .then(
              (t) => parseMediaPlaylist(t).segments.length,
              () => 0,
            )
        : Promise.resolve(0);
    let damaged: FfmpegError | null = null;
    /**
     * Copied audio carries the source's damage with it: each batch is decoded before it is
     * stored (a few seconds of audio: milliseconds), so that nothing damaged goes out, and the
     * next attempt encodes the audio instead.
     */
    const decodesWell = async (segments: MediaSegment[]) => {
      if (rendition.type !== 'audio' || !rendition.copy) return true;
      const check = path.join(outDir, '..', 'check.mp4');
      const parts = await Promise.all(
        [files.init, ...segments.map((x) => x.uri)].map((n) => readFile(path.join(outDir, n))),
      );
      await writeFile(check, Buffer.concat(parts));
      return decodesCleanly(deps.ffmpegPath, check, {
        signal: ctx?.cancellationSignal,
        timeoutMs: deps.ffmpegTimeoutMs,
      });
    };
    const publish = async (ended: boolean) => {
      if (damaged) return;
      const text = await readFile(path.join(outDir, files.playlist), 'utf8').catch(() => '');
      // Only what ffmpeg has listed is whole; the playlist itself is replaced, never half-written.
      const listed = parseMediaPlaylist(text).segments;
      const fresh = listed.slice(stored.length);
      if (fresh.length === 0 && !ended) return;
      if (fresh.length > 0 && !(await decodesWell(fresh))) {
        damaged = new FfmpegError(
          'the copied audio does not decode cleanly: the next attempt encodes it',
          undefined,
          '',
        );
        return;
      }
      await storeForMedia(deps, ctx, mediaId, async () => {
        if (!initStored) await deps.storage.putFile(streamKey(mediaId, files.init), path.join(outDir, files.init));
        initStored = true;
        for (const s of fresh) await deps.storage.putFile(streamKey(mediaId, s.uri), path.join(outDir, s.uri));
        stored.push(...fresh);
        if (stored.length < (await published) && !ended) return;
        const playlist = buildMediaPlaylist({
          initUri: files.init,
          segments: stored,
          targetDuration: live.targetDuration,
          type: 'EVENT',
          ended,
        });
        await deps.storage.put(streamKey(mediaId, files.playlist), playlist);
      });
      const seconds = stored.reduce((sum, s) => sum + s.duration, 0);
      await medias.renditionStored(mediaId, rendition.name, seconds, writerOf(ctx));
      await publishLive(deps, mediaId, live);
    };
    const timer = setInterval(() => {
      busy = busy
        .then(() => publish(false))
        .catch((err: Error) => logger.warn({ mediaId, err: err.message }, 'live publishing failed, trying again'));
    }, livePollMs);
    return {
      stored,
      /** Stores what is left; throws (retryably) when the copied audio turned out damaged. */
      async flush() {
        clearInterval(timer);
        await busy;
        await publish(true);
        if (damaged) throw damaged;
      },
      stop() {
        clearInterval(timer);
      },
    };
  }

  /** Encodes one rendition to fMP4 HLS, heartbeating progress, and stores its files. One attempt, one temp folder. */
  async function encodeRendition({
    mediaId,
    sourceKey,
    rendition,
    duration,
    stage,
    publishWith,
    timelineOffset,
    live,
  }: EncodeInput): Promise<VariantEntry> {
    const ctx = activityContext();
    const attempt = ctx?.info.attempt ?? 1;
    const writer = writerOf(ctx);
    try {
      const resumed = attempt > 1 ? await alreadyEncoded(mediaId, rendition) : null;
      if (resumed) {
        logger.info(
          { mediaId, rendition: rendition.name, attempt },
          'rendition already encoded and stored by an earlier attempt',
        );
        if (publishWith?.length) await publishIfAllReady(deps, mediaId, publishWith);
        if (live) await publishLive(deps, mediaId, live);
        return { ...resumed, ...(timelineOffset !== undefined ? { timelineOffset } : {}) };
      }
      await medias.startRenditionAttempt(mediaId, rendition.name, writer);
      const progress = encoder.progressReporter(ctx, duration, (percent) =>
        medias.renditionProgress(mediaId, rendition.name, percent, writer),
      );
      const label = `${mediaId}-${rendition.name}-a${attempt}`;
      return await withHeartbeat(
        ctx,
        () => progress.state,
        () =>
          withTempDir(deps.tempDir, label, async (dir) => {
            const source = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
            const outDir = path.join(dir, 'out');
            await mkdir(outDir);
            // Published as it goes, copied audio is checked batch by batch (see livePublisher); a
            // retry, which may follow damage found so, checks the whole source's audio first.
            let planned = rendition;
            if (live && planned.type === 'audio' && planned.copy && attempt > 1) {
              const clean = await decodesCleanly(deps.ffmpegPath, source, {
                map: '0:a:0',
                inputArgs: sourceInputArgs(source),
                signal: ctx?.cancellationSignal,
                timeoutMs: deps.ffmpegTimeoutMs,
              });
              if (!clean)
                logger.info({ mediaId }, 'source audio does not decode cleanly: encoding it rather than copying');
              planned = { ...planned, copy: clean };
            }
            const publisher = live ? livePublisher(ctx, mediaId, planned, outDir, live) : null;
            const started = performance.now();
            try {
              await encoder.runEncode(
                ctx,
                mediaId,
                planned,
                source,
                outDir,
                stage,
                progress.onProgress,
                {
                  ...(timelineOffset !== undefined ? { timelineOffset } : {}),
                  ...(live ? { live: true } : {}),
                },
                live !== undefined,
              );
            } finally {
              publisher?.stop();
            }
            encoder.observe(rendition, (performance.now() - started) / 1000, duration);
            const out = await readOutput(rendition, outDir);
            if (publisher) await publisher.flush();
            // A live rendition's segments are stored already; its playlist stays the growing one until Ready.
            const names = publisher ? [] : await readdir(outDir);
            await storeRendition(ctx, mediaId, rendition, outDir, out, names);
            if (publishWith?.length) await publishIfAllReady(deps, mediaId, publishWith);
            if (live) await publishLive(deps, mediaId, live);
            const { playlist, bandwidth, averageBandwidth, codecs } = out;
            return {
              type: rendition.type,
              name: rendition.name,
              playlist: renditionFiles(rendition.name).playlist,
              init: playlist.initUri!,
              segments: playlist.segments,
              codecs,
              bandwidth,
              averageBandwidth,
              ...shapeOf(rendition),
              ...(timelineOffset !== undefined ? { timelineOffset } : {}),
            };
          }),
      );
    } catch (err) {
      await encoder.recordFailure(ctx, mediaId, { rendition: rendition.name }, err, () =>
        medias.renditionErrored(mediaId, rendition.name, writer),
      );
      throw err;
    }
  }

  return { encodeRendition };
};
