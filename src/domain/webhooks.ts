import { z } from 'zod';

/**
 * Media events as they leave Gilfoyle: on the RabbitMQ topic exchange (routing key = type), and
 * to webhook endpoints. Pure rules shared by the API, the dispatcher and the delivery workflow.
 */

/** The event types a webhook endpoint can ask for (every media event goes to the exchange). */
export const webhookEventTypes = [
  'media.created',
  'media.uploaded',
  'media.processing',
  'media.playable',
  'media.ready',
  'media.errored',
  'media.cancelled',
  'media.retry',
  'media.deleted',
  'rendition.ready',
  'attachment.created',
  'attachment.deleted',
  'webhook.disabled',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

const catalog = new Set<string>(webhookEventTypes);
export const isWebhookEventType = (type: string): type is WebhookEventType => catalog.has(type);

/** The prefixes an endpoint may ask for: each family of the catalog ("media.*"), or "*" for all. */
const prefixes = [...new Set(webhookEventTypes.map((t) => `${t.split('.')[0]}.*`))];
const escape = (s: string) => s.replace(/[.*]/g, (c) => `\\${c}`);

/** An `events` entry: a type of the catalog, a prefix such as media.*, or "*". One pattern, so the OpenAPI document says it too. */
export const eventFilterEntry = z
  .string()
  .regex(
    new RegExp(`^(${['*', ...prefixes, ...webhookEventTypes].map(escape).join('|')})$`),
    `an event type (${webhookEventTypes.join(', ')}) or a prefix (${prefixes.join(', ')}, *)`,
  );

/** Whether an endpoint asking for `events` (null: every type) gets an event of `type`. */
export function wantsEvent(events: readonly string[] | null, type: string): boolean {
  if (!isWebhookEventType(type)) return false;
  if (!events) return true;
  return events.some((e) => e === '*' || e === type || (e.endsWith('.*') && type.startsWith(e.slice(0, -1))));
}

/** A media event on the exchange: what the outbox carries and the relay publishes. */
export const mediaEventMessage = z.object({
  /** Unique per event: `evt_<media event id>` (or a made-up one for an event with no row, media.deleted). */
  id: z.string().min(1),
  type: z.string().min(1),
  mediaId: z.uuid().nullable(),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
  data: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  /** The media as it was, for an event whose media is gone (media.deleted): the row, as the database has it. */
  media: z.record(z.string(), z.unknown()).optional(),
});
export type MediaEventMessage = z.infer<typeof mediaEventMessage>;

/** Standard Webhooks signing secrets: `whsec_` and 32 random bytes, base64. */
export const secretPrefix = 'whsec_';
/** The secret as lists show it: enough to tell two apart, not enough to sign. */
export const maskSecret = (secret: string) => `${secret.slice(0, secretPrefix.length + 4)}…`;

/** The Temporal workflow that delivers one delivery, with its attempts and backoff. */
export const deliverWebhookWorkflowType = 'deliverWebhook';
export const deliveryWorkflowIdOf = (deliveryId: string, run: number) =>
  run <= 1 ? `webhook-${deliveryId}` : `webhook-${deliveryId}-${run}`;

export interface DeliverySchedule {
  /** First wait after a failed attempt; each next one doubles, up to maxBackoffSeconds, with jitter. */
  initialBackoffSeconds: number;
  maxBackoffSeconds: number;
  /** Past this much time since the first attempt, the delivery is marked failed. */
  windowSeconds: number;
  /** Longest an attempt may take, its answer's timeout included: past it, a worker that died mid-send is given up on. */
  attemptTimeoutSeconds: number;
}

/**
 * The wait before attempt `attempt + 1` (attempt ≥ 1 failed): exponential, capped, and a random
 * part (`random` in [0, 1)) so that many deliveries failing at once do not retry at once.
 */
export function backoffSeconds(s: DeliverySchedule, attempt: number, random: number): number {
  const full = Math.min(s.maxBackoffSeconds, s.initialBackoffSeconds * 2 ** Math.min(attempt - 1, 30));
  return full / 2 + (full / 2) * random;
}

export interface DeliverWebhookInput {
  deliveryId: string;
  schedule: DeliverySchedule;
  /**
   * Attempts already made before the workflow started (the dispatcher makes the first one itself,
   * so a receiver that answers at once never waits for Temporal): the workflow begins by waiting
   * out the backoff after the last of them. Absent in workflows started before this field.
   */
  attemptsMade?: number;
}

/** How one attempt is sent, from webhooks.* and settings.url_fetch. */
export interface WebhookSending {
  timeoutMs: number;
  /** An endpoint whose every attempt failed for this long is disabled. */
  disableAfterSeconds: number;
  /** As for URL uploads (settings.url_fetch.allow_private_addresses). */
  allowPrivateAddresses: boolean;
  userAgent: string;
}
