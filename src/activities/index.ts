import type { ActivityDeps } from './deps.ts';
import { createDownloadActivities } from './download.ts';
import { createChunkActivities } from './encode-chunk.ts';
import { createEncodeActivities } from './encode.ts';
import { createClipActivities } from './clip.ts';
import { createFetchSourceActivities } from './fetch-source.ts';
import { createLifecycleActivities } from './lifecycle.ts';
import { createPictureActivities } from './pictures.ts';
import { createProbeActivities } from './probe.ts';
import { createPublishActivities } from './publish.ts';
import { createWebhookActivities } from './webhooks.ts';

export type { ActivityDeps } from './deps.ts';

/** Every activity of the pipeline, bound to its dependencies (the worker passes real ones, tests fakes). */
export const createActivities = (deps: ActivityDeps) => ({
  ...createFetchSourceActivities(deps),
  ...createClipActivities(deps),
  ...createProbeActivities(deps),
  ...createEncodeActivities(deps),
  ...createChunkActivities(deps),
  ...createPictureActivities(deps),
  ...createDownloadActivities(deps),
  ...createPublishActivities(deps),
  ...createLifecycleActivities(deps),
  ...createWebhookActivities(deps),
});
