import { CancellationScope, continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import { planChunks, type LiveMedia } from '../domain/chunks.ts';
import type { VideoRendition } from '../domain/renditions.ts';
import type { VariantEntry } from '../media/hls.ts';
import { encodeOptions, jobTracker, mirrorOptions, type EncodeSettings } from './options.ts';

type Activities = ReturnType<typeof createActivities>;

export interface ChunkedRenditionInput {
  mediaId: string;
  sourceKey: string;
  rendition: VideoRendition;
  duration: number;
  chunkSeconds: number;
  encode: EncodeSettings;
  /** Task queue priority of every chunk of this rendition. */
  priorityKey: number;
  /** The playable rung of a media published while it encodes: its first chunk in the foreground, its playlist growing. */
  live?: LiveMedia;
  /** Chunks before this one were stored by an earlier run of this workflow (continued as new). */
  from?: number;
  /** Events a run may reach before it continues as new; historyBudget unless told. */
  historyBudget?: number;
}

/** Chunks handed out at once, at most: a 3-hour rung has about 900; the rest follow as these end. */
export const chunkWindow = 100;

/**
 * The playable rung's chunks in flight at once: its playlist grows only as its chunks land in
 * order, and chunks of one priority reach workers in any order, so only a few run ahead of the
 * first one missing; other workers take the ladder meanwhile.
 */
export const liveChunkWindow = 4;

/** How long the first chunk of the playable rung goes alone, so that it reaches an idle worker before its followers. */
const firstChunkLead = '250 milliseconds';

/** A run's history stays well under Temporal's limits (50 K events, warnings from 10 K): past this, it continues as new. */
export const historyBudget = 6000;

const mirror = proxyActivities<Activities>(mirrorOptions);

/**
 * One video rendition of a long source, chunk by chunk: each chunk its own activity on whichever
 * worker takes it, retried on its own; then the rendition's playlist of every chunk's segments.
 * A child workflow per rendition keeps each history bounded, and a very long rendition continues
 * as new (its chunks' results are in Postgres, not in the history).
 */
export async function encodeRenditionInChunks(input: ChunkedRenditionInput): Promise<VariantEntry> {
  const { mediaId, sourceKey, rendition, live } = input;
  // The media is processed by the parent's run: the chunks' writes are guarded by it.
  const mediaRunId = workflowInfo().parent?.runId;
  const run = mediaRunId ? { mediaRunId } : {};
  const chunks = planChunks(input.duration, rendition, input.chunkSeconds);
  const { encodeChunk } = proxyActivities<Activities>(encodeOptions(input.encode, input.priorityKey));
  // The playable rung's first chunk goes before everything; its followers before the ladder.
  const followers = live ? proxyActivities<Activities>(encodeOptions(input.encode, input.priorityKey + 1)) : null;
  const window = live ? liveChunkWindow : chunkWindow;
  const jobs = jobTracker();
  const work = new CancellationScope();
  let next = input.from ?? 0;
  try {
    await work.run(async () => {
      const running = new Set<Promise<unknown>>();
      const historyFull = () =>
        workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.historyBudget ?? historyBudget);
      while (next < chunks.length && !historyFull()) {
        if (running.size >= window) await Promise.race(running);
        const chunk = chunks[next++]!;
        // The playable rung's chunks run in the foreground (the ladder waits on their worker): its
        // playlist stays ahead of a player. Its first chunk is what makes the media playable.
        const first = live !== undefined && chunk.index === 0;
        const encode = first || !followers ? encodeChunk : followers.encodeChunk;
        const p = jobs.add(
          encode({
            mediaId,
            sourceKey,
            rendition,
            chunk,
            stage: live ? 'playable' : 'ladder',
            ...(live ? { live } : {}),
            ...run,
          }),
        );
        running.add(p);
        void p.then(
          () => running.delete(p),
          () => undefined,
        );
        if (first) await sleep(firstChunkLead);
      }
      await Promise.all(running);
    });
  } catch (err) {
    await jobs.stop(work);
    throw err;
  }
  if (next < chunks.length) return continueAsNew<typeof encodeRenditionInChunks>({ ...input, from: next });
  return mirror.assembleRendition({
    mediaId,
    rendition,
    live: live !== undefined,
    targetDuration: live?.targetDuration ?? rendition.segmentSeconds,
    ...run,
  });
}
