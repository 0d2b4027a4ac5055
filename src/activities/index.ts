import { createEncodeActivities } from './encode.ts';
import { createMirrorActivities } from './mirror.ts';
import { createPackageActivities } from './package.ts';
import { createProbeActivities } from './probe.ts';
import type { ActivityDeps } from './support.ts';

export type { ActivityDeps } from './support.ts';

/** Every activity of the pipeline, bound to its dependencies (the worker passes real ones, tests fakes). */
export const createActivities = (deps: ActivityDeps) => ({
  ...createProbeActivities(deps),
  ...createEncodeActivities(deps),
  ...createPackageActivities(deps),
  ...createMirrorActivities(deps),
});
