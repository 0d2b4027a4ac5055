import type { RequestIdVariables } from 'hono/request-id';
import type { Config } from '../config/schema.ts';
import type { AttachmentRepository } from '../db/attachments.ts';
import type { MediaRepository } from '../db/medias.ts';
import type { WebhookRepository } from '../db/webhooks.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { StreamCache } from './stream-cache.ts';
import type { StorageDriver } from '../storage/driver.ts';

export type DependencyState = 'up' | 'down';

/** What the API needs of the world; createApp takes it so tests can build the app with any parts. */
export interface AppDeps {
  config: Config;
  version: string;
  /** The commit this build is made from (v1's /healthz `commit`); "unknown" when not given. */
  commit?: string;
  medias: MediaRepository;
  attachments: AttachmentRepository;
  webhooks: WebhookRepository;
  /** Starts the workflow of a delivery's run (a redelivery). */
  startDelivery(deliveryId: string, run: number): Promise<void>;
  storage: StorageDriver;
  /** What stream requests know of their media, kept between requests until a change is notified. */
  streamCache: StreamCache;
  logger: Logger;
  metrics: Metrics;
  /** Stops the media's workflow if one is running (DELETE). */
  stopWorkflow(mediaId: string, reason: string): Promise<void>;
  /** Whether the media's workflow has an open run. */
  workflowRunning(mediaId: string): Promise<boolean>;
  /** Asks the open run to cancel (its activities are cancelled, it marks the media Errored); false when none is open. */
  cancelWorkflow(mediaId: string): Promise<boolean>;
  /** Each dependency's state for /healthz. */
  checkDependencies(): Promise<Record<string, DependencyState>>;
  /**
   * True once the process is shutting down: /readyz answers 503 (a load balancer moves traffic
   * away) while requests are still answered, each closing its connection. Never, when not given.
   */
  draining?(): boolean;
}

export interface AppEnv {
  /** apiKey: the name of the API key the request came with, when keys are configured. */
  Variables: { deps: AppDeps; apiKey?: string } & RequestIdVariables;
}
