import os from 'node:os';
import type { EncodingLadder } from '../domain/renditions.ts';
import type { DeliverySchedule, WebhookSending } from '../domain/webhooks.ts';
import { encodeTaskQueueOf, type ProcessingSettings } from '../domain/workflow.ts';
import type { Config } from './schema.ts';

/** What the pipeline takes from config: the workflow's input and each worker's encoder threads. */

/** The encoding ladder the workflow receives, from config. */
export function ladderOf(config: Config): EncodingLadder {
  const e = config.encoding;
  return {
    rungs: e.renditions.map((r) => ({
      name: r.name,
      ...(r.height !== undefined ? { height: r.height } : { width: r.width }),
      videoBitrate: r.video_bitrate,
      maxRate: r.max_rate ?? Math.round(r.video_bitrate * 1.07),
      codec: r.codec,
      ...(r.max_frame_rate !== undefined ? { maxFrameRate: r.max_frame_rate } : {}),
    })),
    audioBitrate: e.audio_bitrate,
    audioCopy: e.audio_copy,
    maxFrameRate: e.max_frame_rate,
    gopSeconds: e.gop_seconds,
    segmentSeconds: e.segment_seconds,
  };
}

/** Everything the workflow input takes from config. */
export function processingSettingsOf(config: Config): ProcessingSettings {
  const e = config.encoding;
  return {
    ladder: ladderOf(config),
    maxAttempts: e.max_attempts,
    encodeTaskQueue: encodeTaskQueueOf(config.temporal.task_queue),
    encodeTimeoutSeconds: e.timeout_seconds,
    heartbeatTimeoutSeconds: e.heartbeat_timeout_seconds,
    ...(e.chunk_seconds > 0
      ? { chunking: { chunkSeconds: e.chunk_seconds, thresholdSeconds: e.chunk_threshold_seconds } }
      : {}),
    ...(e.mp4_rendition !== undefined ? { downloadRendition: e.mp4_rendition } : {}),
    pictures: {
      posterAt: e.poster_at,
      storyboard: e.storyboard.enabled
        ? {
            thumbnailWidth: e.storyboard.thumbnail_width,
            columns: e.storyboard.columns,
            maxThumbnails: e.storyboard.max_thumbnails,
            minIntervalSeconds: e.storyboard.min_interval_seconds,
          }
        : null,
    },
  };
}

/**
 * Encoder threads of one of `concurrency` simultaneous encodes: up to twice its share of the
 * cores, never more than the cores. A strict share (cores / concurrency) leaves cores idle once
 * the other encodes are done and the top rung finishes alone (bench:encode: 25.0 s against 21.4 s
 * for a 20 s 1080p ladder on 2 cores), while twice the share bounds the oversubscription at 2×.
 */
export const threadsPerEncode = (configured: number, concurrency: number, cores = os.availableParallelism()) =>
  configured > 0 ? configured : Math.max(1, Math.min(cores, 2 * Math.ceil(cores / concurrency)));

/** How webhook deliveries are retried, from webhooks.* (the delivery workflow's input). */
export const deliveryScheduleOf = (config: Config): DeliverySchedule => ({
  initialBackoffSeconds: config.webhooks.initial_backoff_seconds,
  maxBackoffSeconds: config.webhooks.max_backoff_seconds,
  windowSeconds: config.webhooks.retry_window_seconds,
  attemptTimeoutSeconds: config.webhooks.timeout_seconds + 10,
});

/** How one webhook attempt is sent, from webhooks.* and settings.url_fetch (the dispatcher's and the workers'). */
export const webhookSendingOf = (config: Config, version: string): WebhookSending => ({
  timeoutMs: config.webhooks.timeout_seconds * 1000,
  disableAfterSeconds: config.webhooks.disable_after_seconds,
  allowPrivateAddresses: config.settings.url_fetch.allow_private_addresses,
  userAgent: `Gilfoyle-Webhooks/${version}`,
});
