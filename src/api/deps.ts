import type { Config } from '../config/schema.ts';
import type { MediaRepository } from '../db/medias.ts';
import type { Logger } from '../logger.ts';
import type { StorageDriver } from '../storage/driver.ts';

export type DependencyState = 'up' | 'down';

/** What the API needs of the world; createApp takes it so tests can build the app with any parts. */
export interface AppDeps {
  config: Config;
  version: string;
  medias: MediaRepository;
  storage: StorageDriver;
  logger: Logger;
  /** Stops the media's workflow if one is running (DELETE). */
  stopWorkflow(mediaId: string, reason: string): Promise<void>;
  /** Each dependency's state for /healthz. */
  checkDependencies(): Promise<Record<string, DependencyState>>;
}

export interface AppEnv {
  Variables: { deps: AppDeps };
}
