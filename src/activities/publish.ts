import type { RenditionRow } from '../db/medias.ts';
import { dashManifestName, masterPlaylistName, streamKey } from '../domain/paths.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus, RenditionStatus } from '../domain/status.ts';
import { buildDashManifest } from '../media/dash.ts';
import { buildMasterPlaylist, type MasterEntry, type VariantEntry } from '../media/hls.ts';
import { activityContext } from './context.ts';
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

export const createPublishActivities = (deps: ActivityDeps) => {
  const { medias, storage } = deps;
  return {
    /** The whole ladder's master playlist and DASH manifest, then Ready. */
    async finalizeMedia({ mediaId, outputs, duration, segmentSeconds, files }: FinalizeInput): Promise<void> {
      await storeForMedia(deps, activityContext(), mediaId, async () => {
        await storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(outputs));
        await storage.put(streamKey(mediaId, dashManifestName), buildDashManifest(outputs, duration, segmentSeconds));
      });
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
