import amqp, { type Channel, type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import type { Logger } from '../logger.ts';

export const deadLetterExchange = 'gilfoyle.dlx';
export const deadLetterQueue = (queue: string) => `${queue}.dead`;

/** The durable work queue, and its dead-letter queue for messages that cannot be handled. */
export async function assertTopology(ch: Channel, queue: string): Promise<void> {
  await ch.assertExchange(deadLetterExchange, 'direct', { durable: true });
  await ch.assertQueue(deadLetterQueue(queue), { durable: true });
  await ch.bindQueue(deadLetterQueue(queue), deadLetterExchange, queue);
  await ch.assertQueue(queue, { durable: true, deadLetterExchange, deadLetterRoutingKey: queue });
}

/** The durable topic exchange every media event is published to, routing key = the event's type. */
export async function assertEventsExchange(ch: Channel, exchange: string): Promise<void> {
  await ch.assertExchange(exchange, 'topic', { durable: true });
}

export type RabbitConnection = RecoveringChannelModel;

/**
 * A connection that reconnects by itself; `setup` runs after every (re)connect, to
 * declare topology and restart consumers.
 */
export async function connectRabbit(
  url: string,
  logger: Logger,
  setup?: (model: ChannelModel) => Promise<void>,
): Promise<RabbitConnection> {
  const conn = await amqp.connect(url, {
    recovery: {
      initialDelay: 200,
      maxDelay: 5000,
      initialMaxRetries: 5,
      setup: setup ?? (async () => undefined),
    },
  });
  conn.on('disconnect', (err: Error) => logger.warn({ err: err?.message }, 'rabbitmq disconnected, reconnecting'));
  conn.on('error', (err: Error) => logger.warn({ err: err?.message }, 'rabbitmq connection error'));
  return conn;
}
