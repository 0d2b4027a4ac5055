import { readFileSync } from 'node:fs';
import os from 'node:os';
import { serve } from '@hono/node-server';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { createApp } from '../api/create-app.ts';
import type { AppDeps, DependencyState } from '../api/deps.ts';
import { createBridge, type ProcessingSettings } from '../bridge/bridge.ts';
import type { Config } from '../config/schema.ts';
import { createMediaRepository } from '../db/medias.ts';
import { createOutboxRepository } from '../db/outbox.ts';
import { createPool, type Db } from '../db/pool.ts';
import type { EncodingLadder } from '../domain/renditions.ts';
import { mediaStatuses } from '../domain/status.ts';
import { encodeTaskQueueOf, workflowIdOf } from '../domain/workflow.ts';
import type { Logger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { connectRabbit, type RabbitConnection } from '../messaging/connection.ts';
import { createOutboxRelay } from '../messaging/relay.ts';
import { createStorage } from '../storage/index.ts';

export const version: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface Running {
  name: string;
  stop(): Promise<void>;
}

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

/** Shared connections, opened on first use by the roles that need them. */
export function createResources(config: Config, logger: Logger) {
  let db: Db | null = null;
  let rabbit: Promise<RabbitConnection> | null = null;
  let temporal: Promise<Client> | null = null;
  return {
    /** One metrics registry per process, whatever roles it runs. */
    metrics: createMetrics(),
    db: () => (db ??= createPool(config.database.url, config.database.pool_size)),
    rabbit: () => (rabbit ??= connectRabbit(config.rabbitmq.url, logger)),
    temporal: () =>
      (temporal ??= Connection.connect({ address: config.temporal.address }).then(
        (connection) => new Client({ connection, namespace: config.temporal.namespace }),
      )),
    async close() {
      if (temporal) await (await temporal).connection.close().catch(() => undefined);
      if (rabbit) await (await rabbit).close().catch(() => undefined);
      if (db) await db.end().catch(() => undefined);
    },
  };
}
export type Resources = ReturnType<typeof createResources>;

const withTimeout = async (p: Promise<unknown>, ms: number): Promise<DependencyState> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
};

export async function startApi(config: Config, logger: Logger, res: Resources): Promise<Running> {
  const db = res.db();
  const storage = await openStorage(config, logger);
  const rabbit = await res.rabbit();
  const temporal = await res.temporal();
  const deps: AppDeps = {
    config,
    version,
    medias: createMediaRepository(db),
    storage,
    logger,
    metrics: res.metrics,
    async stopWorkflow(mediaId, reason) {
      try {
        await temporal.workflow.getHandle(workflowIdOf(mediaId)).terminate(reason);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    },
    async workflowRunning(mediaId) {
      try {
        const { status } = await temporal.workflow.getHandle(workflowIdOf(mediaId)).describe();
        return status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
    async cancelWorkflow(mediaId) {
      const handle = temporal.workflow.getHandle(workflowIdOf(mediaId));
      try {
        if ((await handle.describe()).status.name !== 'RUNNING') return false;
        await handle.cancel();
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
    async checkDependencies() {
      const [database, rabbitmq, temporalState, storageState] = await Promise.all([
        withTimeout(db.query('SELECT 1'), 2000),
        withTimeout(rabbit.createChannel().then((ch) => ch.close()), 2000),
        withTimeout(temporal.workflowService.getSystemInfo({}), 2000),
        withTimeout(storage.check(), 2000),
      ]);
      return { database, rabbitmq, temporal: temporalState, storage: storageState };
    },
  };
  // Read from Postgres at each scrape of /metrics.
  res.metrics.gaugeFrom('gilfoyle_medias', 'Medias by status', ['status'], async (set) => {
    const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM medias GROUP BY status');
    for (const status of mediaStatuses) set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
  });
  res.metrics.gaugeFrom('gilfoyle_outbox_backlog', 'Outbox messages not yet published to RabbitMQ', [], async (set) => {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    set({}, Number(rows[0]!.n));
  });
  const relay = createOutboxRelay({ db, outbox: createOutboxRepository(db), rabbit, logger });
  await relay.start();
  const app = createApp(deps);
  app.tus.startCleanup();
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
      logger.info({ url: `http://${config.server.host}:${info.port}` }, 'api listening');
      resolve(s);
    });
  });
  return {
    name: 'api',
    async stop() {
      app.tus.stop();
      // Finish requests in flight; idle keep-alive connections would hold close() forever.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as import('node:http').Server).closeIdleConnections?.();
      await closed;
      await relay.stop();
    },
  };
}

export async function startBridge(config: Config, logger: Logger, res: Resources): Promise<Running> {
  const bridge = createBridge({
    rabbit: await res.rabbit(),
    temporal: await res.temporal(),
    queue: config.rabbitmq.queue,
    prefetch: config.rabbitmq.prefetch,
    taskQueue: config.temporal.task_queue,
    processing: processingSettingsOf(config),
    logger,
    metrics: res.metrics,
  });
  await bridge.start();
  return { name: 'bridge', stop: () => bridge.stop() };
}

/**
 * The configured store. One that does not answer yet is no reason to refuse to start: /healthz
 * reports it, the API answers 503 to what needs it, and activities retry until it is back.
 */
export async function openStorage(config: Config, logger: Logger) {
  const storage = await createStorage(config.storage);
  await storage.check().catch((err: Error) => logger.warn({ driver: storage.name, err: err.message }, 'storage is not available yet'));
  return storage;
}
