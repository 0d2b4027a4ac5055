import { randomBytes } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Client } from '@temporalio/client';
import { toMediaJson, type OperatorUis } from '../api/routes/medias/medias.schemas.ts';
import type { MediaRepository, MediaRow } from '../db/medias.ts';
import type { WebhookEndpointRow, WebhookRepository } from '../db/webhooks.ts';
import {
  isWebhookEventType,
  mediaEventMessage,
  wantsEvent,
  type DeliverySchedule,
  type MediaEventMessage,
  type WebhookSending,
} from '../domain/webhooks.ts';
import { attemptDelivery } from '../activities/webhooks.ts';
import type { Logger } from '../logger.ts';
import { assertEventsExchange, assertTopology, type RabbitConnection } from '../messaging/connection.ts';
import { createConsumer, parseOrDeadLetter } from '../messaging/consumer.ts';
import { startDelivery } from '../workflows/control.ts';

export interface DispatcherDeps {
  rabbit: RabbitConnection;
  temporal: Client;
  medias: Pick<MediaRepository, 'get'>;
  webhooks: WebhookRepository;
  exchange: string;
  queue: string;
  prefetch: number;
  taskQueue: string;
  schedule: DeliverySchedule;
  sending: WebhookSending;
  /** The UIs the media JSON links to. */
  uis: OperatorUis;
  logger: Logger;
  retryDelayMs?: number;
}

/** A Standard Webhooks message id: unique per delivery, the same on each of its attempts. */
const newDeliveryId = () => `msg_${randomBytes(16).toString('base64url')}`;

/** A media row as JSON gave it back (media.deleted carries one): its dates made dates again. */
const reviveRow = (row: Record<string, unknown>): MediaRow =>
  ({
    ...row,
    created_at: new Date(String(row.created_at)),
    updated_at: new Date(String(row.updated_at)),
  }) as unknown as MediaRow;

/**
 * The webhook dispatcher: a consumer of the events exchange (its own queue, bound to every
 * routing key). For each event, each enabled endpoint that asks for its type gets one delivery
 * (made once, however often the event is relayed). The dispatcher makes its first attempt
 * itself, so an endpoint that answers 2xx at once costs no workflow; otherwise one workflow
 * sends it again, with backoff, until it is answered 2xx or its window ends. The message is
 * acked only once all of that is recorded: killed before, the event comes back and the same
 * delivery (same webhook-id) is sent or handed to its workflow.
 */
export function createWebhookDispatcher(deps: DispatcherDeps) {
  const { webhooks, logger } = deps;

  /** `{type, timestamp, data}`: data is the media as GET /medias/{id} shows it, with the event under `event`. */
  async function bodyOf(e: MediaEventMessage): Promise<string> {
    const event = { id: e.id, level: e.level, message: e.message, ...e.data };
    let data: Record<string, unknown> = { event };
    if (e.mediaId) {
      const row = e.media ? reviveRow(e.media) : await deps.medias.get(e.mediaId);
      data = row ? { ...toMediaJson(row, deps.uis), event } : { id: e.mediaId, event };
    }
    return JSON.stringify({ type: e.type, timestamp: new Date(e.createdAt).toISOString(), data });
  }

  /** The delivery of `e` to one endpoint: made, tried once here, and left to a workflow if that did not do. */
  async function deliver(endpoint: WebhookEndpointRow, e: MediaEventMessage, body: string) {
    const d = await webhooks.ensureDelivery({
      id: newDeliveryId(),
      endpointId: endpoint.id,
      eventId: e.id,
      type: e.type,
      mediaId: e.mediaId,
      body,
    });
    if (d?.status !== 'pending') return;
    let attemptsMade = d.runs === 1 ? d.attempts : 0;
    // An endpoint that is failing (down, or hanging until the timeout) is left to the workflows'
    // backoff from the start: its attempts would otherwise hold the dispatcher's prefetch slots.
    if (d.runs === 1 && attemptsMade === 0 && !endpoint.failing_since) {
      const outcome = await attemptDelivery({ repo: webhooks, sending: deps.sending, logger }, d.id);
      if (outcome !== 'retry') return;
      attemptsMade = 1;
    }
    await startDelivery(
      deps.temporal,
      deps.taskQueue,
      { deliveryId: d.id, schedule: deps.schedule, attemptsMade },
      d.runs,
    );
  }

  async function handle(ch: Channel, msg: ConsumeMessage) {
    const e = parseOrDeadLetter(ch, msg, mediaEventMessage, logger);
    if (!e) return;
    if (!isWebhookEventType(e.type)) return ch.ack(msg);
    try {
      const endpoints = (await webhooks.enabledEndpoints()).filter((w) => wantsEvent(w.events, e.type));
      if (endpoints.length) {
        const body = await bodyOf(e);
        // One endpoint that hangs holds back none of the others.
        await Promise.all(endpoints.map((w) => deliver(w, e, body)));
        logger.debug({ type: e.type, mediaId: e.mediaId, endpoints: endpoints.length }, 'webhook deliveries made');
      }
      ch.ack(msg);
    } catch (err) {
      logger.warn({ type: e.type, err: (err as Error).message }, 'could not make webhook deliveries, event requeued');
      await new Promise((r) => setTimeout(r, deps.retryDelayMs ?? 2000));
      ch.nack(msg, false, true);
    }
  }

  const consumer = createConsumer({
    rabbit: deps.rabbit,
    queue: deps.queue,
    prefetch: deps.prefetch,
    logger: logger.child({ component: 'webhooks' }),
    declare: async (ch) => {
      await assertEventsExchange(ch, deps.exchange);
      await assertTopology(ch, deps.queue);
      await ch.bindQueue(deps.queue, deps.exchange, '#');
    },
    handle,
  });
  return { start: () => consumer.start(), stop: () => consumer.stop() };
}
