import type { Db } from './pool.ts';
import { inTransaction } from './pool.ts';

export interface OutboxMessage {
  id: string;
  /** The RabbitMQ queue the message goes to (chosen by the API that wrote it). */
  topic: string;
  payload: unknown;
}

export function createOutboxRepository(db: Db) {
  return {
    /**
     * Hands unpublished messages, oldest first, to `publish`, and marks those it resolved
     * as published, all under row locks (SKIP LOCKED) so that several relays never send
     * the same row at once. A failed publish is counted and retried on a later pass.
     */
    async drain(batch: number, publish: (m: OutboxMessage) => Promise<void>): Promise<{ published: number; failed: number }> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<OutboxMessage>(
          `SELECT id, topic, payload FROM outbox WHERE published_at IS NULL
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
            await c.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [m.id, String((err as Error).message)]);
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
