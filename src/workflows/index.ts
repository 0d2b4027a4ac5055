export { processMedia } from './process-media.ts';
export { encodeRenditionInChunks } from './encode-in-chunks.ts';
