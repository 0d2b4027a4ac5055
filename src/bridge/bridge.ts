import { trace } from '@opentelemetry/api';
import type { Channel, ConsumeMessage } from 'amqplib';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import {
  processMediaWorkflowType,
  workflowIdOf,
  type ProcessingSettings,
  type ProcessMediaInput,
} from '../domain/workflow.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { assertTopology, type RabbitConnection } from '../messaging/connection.ts';
import { createConsumer, parseOrDeadLetter } from '../messaging/consumer.ts';
import { contextFrom, inSpan, SpanKind } from '../tracing.ts';
import { mediaUploadedMessage } from '../domain/messages.ts';

export interface BridgeDeps {
  rabbit: RabbitConnection;
  temporal: Client;
  queue: string;
  prefetch: number;
  taskQueue: string;
  /** How to process (ladder, attempts, pictures…), from config: everything of the workflow input but the media. */
  processing: ProcessingSettings;
  logger: Logger;
  metrics?: Metrics;
  /** Wait before handing back a message whose workflow could not be started (Temporal down). */
  retryDelayMs?: number;
}

export type StartOutcome = 'started' | 'already-started' | 'dead-lettered' | 'requeued';

/**
 * Consumes "media uploaded" messages and starts one processMedia workflow per media,
 * id media-{id}. The message is acked only once the start succeeded (or the workflow
 * already exists); one that cannot be parsed is rejected to the dead-letter queue.
 */
export function createBridge(deps: BridgeDeps) {
  const { rabbit, temporal, queue, logger } = deps;
  async function startWorkflow(input: ProcessMediaInput): Promise<'started' | 'already-started'> {
    try {
      await temporal.workflow.start(processMediaWorkflowType, {
        workflowId: workflowIdOf(input.mediaId),
        taskQueue: deps.taskQueue,
        args: [input],
        // A duplicate message for a media that finished must not process it again; a media
        // whose run failed (Errored) may be processed again after a new upload or a retry.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      });
      return 'started';
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already-started';
      throw err;
    }
  }

  async function handle(ch: Channel, msg: ConsumeMessage): Promise<StartOutcome> {
    // The media's trace goes on from the message's headers; the workflow start carries it to Temporal.
    const outcome = await inSpan(
      `process ${queue}`,
      {
        kind: SpanKind.CONSUMER,
        parent: contextFrom(msg.properties.headers),
        attributes: { 'messaging.system': 'rabbitmq', 'messaging.operation.type': 'process' },
      },
      async (span) => {
        const o = await settle(ch, msg);
        span.setAttribute('bridge.outcome', o);
        return o;
      },
    );
    deps.metrics?.bridgeMessages.inc({ outcome: outcome.replace('-', '_') });
    return outcome;
  }

  async function settle(ch: Channel, msg: ConsumeMessage): Promise<StartOutcome> {
    const m = parseOrDeadLetter(ch, msg, mediaUploadedMessage, logger);
    if (!m) return 'dead-lettered';
    trace.getActiveSpan()?.setAttribute('media.id', m.mediaId);
    try {
      const outcome = await startWorkflow({
        ...deps.processing,
        mediaId: m.mediaId,
        sourceKey: m.sourceKey,
        kind: m.kind,
        ...(m.url ? { sourceUrl: m.url } : {}),
        ...(m.clip ? { clip: m.clip } : {}),
      });
      logger.info({ mediaId: m.mediaId, outcome }, 'workflow start');
      ch.ack(msg);
      return outcome;
    } catch (err) {
      logger.warn({ mediaId: m.mediaId, err: (err as Error).message }, 'could not start workflow, message requeued');
      await new Promise((r) => setTimeout(r, deps.retryDelayMs ?? 2000));
      ch.nack(msg, false, true);
      return 'requeued';
    }
  }

  const consumer = createConsumer({
    rabbit,
    queue,
    prefetch: deps.prefetch,
    logger: logger.child({ component: 'bridge' }),
    declare: (ch) => assertTopology(ch, queue),
    handle,
  });
  return { start: () => consumer.start(), stop: () => consumer.stop() };
}
