import { dashManifestName, masterPlaylistName, streamKey } from '../domain/paths.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus, processingStatuses } from '../domain/status.ts';
import { buildDashManifest } from '../media/dash.ts';
import { buildMasterPlaylist, type VariantEntry } from '../media/hls.ts';
import { activityContext, notThisRun, storeForMedia, type ActivityDeps } from './support.ts';

export interface FinalizeInput {
  mediaId: string;
  /** Every rendition, in ladder order. */
  outputs: VariantEntry[];
  duration: number;
  segmentSeconds: number;
  /** Files made beside the renditions (download, poster, storyboard), for the event. */
  files: string[];
}

/**
 * Bookkeeping: the workflow's state mirrored into Postgres for the API, each step an event,
 * and the manifests that make that state public (the master playlist, the DASH manifest).
 */
/** The guard of a mirror write: the media is processed by this activity's run (when in one), in one of these statuses. */
const thisRun = (statuses?: readonly MediaStatus[]) => ({ runId: activityContext()?.info.workflowExecution?.runId, ...(statuses ? { statuses } : {}) });

export const createMirrorActivities = (deps: ActivityDeps) => {
  const { medias, storage } = deps;
  return {
    /** The media is Processing: its encodes are handed out (the renditions were planned by the probe). */
    async startProcessing({ mediaId, plan }: { mediaId: string; plan: RenditionPlan[] }): Promise<void> {
      const processing = await medias.setState(mediaId, { status: MediaStatus.Processing, progress: 0 }, {
        type: 'media.processing',
        message: `encoding ${plan.length} rendition(s): ${plan.map((r) => r.name).join(', ')}`,
        data: { renditions: plan },
      }, thisRun(processingStatuses));
      if (!processing) throw notThisRun(mediaId, 'not taking it to Processing');
    },

    /** The whole ladder's master playlist and DASH manifest, then Ready. */
    async finalizeMedia({ mediaId, outputs, duration, segmentSeconds, files }: FinalizeInput): Promise<void> {
      await storeForMedia(deps, activityContext(), mediaId, async () => {
        await storage.put(streamKey(mediaId, masterPlaylistName), buildMasterPlaylist(outputs));
        await storage.put(streamKey(mediaId, dashManifestName), buildDashManifest(outputs, duration, segmentSeconds));
      });
      const ready = await medias.setState(mediaId, { status: MediaStatus.Ready, playable: true, progress: 100 }, {
        type: 'media.ready',
        message: `ready to stream (${duration.toFixed(2)} s)`,
        data: { renditions: outputs.map((o) => o.name), files: [masterPlaylistName, dashManifestName, ...files] },
      }, thisRun([MediaStatus.Processing]));
      if (!ready) throw notThisRun(mediaId, 'not marking it Ready');
    },

    async cancelMedia({ mediaId }: { mediaId: string }): Promise<void> {
      await medias.cancel(mediaId, 'while it was processed (its encodes were stopped)');
    },

    async failMedia({ mediaId, reason }: { mediaId: string; reason: string }): Promise<void> {
      // What the API shows names no machine paths (temp folders, storage roots); the event keeps them.
      const shown = reason.replace(/(?:\/[\w.@%+-]+){2,}\/?/g, '<path>');
      // Only the run that processes the media marks it (not a late one of a run terminated since).
      await medias.setState(mediaId, { status: MediaStatus.Errored, playable: false, error: shown }, {
        type: 'media.errored',
        level: 'error',
        message: shown,
        ...(shown !== reason ? { data: { detail: reason } } : {}),
      }, thisRun());
    },
  };
};
