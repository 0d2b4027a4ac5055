import {
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type LogMetadata,
  type WorkerOptions,
} from '@temporalio/worker';
import { attemptStartInterceptor, outagePatience } from '../activities/attempt.ts';
import { createActivities } from '../activities/index.ts';
import { activityMetricsInterceptor } from '../activities/metrics-interceptor.ts';
import { sweepOrphanedTempDirs } from '../activities/temp-dirs.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createMediaRepository } from '../db/medias.ts';
import { createAttachmentRepository } from '../db/attachments.ts';
import { createWebhookRepository } from '../db/webhooks.ts';
import { patientPool } from '../db/pool.ts';
import { patientStorage } from '../storage/patient.ts';
import { encodeTaskQueueOf } from '../domain/workflow.ts';
import type { Logger } from '../logger.ts';
import { ForegroundGate } from '../media/foreground.ts';
import { encoderProblems } from '../media/encoders.ts';
import { threadsPerEncode, webhookSendingOf } from '../config/processing.ts';
import { version } from '../version.ts';
import { openStorage, type Resources, type Running } from './roles.ts';
import { workflowCodeOptions } from './workflow-code.ts';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';

/*
 * The worker role on its own module: the API and bridge roles never load the Temporal worker
 * (its native core and bundler) nor the FFmpeg activities.
 */

/** The Temporal SDK logs through Gilfoyle's logger, so a worker's output is one JSON stream. */
function installTemporalLogger(logger: Logger) {
  const child = logger.child({ component: 'temporal' });
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: LogMetadata) =>
    child[level](meta ?? {}, message);
  const levels: Record<LogLevel, ReturnType<typeof at>> = {
    TRACE: at('trace'),
    DEBUG: at('debug'),
    INFO: at('info'),
    WARN: at('warn'),
    ERROR: at('error'),
  };
  try {
    Runtime.install({
      // Gilfoyle's own SIGTERM handling shuts the workers down, in order and within the grace period.
      shutdownSignals: [],
      logger: {
        log: (level, message, meta) => levels[level](message, meta),
        trace: levels.TRACE,
        debug: levels.DEBUG,
        info: levels.INFO,
        warn: levels.WARN,
        error: levels.ERROR,
      },
    });
  } catch {
    // Already installed (a second worker in the same process): keep the first.
  }
}

/** An encoder the ladder asks for and ffmpeg lacks is a config error at start-up, not a failed media later. */
export async function checkEncoders(config: Config): Promise<void> {
  const problems = await encoderProblems(
    config.encoding.ffmpeg_path,
    config.encoding.renditions.map((r) => r.codec),
  ).catch((err: Error) => {
    throw new ConfigError(
      `encoding.ffmpeg_path: cannot run ${config.encoding.ffmpeg_path}: ${err.message.split('\n')[0]}`,
    );
  });
  if (problems.length) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

export async function startWorker(config: Config, logger: Logger, res: Resources): Promise<Running> {
  await checkEncoders(config);
  // An outage of the database or the store is waited out (heartbeating), not spent as one of
  // an encode's attempts.
  const patience = outagePatience(
    config.encoding.outage_patience_seconds,
    config.encoding.heartbeat_timeout_seconds,
    logger,
  );
  const storage = patientStorage(await openStorage(config, logger), patience('storage'));
  const patientDb = patientPool(res.db(), patience('database'));
  const activities = createActivities({
    medias: createMediaRepository(patientDb),
    attachments: createAttachmentRepository(patientDb),
    webhooks: {
      repo: createWebhookRepository(res.db()),
      sending: webhookSendingOf(config, version),
    },
    storage,
    logger,
    metrics: res.metrics,
    ffmpegPath: config.encoding.ffmpeg_path,
    ffprobePath: config.encoding.ffprobe_path,
    ffmpegTimeoutMs: config.encoding.timeout_seconds * 1000,
    tempDir: config.encoding.temp_dir,
    preset: config.encoding.preset,
    threads: threadsPerEncode(config.encoding.threads, config.encoding.concurrency),
    backgroundPriority: config.encoding.background_priority,
    foreground: new ForegroundGate(config.encoding.playable_first),
    urlFetch: {
      maxBytes: config.settings.max_file_size,
      timeoutMs: config.settings.url_fetch.timeout_seconds * 1000,
      allowPrivateAddresses: config.settings.url_fetch.allow_private_addresses,
    },
  });
  const orphans = await sweepOrphanedTempDirs(config.encoding.temp_dir);
  if (orphans.length) logger.info({ removed: orphans.length }, 'removed temp folders of workers that died');
  installTemporalLogger(logger);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  // Heartbeats reach the server at least every second, so a cancel reaches ffmpeg within about a second.
  const common = {
    connection,
    namespace: config.temporal.namespace,
    activities,
    interceptors: {
      activity: [
        attemptStartInterceptor,
        activityMetricsInterceptor(res.metrics),
        // Each activity runs in a span, child of the workflow's (from the activity's headers).
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    // On shutdown, running activities get most of the grace period to finish; then they are
    // cancelled, and Temporal retries them on another worker.
    shutdownGraceTime: `${Math.max(1, Math.floor(config.shutdown.grace_seconds * 0.75))} seconds`,
  } satisfies Partial<WorkerOptions>;
  // Workflows and bookkeeping activities on the main queue; encodes on their own, bounded by config.
  const main = await Worker.create({
    ...common,
    taskQueue: config.temporal.task_queue,
    ...(await workflowCodeOptions()),
    // The workflows' spans (made in the sandbox by the interceptors bundled with them) leave through this sink.
    sinks: { exporter: makeWorkflowExporter(res.tracing.spanProcessor, res.tracing.resource) },
  });
  const encoders = await Worker.create({
    ...common,
    taskQueue: encodeTaskQueueOf(config.temporal.task_queue),
    maxConcurrentActivityTaskExecutions: config.encoding.concurrency,
  });
  const runs = Promise.all([main.run(), encoders.run()]);
  runs.catch((err) => logger.fatal({ err }, 'temporal worker stopped'));
  logger.info({ taskQueue: config.temporal.task_queue, concurrency: config.encoding.concurrency }, 'worker polling');
  return {
    name: 'worker',
    async stop() {
      for (const w of [main, encoders]) if (w.getState() === 'RUNNING') w.shutdown();
      await runs.catch(() => undefined);
      await connection.close();
    },
  };
}
