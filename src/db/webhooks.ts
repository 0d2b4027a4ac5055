import { createHash } from 'node:crypto';
import { topics } from '../domain/messages.ts';
import { addToOutbox } from './outbox.ts';
import { inTransaction, type Db } from './pool.ts';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  description: string;
  events: string[] | null;
  enabled: boolean;
  secret: string;
  declared: boolean;
  failing_since: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  type: string;
  media_id: string | null;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  runs: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
  updated_at: Date;
}

export interface WebhookAttemptRow {
  id: string;
  delivery_id: string;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export interface EndpointChange {
  url?: string;
  /** null: every event type. */
  events?: string[] | null;
  description?: string;
  enabled?: boolean;
}

/** An endpoint of gilfoyle.yml keeps one id across restarts: made from its URL. */
export function declaredEndpointId(url: string): string {
  const h = createHash('sha256').update(`gilfoyle-webhook:${url}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Postgres access for webhook endpoints, their deliveries and the deliveries' attempts. */
export function createWebhookRepository(db: Db) {
  return {
    async create(
      id: string,
      e: { url: string; events: string[] | null; description: string; enabled: boolean; secret: string },
    ): Promise<WebhookEndpointRow> {
      const { rows } = await db.query<WebhookEndpointRow>(
        `INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [id, e.url, e.events, e.description, e.enabled, e.secret],
      );
      return rows[0]!;
    },

    async get(id: string): Promise<WebhookEndpointRow | null> {
      const { rows } = await db.query<WebhookEndpointRow>('SELECT * FROM webhook_endpoints WHERE id = $1', [id]);
      return rows[0] ?? null;
    },

    async list(limit: number, offset: number): Promise<{ items: WebhookEndpointRow[]; total: number }> {
      const [items, total] = await Promise.all([
        db.query<WebhookEndpointRow>('SELECT * FROM webhook_endpoints ORDER BY created_at, id LIMIT $1 OFFSET $2', [
          limit,
          offset,
        ]),
        db.query<{ count: string }>('SELECT count(*) FROM webhook_endpoints'),
      ]);
      return { items: items.rows, total: Number(total.rows[0]!.count) };
    },

    /** Enabling an endpoint again clears its failures. */
    async update(id: string, change: EndpointChange): Promise<WebhookEndpointRow | null> {
      const { rows } = await db.query<WebhookEndpointRow>(
        `UPDATE webhook_endpoints SET url = coalesce($2, url),
           events = CASE WHEN $3::boolean THEN $4::text[] ELSE events END,
           description = coalesce($5, description), enabled = coalesce($6, enabled),
           failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
           disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
           updated_at = now()
         WHERE id = $1 RETURNING *`,
        [
          id,
          change.url ?? null,
          change.events !== undefined,
          change.events ?? null,
          change.description ?? null,
          change.enabled ?? null,
        ],
      );
      return rows[0] ?? null;
    },

    async rotateSecret(id: string, secret: string): Promise<WebhookEndpointRow | null> {
      const { rows } = await db.query<WebhookEndpointRow>(
        'UPDATE webhook_endpoints SET secret = $2, updated_at = now() WHERE id = $1 RETURNING *',
        [id, secret],
      );
      return rows[0] ?? null;
    },

    /** Deletes the endpoint with its deliveries: a delivery still retrying finds itself gone and stops. */
    async delete(id: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    },

    /** The endpoints of gilfoyle.yml, as declared now: added or updated, and those no longer declared removed. */
    async syncDeclared(
      endpoints: readonly { url: string; secret: string; events?: string[] | undefined; description: string }[],
    ): Promise<void> {
      await inTransaction(db, async (c) => {
        const ids = endpoints.map((e) => declaredEndpointId(e.url));
        await c.query('DELETE FROM webhook_endpoints WHERE declared AND NOT (id = ANY($1::uuid[]))', [ids]);
        for (const [i, e] of endpoints.entries())
          await c.query(
            `INSERT INTO webhook_endpoints (id, url, events, description, secret, declared)
             VALUES ($1, $2, $3, $4, $5, true)
             ON CONFLICT (id) DO UPDATE SET url = $2, events = $3, description = $4, secret = $5, declared = true,
               updated_at = now()`,
            [ids[i], e.url, e.events ?? null, e.description, e.secret],
          );
      });
    },

    async enabledEndpoints(): Promise<WebhookEndpointRow[]> {
      const { rows } = await db.query<WebhookEndpointRow>('SELECT * FROM webhook_endpoints WHERE enabled');
      return rows;
    },

    /**
     * The delivery of one event to one endpoint, made once: an event relayed again finds the one
     * it made before (same id, so the same `webhook-id`), with its status.
     */
    async ensureDelivery(d: {
      id: string;
      endpointId: string;
      eventId: string;
      type: string;
      mediaId: string | null;
      body: string;
    }): Promise<WebhookDeliveryRow | null> {
      const { rows } = await db.query<WebhookDeliveryRow>(
        `WITH made AS (
           INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, media_id, body)
           SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $2)
           ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING *)
         SELECT * FROM made
         UNION ALL
         SELECT * FROM webhook_deliveries WHERE endpoint_id = $2 AND event_id = $3 AND NOT EXISTS (SELECT 1 FROM made)`,
        [d.id, d.endpointId, d.eventId, d.type, d.mediaId, d.body],
      );
      return rows[0] ?? null;
    },

    /** A delivery with its endpoint (null when either is gone). */
    async delivery(id: string): Promise<{ delivery: WebhookDeliveryRow; endpoint: WebhookEndpointRow } | null> {
      const { rows } = await db.query<{ d: WebhookDeliveryRow; e: WebhookEndpointRow }>(
        `SELECT row_to_json(d) AS d, row_to_json(e) AS e FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? { delivery: row.d, endpoint: row.e } : null;
    },

    /**
     * One attempt and its answer. A 2xx delivers it and clears the endpoint's failures; anything
     * else starts (or continues) the endpoint's failing time. Returns how long, in seconds, the
     * endpoint has been failing (0 once it answered), or null when the delivery is gone.
     */
    async recordAttempt(
      deliveryId: string,
      a: { startedAt: Date; durationMs: number; statusCode: number | null; error: string | null; ok: boolean },
    ): Promise<{ failingSeconds: number } | null> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<{ endpoint_id: string }>(
          `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $2, last_error = $3,
             status = CASE WHEN $4 THEN 'delivered' ELSE status END,
             delivered_at = CASE WHEN $4 THEN now() ELSE delivered_at END, updated_at = now()
           WHERE id = $1 RETURNING endpoint_id`,
          [deliveryId, a.statusCode, a.error, a.ok],
        );
        const endpointId = rows[0]?.endpoint_id;
        if (!endpointId) return null;
        await c.query(
          'INSERT INTO webhook_attempts (delivery_id, started_at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5)',
          [deliveryId, a.startedAt, a.durationMs, a.statusCode, a.error],
        );
        const { rows: e } = await c.query<{ failing: number }>(
          `UPDATE webhook_endpoints SET failing_since = CASE WHEN $2 THEN NULL ELSE coalesce(failing_since, $3) END
           WHERE id = $1 RETURNING coalesce(extract(epoch FROM now() - failing_since), 0)::float8 AS failing`,
          [endpointId, a.ok, a.startedAt],
        );
        return { failingSeconds: e[0]?.failing ?? 0 };
      });
    },

    /** The delivery's window ended without a 2xx. */
    async markFailed(deliveryId: string, reason: string): Promise<void> {
      await db.query(
        `UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, $2), updated_at = now()
         WHERE id = $1 AND status = 'pending'`,
        [deliveryId, reason],
      );
    },

    /**
     * Disables an endpoint that has failed too long, once, with a webhook.disabled event on the
     * exchange (delivered to the other endpoints that ask for it). False when it already was.
     */
    async disable(endpointId: string, reason: string): Promise<boolean> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<WebhookEndpointRow>(
          `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
           WHERE id = $1 AND enabled RETURNING *`,
          [endpointId, reason],
        );
        const e = rows[0];
        if (!e) return false;
        await addToOutbox(c, topics.mediaEvent, {
          id: `evt_disabled_${e.id}_${Date.now()}`,
          type: 'webhook.disabled',
          mediaId: null,
          level: 'warn',
          message: `webhook endpoint ${e.url} disabled: ${reason}`,
          data: { webhook: { id: e.id, url: e.url, reason } },
          createdAt: new Date().toISOString(),
        });
        return true;
      });
    },

    async listDeliveries(
      endpointId: string,
      limit: number,
      offset: number,
    ): Promise<{ items: (WebhookDeliveryRow & { attempt_list: WebhookAttemptRow[] })[]; total: number }> {
      const [items, total] = await Promise.all([
        db.query<WebhookDeliveryRow & { attempt_list: WebhookAttemptRow[] }>(
          `SELECT d.*, coalesce((SELECT json_agg(a ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')
             AS attempt_list
           FROM webhook_deliveries d WHERE endpoint_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
          [endpointId, limit, offset],
        ),
        db.query<{ count: string }>('SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1', [endpointId]),
      ]);
      return { items: items.rows, total: Number(total.rows[0]!.count) };
    },

    /** Sends a delivery again (same id, same body): pending, and one more run. Null when it is not the endpoint's. */
    async redeliver(endpointId: string, deliveryId: string): Promise<WebhookDeliveryRow | null> {
      const { rows } = await db.query<WebhookDeliveryRow>(
        `UPDATE webhook_deliveries SET status = 'pending', runs = runs + 1, updated_at = now()
         WHERE id = $1 AND endpoint_id = $2 RETURNING *`,
        [deliveryId, endpointId],
      );
      return rows[0] ?? null;
    },
  };
}
export type WebhookRepository = ReturnType<typeof createWebhookRepository>;
