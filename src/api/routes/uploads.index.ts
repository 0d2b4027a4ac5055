import type { AppRouter } from '../create-app.ts';
import { uploadHandler } from './uploads.handlers.ts';
import { uploadAudio, uploadVideo } from './uploads.routes.ts';

/**
 * Uploads are documented from their route definitions but handled without the validator,
 * which would buffer the whole multipart body: the handler streams it instead.
 */
export function registerUploadRoutes(app: AppRouter) {
  app.openAPIRegistry.registerPath(uploadVideo);
  app.openAPIRegistry.registerPath(uploadAudio);
  app.post('/medias/:id/upload/video', uploadHandler('video'));
  app.post('/medias/:id/upload/audio', uploadHandler('audio'));
}
