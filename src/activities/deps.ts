import type { AttachmentRepository } from '../db/attachments.ts';
import type { MediaRepository } from '../db/medias.ts';
import type { WebhookRepository } from '../db/webhooks.ts';
import type { WebhookSending } from '../domain/webhooks.ts';
import type { Logger } from '../logger.ts';
import type { ForegroundGate } from '../media/foreground.ts';
import type { CpuPriority } from '../media/runner.ts';
import type { Metrics } from '../metrics.ts';
import type { StorageDriver } from '../storage/driver.ts';

export interface ActivityDeps {
  medias: MediaRepository;
  /** A media's attachments: the source's own subtitle streams become some. */
  attachments: AttachmentRepository;
  storage: StorageDriver;
  logger: Logger;
  /** Encode durations and speed, source bytes fetched from URLs; absent in tests that do not look. */
  metrics?: Metrics;
  ffmpegPath: string;
  ffprobePath: string;
  /** Upper bound of one ffmpeg run (encoding.timeout_seconds): a hung encoder is killed, and the attempt fails. */
  ffmpegTimeoutMs?: number;
  /** Parent of the per-attempt temp folders. */
  tempDir?: string;
  preset: string;
  /** Encoder threads of an encode that shares the machine with others (cores / concurrency). */
  threads: number;
  /** CPU priority of the work that may wait (encoding.background_priority): the ladder, pictures, download. */
  backgroundPriority?: CpuPriority;
  /** This worker's playable-first gate (encoding.playable_first): background ffmpegs pause while a playable encode runs. */
  foreground?: ForegroundGate;
  /** Least time between two progress writes to Postgres. */
  progressIntervalMs?: number;
  /** Upload from URL: size cap, timeout, and whether private addresses may be fetched. */
  urlFetch: UrlFetchSettings;
  /** Webhook deliveries: their repository and how they are sent; absent in tests of the media pipeline. */
  webhooks?: { repo: WebhookRepository; sending: WebhookSending };
}

export interface UrlFetchSettings {
  maxBytes: number;
  timeoutMs: number;
  /** Private, loopback and link-local addresses are refused unless this is set (tests, trusted networks). */
  allowPrivateAddresses: boolean;
}
