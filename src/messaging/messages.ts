import { z } from 'zod';

/** Published when a media's source is stored and the media is ScheduledProcessing. */
export const mediaUploadedMessage = z.strictObject({
  mediaId: z.uuid(),
  sourceKey: z.string().min(1),
  kind: z.enum(['video', 'audio']),
  /** Upload from URL: fetch the source from here before processing. */
  url: z.url({ protocol: /^https?$/ }).optional(),
});
export type MediaUploadedMessage = z.infer<typeof mediaUploadedMessage>;
export const mediaUploadedTopic = 'media.uploaded';
