export { processMedia } from './process-media.ts';
export { encodeRenditionInChunks } from './encode-in-chunks.ts';
export { deliverWebhook } from './deliver-webhook.ts';
