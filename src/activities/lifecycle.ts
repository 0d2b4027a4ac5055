import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus, processingStatuses } from '../domain/status.ts';
import type { ActivityDeps } from './deps.ts';
import { notThisRun, thisRun } from './media-guard.ts';

/** The media's status through its run, mirrored into Postgres for the API, each change an event. */
export const createLifecycleActivities = (deps: ActivityDeps) => {
  const { medias } = deps;
  return {
    /** The media is Processing: its encodes are handed out (the renditions were planned by the probe). */
    async startProcessing({ mediaId, plan }: { mediaId: string; plan: RenditionPlan[] }): Promise<void> {
      const processing = await medias.setState(
        mediaId,
        { status: MediaStatus.Processing, progress: 0 },
        {
          type: 'media.processing',
          message: `encoding ${plan.length} rendition(s): ${plan.map((r) => r.name).join(', ')}`,
          data: { renditions: plan },
        },
        thisRun(processingStatuses),
      );
      if (!processing) throw notThisRun(mediaId, 'not taking it to Processing');
    },

    async cancelMedia({ mediaId }: { mediaId: string }): Promise<void> {
      await medias.cancel(mediaId, 'while it was processed (its encodes were stopped)');
    },

    async failMedia({ mediaId, reason }: { mediaId: string; reason: string }): Promise<void> {
      // What the API shows names no machine paths (temp folders, storage roots); the event keeps them.
      const shown = reason.replace(/(?:\/[\w.@%+-]+){2,}\/?/g, '<path>');
      // Only the run that processes the media marks it (not a late one of a run terminated since).
      await medias.setState(
        mediaId,
        { status: MediaStatus.Errored, playable: false, error: shown },
        {
          type: 'media.errored',
          level: 'error',
          message: shown,
          ...(shown !== reason ? { data: { detail: reason } } : {}),
        },
        thisRun(processingStatuses),
      );
    },
  };
};
