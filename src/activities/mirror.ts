import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus } from '../domain/status.ts';
import type { ActivityDeps } from './support.ts';

/** Bookkeeping: the workflow's state mirrored into Postgres for the API, each step an event. */
export const createMirrorActivities = ({ medias }: ActivityDeps) => ({
  async startProcessing({ mediaId, plan }: { mediaId: string; plan: RenditionPlan[] }): Promise<void> {
    await medias.planRenditions(mediaId, plan);
    await medias.setState(mediaId, { status: MediaStatus.Processing, progress: 0 }, {
      type: 'media.processing',
      message: `encoding ${plan.length} rendition(s): ${plan.map((r) => r.name).join(', ')}`,
      data: { renditions: plan },
    });
  },

  async markPlayable({ mediaId, renditions }: { mediaId: string; renditions: string[] }): Promise<void> {
    await medias.setState(mediaId, { playable: true }, {
      type: 'media.playable',
      message: `playable with ${renditions.join(', ')} while the rest of the ladder encodes`,
      data: { renditions },
    });
  },

  async finalizeMedia({ mediaId, duration }: { mediaId: string; duration: number }): Promise<void> {
    await medias.setState(mediaId, { status: MediaStatus.Ready, playable: true, progress: 100 }, {
      type: 'media.ready',
      message: `ready to stream (${duration.toFixed(2)} s)`,
    });
  },

  async cancelMedia({ mediaId }: { mediaId: string }): Promise<void> {
    await medias.cancel(mediaId, 'while it was processed (its encodes were stopped)');
  },

  async failMedia({ mediaId, reason }: { mediaId: string; reason: string }): Promise<void> {
    // What the API shows names no machine paths (temp folders, storage roots); the event keeps them.
    const shown = reason.replace(/(?:\/[\w.@%+-]+){2,}\/?/g, '<path>');
    await medias.setState(mediaId, { status: MediaStatus.Errored, playable: false, error: shown }, {
      type: 'media.errored',
      level: 'error',
      message: shown,
      ...(shown !== reason ? { data: { detail: reason } } : {}),
    });
  },
});
