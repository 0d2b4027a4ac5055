import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import type { EncodeInput } from '../activities/encode.ts';
import { chunkedTimelineOffsetSeconds, isChunked, planChunks, type LiveMedia } from '../domain/chunks.ts';
import { FailureType } from '../domain/errors.ts';
import { downloadRendition, firstRenditions, type RenditionPlan, type VideoRendition } from '../domain/renditions.ts';
import { MediaStatus } from '../domain/status.ts';
import {
  chunkedRenditionWorkflowIdOf,
  type ProcessingProgress,
  type ProcessMediaInput,
  type ProcessMediaResult,
} from '../domain/workflow.ts';
import type { VariantEntry } from '../media/hls.ts';
import { progressQuery } from './definitions.ts';
import { encodeRenditionInChunks } from './encode-in-chunks.ts';
import { encodeOptions, jobTracker, mirrorOptions, notWanted, priority, probeOptions, reasonOf } from './options.ts';

type Activities = ReturnType<typeof createActivities>;

const mirror = proxyActivities<Activities>(mirrorOptions);

/**
 * One durable run per media: probe and plan; encode the smallest rung and the audio first, so the
 * media is playable soonest; the rest of the ladder, the pictures and the download meanwhile, at
 * lower priority; then the manifests, and Ready.
 */
export async function processMedia(input: ProcessMediaInput): Promise<ProcessMediaResult> {
  const { mediaId, sourceKey } = input;
  const heavy = (priorityKey: number) => proxyActivities<Activities>(encodeOptions(input, priorityKey));
  const state: ProcessingProgress = { stage: 'probing', playable: false, progress: 0, renditions: {} };
  setHandler(progressQuery, () => state);

  const jobs = jobTracker();
  const job = jobs.add;
  const work = new CancellationScope();

  /** A whole rendition, one activity (with what it publishes: see EncodeInput). */
  const encode = async (
    rendition: RenditionPlan,
    duration: number,
    stage: 'playable' | 'ladder',
    priorityKey: number,
    more: Pick<EncodeInput, 'publishWith' | 'timelineOffset' | 'live'> = {},
  ): Promise<VariantEntry> => {
    state.renditions[rendition.name] = 'encoding';
    const out = await job(
      heavy(priorityKey).encodeRendition({ mediaId, sourceKey, rendition, duration, stage, ...more }),
    );
    done(rendition);
    return out;
  };

  /** A video rendition of a long source, chunk by chunk, in a child workflow of its own. */
  const encodeInChunks = async (
    rendition: VideoRendition,
    duration: number,
    chunkSeconds: number,
    priorityKey: number,
    live?: LiveMedia,
  ): Promise<VariantEntry> => {
    state.renditions[rendition.name] = 'encoding';
    const child = await startChild(encodeRenditionInChunks, {
      workflowId: chunkedRenditionWorkflowIdOf(mediaId, rendition.name),
      args: [
        {
          mediaId,
          sourceKey,
          rendition,
          duration,
          chunkSeconds,
          encode: input,
          priorityKey,
          ...(live ? { live } : {}),
        },
      ],
    });
    const out = await job(child.result());
    done(rendition);
    return out;
  };

  const done = (rendition: RenditionPlan) => {
    state.renditions[rendition.name] = 'ready';
    const all = Object.values(state.renditions);
    state.progress = Math.floor((100 * all.filter((s) => s === 'ready').length) / all.length);
  };

  try {
    return await work.run(async () => {
      if (input.clip)
        await heavy(priority.playable).cutClipSource({ mediaId, sourceKey, clip: input.clip, kind: input.kind });
      else if (input.sourceUrl)
        await heavy(priority.playable).fetchSourceFromUrl({
          mediaId,
          sourceKey,
          url: input.sourceUrl,
          kind: input.kind,
        });
      const { probeSource } = proxyActivities<Activities>(probeOptions(input));
      const { probe, plan } = await probeSource({
        mediaId,
        sourceKey,
        kind: input.kind,
        ladder: input.ladder,
        ...(input.chunking ? { chunking: input.chunking } : {}),
      });
      for (const r of plan) state.renditions[r.name] = 'pending';
      state.stage = 'encoding';

      const first = firstRenditions(plan);
      const rest = plan.filter((r) => !first.includes(r));
      const encodes = new Map<string, Promise<VariantEntry>>();
      const ladderPriority = (i: number) => Math.min(priority.ladderTo, priority.ladderFrom + i);
      // Playlists published while the media encodes, which become VOD when it is Ready.
      const livePlaylists: string[] = [];
      const chunking = input.chunking;
      if (isChunked(probe.duration, chunking)) {
        // A long source: the video rungs chunk by chunk, the audio once, all published as they
        // land; playable once the smallest rung's first chunk and the audio up to its end are stored.
        const smallest = first.find((r): r is VideoRendition => r.type === 'video');
        const audio = plan.find((r) => r.type === 'audio');
        const firstPart = smallest
          ? planChunks(probe.duration, smallest, chunking.chunkSeconds)[0]!.seconds
          : chunking.chunkSeconds;
        const live: LiveMedia = {
          ...(smallest ? { video: smallest } : {}),
          ...(audio?.type === 'audio' ? { audio } : {}),
          audioSecondsNeeded: Math.min(firstPart, probe.duration),
          targetDuration: input.ladder.segmentSeconds,
        };
        // Every rendition on one timeline, offset as the chunks' (see chunkedTimelineOffsetSeconds).
        const timelineOffset = smallest ? chunkedTimelineOffsetSeconds : undefined;
        if (audio) {
          livePlaylists.push(audio.name);
          encodes.set(
            audio.name,
            encode(audio, probe.duration, 'playable', priority.playable, {
              live,
              ...(timelineOffset !== undefined ? { timelineOffset } : {}),
            }),
          );
        }
        if (smallest) {
          livePlaylists.push(smallest.name);
          encodes.set(
            smallest.name,
            encodeInChunks(smallest, probe.duration, chunking.chunkSeconds, priority.playable, live),
          );
        }
        await mirror.startProcessing({ mediaId, plan });
        rest.forEach((r, i) => {
          // After the playable rung's chunks (which follow its first at the next priority).
          if (r.type === 'video')
            encodes.set(r.name, encodeInChunks(r, probe.duration, chunking.chunkSeconds, ladderPriority(i + 1)));
        });
      } else {
        // With more to encode, the last of the first renditions to finish makes the media playable.
        const publishWith = rest.length > 0 ? first : undefined;
        for (const r of first)
          encodes.set(
            r.name,
            encode(r, probe.duration, 'playable', priority.playable, publishWith ? { publishWith } : {}),
          );
        // Marking the media Processing takes one short activity: when it is done, the playable
        // encodes have reached the workers, and the ladder can follow without racing them for a slot.
        await mirror.startProcessing({ mediaId, plan });
        rest.forEach((r, i) => encodes.set(r.name, encode(r, probe.duration, 'ladder', ladderPriority(i))));
      }
      const output = (name: string) => encodes.get(name)!;

      const playable = job(
        Promise.all(first.map((r) => output(r.name))).then(() => {
          if (rest.length > 0 || livePlaylists.length > 0) state.playable = true;
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
        livePlaylists,
      });
      state.stage = 'done';
      state.playable = true;
      return { mediaId, renditions: plan.map((r) => r.name), duration: probe.duration };
    });
  } catch (err) {
    await jobs.stop(work);
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
