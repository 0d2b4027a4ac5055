import { z } from '@hono/zod-openapi';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../../../db/webhooks.ts';
import { eventFilterEntry, maskSecret, webhookEventTypes } from '../../../domain/webhooks.ts';

export const webhookIdParams = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: '0b8f6f3e-8d7c-4a43-9a59-6f1f2c3d4e5f' }),
});
export const deliveryParams = webhookIdParams.extend({
  delivery_id: z
    .string()
    .regex(/^msg_[A-Za-z0-9_-]{1,64}$/, 'a delivery id (msg_…)')
    .openapi({ param: { name: 'delivery_id', in: 'path' }, example: 'msg_2b1PpQ3bXc9nVJ5mYk0aTg' }),
});

const url = z
  .url({ protocol: /^https?$/, error: 'url: an http or https URL' })
  .max(2048)
  .openapi({ example: 'https://example.com/gilfoyle-webhooks' });
const events = z
  .array(eventFilterEntry)
  .min(1)
  .max(32)
  .openapi({
    description: `event types, or prefixes such as media.*; absent or null: every type. Types: ${webhookEventTypes.join(', ')}`,
    example: ['media.ready', 'media.errored'],
  });
const description = z.string().max(500);

export const createWebhookBody = z
  .object({ url, events: events.optional(), description: description.optional(), enabled: z.boolean().optional() })
  .openapi('CreateWebhook');
export const updateWebhookBody = z
  .object({
    url: url.optional(),
    events: events.nullable().optional(),
    description: description.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'give url, events, description or enabled')
  .openapi('UpdateWebhook', { minProperties: 1 });

export const webhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()).nullable().openapi({ description: 'null: every type' }),
    enabled: z.boolean(),
    secret: z.string().openapi({
      description:
        'the Standard Webhooks signing secret (whsec_…): in full only when created and after rotate-secret, masked elsewhere',
    }),
    declared: z.boolean().openapi({ description: 'declared in gilfoyle.yml: changed there, not through the API' }),
    failing_since: z.string().nullable(),
    disabled_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Webhook');

const attemptSchema = z.object({
  started_at: z.string(),
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
});

export const deliverySchema = z
  .object({
    id: z.string().openapi({ description: 'the webhook-id header of every attempt' }),
    type: z.string(),
    media_id: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(attemptSchema),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .openapi('WebhookDelivery');

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export const toWebhookJson = (w: WebhookEndpointRow, showSecret = false): z.infer<typeof webhookSchema> => ({
  id: w.id,
  url: w.url,
  description: w.description,
  events: w.events,
  enabled: w.enabled,
  secret: showSecret ? w.secret : maskSecret(w.secret),
  declared: w.declared,
  failing_since: iso(w.failing_since),
  disabled_reason: w.disabled_reason,
  created_at: iso(w.created_at)!,
  updated_at: iso(w.updated_at)!,
});

export const toDeliveryJson = (
  d: WebhookDeliveryRow & { attempt_list?: WebhookAttemptRow[] },
): z.infer<typeof deliverySchema> => ({
  id: d.id,
  type: d.type,
  media_id: d.media_id,
  status: d.status,
  attempts: (d.attempt_list ?? []).map((a) => ({
    started_at: iso(a.started_at)!,
    duration_ms: a.duration_ms,
    status_code: a.status_code,
    error: a.error,
  })),
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  created_at: iso(d.created_at)!,
  delivered_at: iso(d.delivered_at),
});
