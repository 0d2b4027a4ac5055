import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger.ts';
import type { RabbitConnection } from './connection.ts';

export interface ConsumerDeps {
  rabbit: RabbitConnection;
  queue: string;
  prefetch: number;
  logger: Logger;
  /** Declares what the queue needs (itself, its dead-letter queue, its bindings) on each new channel. */
  declare(ch: Channel): Promise<void>;
  /** Settles (acks or nacks) the message itself. */
  handle(ch: Channel, msg: ConsumeMessage): Promise<unknown>;
}

/**
 * The message's JSON as `schema` reads it; or, when it is not JSON or not that shape, null after
 * sending it to the queue's dead-letter queue (a message no retry could mend).
 */
export function parseOrDeadLetter<T>(
  ch: Channel,
  msg: ConsumeMessage,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  logger: Logger,
): T | null {
  const text = msg.content.toString('utf8');
  let parsed: { success: true; data: T } | { success: false } = { success: false };
  try {
    parsed = schema.safeParse(JSON.parse(text));
  } catch {
    // not JSON
  }
  if (parsed.success) return parsed.data;
  logger.error({ body: text.slice(0, 200) }, 'unparseable message sent to the dead-letter queue');
  ch.nack(msg, false, false);
  return null;
}

/**
 * Consumes one queue, again after every reconnect of the connection; stop() stops taking
 * messages and waits for those in hand. The bridge and the webhook dispatcher are two of these.
 */
export function createConsumer({ rabbit, queue, prefetch, logger, declare, handle }: ConsumerDeps) {
  let channel: Channel | null = null;
  let consumerTag: string | null = null;
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();

  async function consume(ch: Channel) {
    await declare(ch);
    await ch.prefetch(prefetch);
    const { consumerTag: tag } = await ch.consume(queue, (msg) => {
      if (!msg) return;
      const p = handle(ch, msg).catch((err) => logger.error({ err, queue }, 'message handling failed'));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    });
    consumerTag = tag;
  }

  return {
    async start() {
      if (stopping) return;
      const ch = await rabbit.createChannel();
      ch.on('error', (err: Error) => logger.warn({ err: err.message, queue }, 'consumer channel error'));
      channel = ch;
      await consume(ch);
      rabbit.on('connect', () => {
        if (stopping) return;
        void (async () => {
          const next = await rabbit.createChannel();
          next.on('error', () => undefined);
          channel = next;
          await consume(next);
        })().catch((err) => logger.error({ err, queue }, 'could not resume consuming'));
      });
      logger.info({ queue }, 'consuming');
    },
    async stop() {
      stopping = true;
      if (channel && consumerTag) await channel.cancel(consumerTag).catch(() => undefined);
      await Promise.allSettled([...inFlight]);
      await channel?.close().catch(() => undefined);
    },
  };
}
