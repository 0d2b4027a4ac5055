import { z } from 'zod';
import type { MediaEventMessage } from './webhooks.ts';

/**
 * The messages Gilfoyle's parts exchange through the outbox and RabbitMQ, owned here, below
 * every layer that writes or reads them. Each has a topic: the outbox row's, and the routing
 * key it is published with; the relay decides from the topic where it goes.
 */
export const topics = {
  /** A media's source is stored and it is ScheduledProcessing: the bridge starts its workflow. */
  mediaUploaded: 'media.uploaded',
  /** Any media event (src/domain/webhooks.ts): published to the events exchange, routing key = its type. */
  mediaEvent: 'media.event',
} as const;
export type Topic = (typeof topics)[keyof typeof topics];

/** Published when a media's source is stored and the media is ScheduledProcessing. */
export const mediaUploadedMessage = z.strictObject({
  mediaId: z.uuid(),
  sourceKey: z.string().min(1),
  kind: z.enum(['video', 'audio']),
  /** Upload from URL: fetch the source from here before processing. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** A clip: cut the source from this range of the parent's source before processing. */
  clip: z.strictObject({ mediaId: z.uuid(), start: z.number().min(0), end: z.number().positive() }).optional(),
});
export type MediaUploadedMessage = z.infer<typeof mediaUploadedMessage>;

/** What each topic carries. */
export interface TopicMessages {
  [topics.mediaUploaded]: MediaUploadedMessage;
  [topics.mediaEvent]: MediaEventMessage;
}
