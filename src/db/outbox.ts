import type pg from 'pg';
import type { Topic, TopicMessages } from '../domain/messages.ts';
import { traceHeaders } from '../tracing.ts';
import type { Db } from './pool.ts';
import { inTransaction } from './pool.ts';

export interface OutboxMessage {
  id: string;
  /** What the message is about (a topic of domain/messages.ts): the relay publishes it where that topic goes. */
  topic: string;
  payload: unknown;
  /** The trace context of what wrote the row (traceparent…), when tracing was on. */
  trace_context: Record<string, string> | null;
}

/**
 * Adds a message to the outbox, in the caller's transaction (the state change and its message
 * commit together), and wakes the relays.
 */
export async function addToOutbox<T extends Topic>(
  q: Pick<pg.ClientBase, 'query'>,
  topic: T,
  message: TopicMessages[T],
): Promise<void> {
  const trace = traceHeaders();
  await q.query('INSERT INTO outbox (topic, payload, trace_context) VALUES ($1, $2, $3)', [
    topic,
    JSON.stringify(message),
    Object.keys(trace).length ? JSON.stringify(trace) : null,
  ]);
  await q.query(`SELECT pg_notify('gilfoyle_outbox', '')`);
}

export function createOutboxRepository(db: Db) {
  return {
    /**
     * Hands unpublished messages, oldest first, to `publish`, and marks those it resolved
     * as published, all under row locks (SKIP LOCKED) so that several relays never send
     * the same row at once. A failed publish is counted and retried on a later pass.
     */
    async drain(
      batch: number,
      publish: (m: OutboxMessage) => Promise<void>,
    ): Promise<{ published: number; failed: number }> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<OutboxMessage>(
          `SELECT id, topic, payload, trace_context FROM outbox WHERE published_at IS NULL
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [batch],
        );
        let published = 0;
        let failed = 0;
        for (const m of rows) {
          try {
            await publish(m);
            await c.query('UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = $1', [m.id]);
            published++;
          } catch (err) {
            await c.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
              m.id,
              String((err as Error).message),
            ]);
            failed++;
            break; // keep order: stop at the first failure, retry on the next pass
          }
        }
        return { published, failed };
      });
    },

    /** Messages not yet published to RabbitMQ (the metrics gauge). */
    async backlog(): Promise<number> {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
      return Number(rows[0]!.n);
    },
  };
}
export type OutboxRepository = ReturnType<typeof createOutboxRepository>;
