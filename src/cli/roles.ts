import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { createApp } from '../api/create-app.ts';
import { withFileBodies } from '../api/file-bodies.ts';
import type { AppDeps } from '../api/deps.ts';
import { createStreamCache } from '../api/stream-cache.ts';
import { dependencyChecks } from '../api/routes/health/health.service.ts';
import { createBridge } from '../bridge/bridge.ts';
import { createAttachmentRepository } from '../db/attachments.ts';
import { createWebhookDispatcher } from '../bridge/webhooks.ts';
import { deliveryScheduleOf, processingSettingsOf, webhookSendingOf } from '../config/processing.ts';
import type { Config } from '../config/schema.ts';
import { createMediaRepository } from '../db/medias.ts';
import { createOutboxRepository } from '../db/outbox.ts';
import { createWebhookRepository } from '../db/webhooks.ts';
import { createPool, pingDatabase, type Db } from '../db/pool.ts';
import { topics } from '../domain/messages.ts';
import type { MediaEventMessage } from '../domain/webhooks.ts';
import type { Logger } from '../logger.ts';
import { startTracing, type Tracing } from '../tracing.ts';
import { createMetrics, registerStateGauges } from '../metrics.ts';
import { connectRabbit, type RabbitConnection } from '../messaging/connection.ts';
import { createOutboxRelay } from '../messaging/relay.ts';
import { createStorage } from '../storage/index.ts';
import { gitCommit, version } from '../version.ts';
import { createWorkflowControl, startDelivery } from '../workflows/control.ts';

export interface Running {
  name: string;
  /** Called first on shutdown, for every role at once: stop taking new work (the API: unready). */
  drain?(how: { unreadySeconds: number }): void;
  stop(): Promise<void>;
}

/** Shared connections, opened on first use by the roles that need them. */
export function createResources(config: Config, logger: Logger, tracing?: Tracing) {
  let db: Db | null = null;
  let rabbit: Promise<RabbitConnection> | null = null;
  let temporal: Promise<Client> | null = null;
  return {
    /** The process's tracing (the worker hands its span processor to the workflows' sink). */
    tracing: tracing ?? startTracing({ ...config.tracing, otlp_endpoint: undefined }, []),
    /** One metrics registry per process, whatever roles it runs. */
    metrics: createMetrics(),
    db: () => (db ??= createPool(config.database.url, config.database.pool_size)),
    rabbit: () => (rabbit ??= connectRabbit(config.rabbitmq.url, logger)),
    temporal: () =>
      (temporal ??= Connection.connect({ address: config.temporal.address }).then(
        (connection) =>
          new Client({
            connection,
            namespace: config.temporal.namespace,
            // Starts and signals carry the active trace context to the workflow (a no-op without tracing).
            interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
          }),
      )),
    async close() {
      if (temporal) await (await temporal).connection.close().catch(() => undefined);
      if (rabbit) await (await rabbit).close().catch(() => undefined);
      if (db) await db.end().catch(() => undefined);
    },
  };
}
export type Resources = ReturnType<typeof createResources>;

export async function startApi(config: Config, logger: Logger, res: Resources): Promise<Running> {
  const db = res.db();
  const storage = await openStorage(config, logger);
  const rabbit = await res.rabbit();
  const temporal = await res.temporal();
  const medias = createMediaRepository(db);
  const outbox = createOutboxRepository(db);
  const streamCache = createStreamCache({ load: (id) => medias.get(id), db, logger });
  // Once shutdown begins: unready (503 on /readyz) until `acceptUntil`, then no more connections.
  let draining = false;
  let acceptUntil = 0;
  const deps: AppDeps = {
    config,
    version,
    commit: process.env.GILFOYLE_COMMIT || gitCommit(),
    medias,
    attachments: createAttachmentRepository(db),
    webhooks: createWebhookRepository(db),
    startDelivery: (deliveryId, run) =>
      startDelivery(temporal, config.temporal.task_queue, { deliveryId, schedule: deliveryScheduleOf(config) }, run),
    storage,
    streamCache,
    logger,
    metrics: res.metrics,
    ...createWorkflowControl(temporal),
    checkDependencies: dependencyChecks({
      database: () => pingDatabase(db),
      rabbitmq: () => rabbit.createChannel().then((ch) => ch.close()),
      temporal: () => temporal.workflowService.getSystemInfo({}),
      storage: () => storage.check(),
    }),
    draining: () => draining,
  };
  registerStateGauges(res.metrics, { countByStatus: () => medias.countByStatus(), backlog: () => outbox.backlog() });
  const relay = createOutboxRelay({
    db,
    outbox,
    rabbit,
    logger,
    destinations: {
      [topics.mediaUploaded]: { queue: config.rabbitmq.queue },
      [topics.mediaEvent]: {
        exchange: config.rabbitmq.events_exchange,
        routingKey: (payload) => (payload as MediaEventMessage).type,
      },
    },
  });
  // The app first: one that cannot be built (an unwritable tus.dir) must leave no relay running,
  // nor the stream cache listening (either would keep the process alive).
  let app: ReturnType<typeof createApp>;
  try {
    app = createApp(deps);
  } catch (err) {
    await streamCache.stop();
    throw err;
  }
  await relay.start();
  app.tus.startCleanup();
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: withFileBodies(app.fetch), hostname: config.server.host, port: config.server.port },
      (info) => {
        logger.info({ url: `http://${config.server.host}:${info.port}` }, 'api listening');
        resolve(s);
      },
    );
  });
  return {
    name: 'api',
    drain({ unreadySeconds }) {
      draining = true;
      acceptUntil = Date.now() + unreadySeconds * 1000;
      if (unreadySeconds > 0)
        logger.info({ unready_seconds: unreadySeconds }, 'unready: still serving, /readyz answers 503');
    },
    async stop() {
      // Still serving (and unready) until the load balancer has had its time to notice.
      const left = acceptUntil - Date.now();
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      app.tus.stop();
      // Finish requests in flight; idle keep-alive connections would hold close() forever.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as import('node:http').Server).closeIdleConnections?.();
      await closed;
      await relay.stop();
      await streamCache.stop();
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
  const db = res.db();
  const webhooks = createWebhookRepository(db);
  await webhooks.syncDeclared(config.webhooks.endpoints);
  const dispatcher = createWebhookDispatcher({
    rabbit: await res.rabbit(),
    temporal: await res.temporal(),
    medias: createMediaRepository(db),
    webhooks,
    exchange: config.rabbitmq.events_exchange,
    queue: config.rabbitmq.webhooks_queue,
    prefetch: config.rabbitmq.prefetch,
    taskQueue: config.temporal.task_queue,
    schedule: deliveryScheduleOf(config),
    sending: webhookSendingOf(config, version),
    uis: config,
    logger,
  });
  await bridge.start();
  await dispatcher.start();
  return {
    name: 'bridge',
    async stop() {
      await dispatcher.stop();
      await bridge.stop();
    },
  };
}

/**
 * The configured store. One that does not answer yet is no reason to refuse to start: /healthz
 * reports it, the API answers 503 to what needs it, and activities retry until it is back.
 */
export async function openStorage(config: Config, logger: Logger) {
  const storage = await createStorage(config.storage);
  await storage
    .check()
    .catch((err: Error) => logger.warn({ driver: storage.name, err: err.message }, 'storage is not available yet'));
  return storage;
}
