export { processMedia } from './process-media.ts';
