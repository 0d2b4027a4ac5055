import { ApplicationFailure } from '@temporalio/activity';
import type { ChunkRow, RenditionRow, StoredSegment } from '../db/medias.ts';
import { chunkedTimelineOffsetSeconds, type LiveMedia } from '../domain/chunks.ts';
import { dashManifestName, masterPlaylistName, streamKey } from '../domain/paths.ts';
import type { RenditionPlan, VideoRendition } from '../domain/renditions.ts';
import { MediaStatus, RenditionStatus } from '../domain/status.ts';
import { buildDashManifest } from '../media/dash.ts';
import { renditionFiles } from '../media/ffmpeg-args.ts';
import {
  aacLcCodec,
  buildMasterPlaylist,
  buildMediaPlaylist,
  measureBandwidth,
  type MasterEntry,
  type VariantEntry,
} from '../media/hls.ts';
import { activityContext, forMediaRun } from './context.ts';
import { writerOf } from './encoder.ts';
import type { ActivityDeps } from './deps.ts';
import { notThisRun, storeForMedia, thisRun } from './media-guard.ts';

/**
 * Publishing: the manifests that make a media's renditions public, the playable ones first
 * (the master playlist of the playable renditions), then the whole ladder (master playlist and
 * DASH manifest) when the media is Ready.
 */

/** What the plan says of a rendition in the master playlist: its picture, or its channels. */
export const shapeOf = (r: RenditionPlan): Pick<MasterEntry, 'width' | 'height' | 'frameRate' | 'channels'> =>
  r.type === 'video' ? { width: r.width, height: r.height, frameRate: r.frameRate } : { channels: r.channels };

/** A rendition's master playlist entry from its row, once it is Ready and measured; null before. */
export function readyEntry(plan: RenditionPlan, row: RenditionRow | undefined): MasterEntry | null {
  if (row?.status !== RenditionStatus.Ready || !row.playlist || row.bandwidth === null || row.codecs === null)
    return null;
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

export interface FinalizeInput {
  mediaId: string;
  /** Every rendition, in ladder order. */
  outputs: VariantEntry[];
  duration: number;
  segmentSeconds: number;
  /** Files made beside the renditions (download, poster, storyboard), for the event. */
  files: string[];
  /** Renditions whose playlists were published while they grew (EVENT): now VOD. */
  livePlaylists?: string[];
}

/** Publishes the playable renditions if they are all encoded by now (whichever finishes last does it). */
export async function publishIfAllReady(
  deps: ActivityDeps,
  mediaId: string,
  publishWith: RenditionPlan[],
): Promise<void> {
  const { medias } = deps;
  const rows = new Map((await medias.listRenditions(mediaId)).map((r) => [r.name, r]));
  const entries = publishWith.map((p) => readyEntry(p, rows.get(p.name)));
  if (!entries.every((e) => e !== null)) return;
  // The playlist first: once the flag is set, the API serves it.
  await storeForMedia(deps, null, mediaId, () =>
    deps.storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(entries)),
  );
  const names = publishWith.map((p) => p.name);
  await medias.markPlayable(mediaId, {
    type: 'media.playable',
    message: `playable with ${names.join(', ')} while the rest of the ladder encodes`,
    data: { renditions: names },
  });
}

/** Segments of stored chunks in order, with their sizes. */
const segmentsOf = (chunks: ChunkRow[]): StoredSegment[] => chunks.flatMap((c) => c.segments ?? []);

/** Bit rates of stored segments, the init segment counted with the first. */
const bitRatesOf = (segments: StoredSegment[], initBytes: number, targetDuration: number) =>
  measureBandwidth(
    segments.map((s) => ({ duration: s.duration, bytes: s.bytes })),
    initBytes,
    targetDuration,
  );

/**
 * Writes the playable rung's growing playlist: every chunk stored so far from the first on, in
 * order (EVENT), ENDLIST once all are. Writers take turns on the rendition's row, each seeing
 * every chunk stored before it: the playlist only ever grows.
 */
export async function writeLiveVideoPlaylist(deps: ActivityDeps, mediaId: string, live: LiveMedia): Promise<void> {
  const video = live.video!;
  await deps.medias.withChunksLocked(mediaId, video.name, async (chunks) => {
    const landed = chunks.findIndex((c) => c.status !== RenditionStatus.Ready);
    const inOrder = landed === -1 ? chunks : chunks.slice(0, landed);
    if (inOrder.length === 0) return;
    const files = renditionFiles(video.name);
    const text = buildMediaPlaylist({
      initUri: files.init,
      segments: segmentsOf(inOrder),
      targetDuration: live.targetDuration,
      type: 'EVENT',
      ended: inOrder.length === chunks.length,
    });
    await storeForMedia(deps, activityContext(), mediaId, () =>
      deps.storage.put(streamKey(mediaId, files.playlist), text),
    );
  });
}

/**
 * Makes the media playable once the first part of each live rendition is stored (the first
 * chunk of its playable rung, its audio up to the end of that chunk): a master playlist of them,
 * then the playable flag. Whichever part lands last does it; both may, harmlessly (markPlayable
 * adds its event once).
 */
export async function publishLive(deps: ActivityDeps, mediaId: string, live: LiveMedia): Promise<void> {
  const { medias } = deps;
  const entries: MasterEntry[] = [];
  if (live.video) {
    const first = (await medias.listChunks(mediaId, live.video.name))[0];
    if (first?.status !== RenditionStatus.Ready || !first.codecs) return;
    const measured = bitRatesOf(first.segments ?? [], first.init_bytes ?? 0, live.targetDuration);
    entries.push({
      type: 'video',
      name: live.video.name,
      playlist: renditionFiles(live.video.name).playlist,
      // The rest of the rung is not measured yet: its peak is bounded by the rate control's maximum.
      bandwidth: Math.max(measured.bandwidth, live.video.maxRate * 1000),
      averageBandwidth: measured.averageBandwidth,
      codecs: first.codecs,
      ...shapeOf(live.video),
    });
  }
  if (live.audio) {
    const row = (await medias.listRenditions(mediaId)).find((r) => r.name === live.audio!.name);
    if (!row || (row.status !== RenditionStatus.Ready && row.stored_seconds < live.audioSecondsNeeded)) return;
    const rate = row.bandwidth ?? Math.round(live.audio.audioBitrate * 1000 * 1.1);
    entries.push({
      type: 'audio',
      name: live.audio.name,
      playlist: renditionFiles(live.audio.name).playlist,
      bandwidth: rate,
      averageBandwidth: row.average_bandwidth ?? rate,
      codecs: aacLcCodec,
      ...shapeOf(live.audio),
    });
  }
  if (entries.length === 0) return;
  if ((await medias.get(mediaId))?.playable) return;
  await storeForMedia(deps, activityContext(), mediaId, () =>
    deps.storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(entries)),
  );
  const names = entries.map((e) => e.name);
  await medias.markPlayable(mediaId, {
    type: 'media.playable',
    message: `playable with ${names.join(', ')} while the rest is encoded`,
    data: { renditions: names, live: true },
  });
}

export interface AssembleInput {
  mediaId: string;
  rendition: VideoRendition;
  /** Its playlist is the growing one of a live media: ENDLIST now, VOD at Ready. */
  live: boolean;
  targetDuration: number;
  /** The run that processes the media (the parent of the chunks' workflow). */
  mediaRunId?: string;
}

/**
 * A chunked rendition, once every chunk is stored: its playlist (the list of every chunk's
 * segments), its bit rates measured over all of them, Ready with its event.
 */
async function assemble(
  deps: ActivityDeps,
  { mediaId, rendition, live, targetDuration }: AssembleInput,
): Promise<VariantEntry> {
  const { medias, storage } = deps;
  const ctx = activityContext();
  const chunks = await medias.listChunks(mediaId, rendition.name);
  const missing = chunks.filter((c) => c.status !== RenditionStatus.Ready).map((c) => c.chunk);
  if (chunks.length === 0 || missing.length) {
    throw new Error(`rendition ${rendition.name}: chunks ${missing.join(', ')} are not stored`);
  }
  const codecs = chunks[0]!.codecs!;
  // Every chunk of a rung is encoded alike, so that one init segment (the first chunk's) serves them all.
  const unlike = chunks.filter((c) => c.codecs !== codecs).map((c) => c.chunk);
  if (unlike.length) {
    throw ApplicationFailure.nonRetryable(
      `rendition ${rendition.name}: chunks ${unlike.join(', ')} were not encoded like the first (${codecs})`,
      'ChunksDiffer',
    );
  }
  const segments = segmentsOf(chunks);
  const bw = bitRatesOf(segments, chunks[0]!.init_bytes ?? 0, targetDuration);
  const files = renditionFiles(rendition.name);
  const text = buildMediaPlaylist({
    initUri: files.init,
    segments,
    targetDuration,
    type: live ? 'EVENT' : 'VOD',
    ended: true,
  });
  await storeForMedia(deps, ctx, mediaId, () => storage.put(streamKey(mediaId, files.playlist), text));
  await medias.renditionReady(
    mediaId,
    rendition.name,
    { bandwidth: bw.bandwidth, average_bandwidth: bw.averageBandwidth, codecs, playlist: files.playlist },
    {
      type: 'rendition.ready',
      message: `rendition ${rendition.name} encoded in ${chunks.length} chunks (${segments.length} segments, ${Math.round(bw.averageBandwidth / 1000)} kb/s average)`,
      data: { rendition: rendition.name, chunks: chunks.length, segments: segments.length, codecs, ...bw },
    },
    writerOf(ctx),
  );
  return {
    type: 'video',
    name: rendition.name,
    playlist: files.playlist,
    init: files.init,
    segments: segments.map(({ uri, duration }) => ({ uri, duration })),
    codecs,
    ...bw,
    ...shapeOf(rendition),
    timelineOffset: chunkedTimelineOffsetSeconds,
  };
}

/** A rendition's target duration: its longest segment, rounded, and never below the configured length. */
const targetOf = (v: VariantEntry, segmentSeconds: number) =>
  Math.max(segmentSeconds, ...v.segments.map((s) => Math.round(s.duration)));

export const createPublishActivities = (deps: ActivityDeps) => {
  const { medias, storage } = deps;
  return {
    /** A chunked rendition, assembled once every chunk is stored (see assemble). */
    assembleRendition: (input: AssembleInput): Promise<VariantEntry> =>
      forMediaRun(input.mediaRunId, () => assemble(deps, input)),

    /** The whole ladder's master playlist and DASH manifest, then Ready. A live media's growing playlists become VOD. */
    async finalizeMedia({
      mediaId,
      outputs,
      duration,
      segmentSeconds,
      files,
      livePlaylists = [],
    }: FinalizeInput): Promise<void> {
      await storeForMedia(deps, activityContext(), mediaId, async () => {
        for (const o of outputs.filter((v) => livePlaylists.includes(v.name))) {
          const vod = buildMediaPlaylist({
            initUri: o.init,
            segments: o.segments,
            targetDuration: targetOf(o, segmentSeconds),
            type: 'VOD',
            ended: true,
          });
          await storage.put(streamKey(mediaId, o.playlist), vod);
        }
        await storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(outputs));
        await storage.put(streamKey(mediaId, dashManifestName), buildDashManifest(outputs, duration, segmentSeconds));
      });
      // A media that was not playable before it is Ready (a ladder of one rung) becomes so now: its
      // media.playable event still comes, just before media.ready.
      await medias.markPlayable(
        mediaId,
        {
          type: 'media.playable',
          message: `playable with ${outputs.map((o) => o.name).join(', ')}`,
          data: { renditions: outputs.map((o) => o.name) },
        },
        thisRun(),
      );
      const ready = await medias.setState(
        mediaId,
        { status: MediaStatus.Ready, playable: true, progress: 100 },
        {
          type: 'media.ready',
          message: `ready to stream (${duration.toFixed(2)} s)`,
          data: { renditions: outputs.map((o) => o.name), files: [masterPlaylistName, dashManifestName, ...files] },
        },
        thisRun([MediaStatus.Processing]),
      );
      if (!ready) throw notThisRun(mediaId, 'not marking it Ready');
    },
  };
};
