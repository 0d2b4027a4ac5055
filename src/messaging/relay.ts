import type { ConfirmChannel } from 'amqplib';
import type { OutboxMessage, OutboxRepository } from '../db/outbox.ts';
import { contextFrom, inSpan, SpanKind, traceHeaders } from '../tracing.ts';
import type { Db } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { RabbitConnection } from './connection.ts';
import { assertEventsExchange, assertTopology } from './connection.ts';
import type { Topic } from '../domain/messages.ts';

export type Destination = { queue: string } | { exchange: string; routingKey: (payload: unknown) => string };

export interface RelayDeps {
  db: Db;
  outbox: OutboxRepository;
  rabbit: RabbitConnection;
  logger: Logger;
  /**
   * Where each topic's messages go: the RabbitMQ queue (declared with its dead-letter queue) of
   * its consumers, or a durable topic exchange, with the routing key taken from the message.
   */
  destinations: Record<Topic, Destination>;
  /** Fallback poll when no NOTIFY arrives. */
  pollMs?: number;
}

/**
 * Publishes outbox rows to RabbitMQ with publisher confirms, marking each published only
 * once the broker confirmed it. Woken by NOTIFY gilfoyle_outbox, and polls as a fallback.
 */
export function createOutboxRelay({ db, outbox, rabbit, logger, destinations, pollMs = 1000 }: RelayDeps) {
  let channel: ConfirmChannel | null = null;
  let stopped = false;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | null = null;
  let listener: import('pg').PoolClient | null = null;

  // Queues and exchanges this channel has declared.
  const declared = new Set<string>();

  async function getChannel(): Promise<ConfirmChannel> {
    if (channel) return channel;
    const ch = await rabbit.createConfirmChannel();
    declared.clear();
    ch.on('close', () => {
      if (channel === ch) channel = null;
    });
    ch.on('error', () => undefined);
    channel = ch;
    return ch;
  }

  // The row's trace goes on: a producer span, whose context rides in the message's headers.
  const publish = (m: OutboxMessage) =>
    inSpan(
      `publish ${m.topic}`,
      {
        kind: SpanKind.PRODUCER,
        parent: contextFrom(m.trace_context),
        attributes: { 'messaging.system': 'rabbitmq', 'messaging.operation.type': 'publish', 'outbox.id': m.id },
      },
      () => send(m, traceHeaders()),
    );

  async function send(m: OutboxMessage, headers: Record<string, string>) {
    const destination = destinations[m.topic as Topic];
    // A topic this relay has no destination for (a newer version's) stays in the outbox, in order, and says so.
    if (!destination) throw new Error(`no destination for outbox topic ${JSON.stringify(m.topic)}`);
    const ch = await getChannel();
    const body = Buffer.from(JSON.stringify(m.payload));
    const options = { persistent: true, contentType: 'application/json', type: m.topic, headers };
    const confirmed = (resolve: () => void, reject: (e: Error) => void) => (err: unknown) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve();
    if ('queue' in destination) {
      const { queue } = destination;
      if (!declared.has(queue)) {
        await assertTopology(ch, queue);
        declared.add(queue);
      }
      await new Promise<void>((resolve, reject) => {
        ch.sendToQueue(queue, body, options, confirmed(resolve, reject));
      });
      return;
    }
    const { exchange, routingKey } = destination;
    if (!declared.has(exchange)) {
      await assertEventsExchange(ch, exchange);
      declared.add(exchange);
    }
    await new Promise<void>((resolve, reject) => {
      ch.publish(exchange, routingKey(m.payload), body, options, confirmed(resolve, reject));
    });
  }

  async function drainAll() {
    for (;;) {
      const { published, failed } = await outbox.drain(50, publish);
      if (published) logger.debug({ published }, 'outbox messages published');
      if (failed || published < 50) return failed;
    }
  }

  async function run() {
    let backoff = 0;
    while (!stopped) {
      try {
        const failed = await drainAll();
        backoff = failed ? Math.min(5000, backoff * 2 || 250) : 0;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'outbox relay pass failed');
        channel = null;
        backoff = Math.min(5000, backoff * 2 || 250);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff || pollMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  }

  return {
    async start() {
      listener = await db.connect();
      listener.on('notification', () => wake?.());
      listener.on('error', () => undefined);
      await listener.query('LISTEN gilfoyle_outbox');
      loop = run();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      if (listener) {
        await listener.query('UNLISTEN gilfoyle_outbox').catch(() => undefined);
        listener.release();
      }
      await channel?.close().catch(() => undefined);
    },
  };
}
