import type { AppRouter } from '../create-app.ts';
import { uploadCompleteHandler, uploadFromUrlHandler, uploadHandler, uploadUrlHandler } from './uploads.handlers.ts';
import { uploadAudio, uploadComplete, uploadFromUrl, uploadUrl, uploadVideo } from './uploads.routes.ts';

export function registerUploadRoutes(app: AppRouter) {
  // Multipart uploads are documented from their route definitions but handled without the
  // validator, which would buffer the whole body: the handler streams it instead.
  app.openAPIRegistry.registerPath(uploadVideo);
  app.openAPIRegistry.registerPath(uploadAudio);
  app.post('/medias/:id/upload/video', uploadHandler('video'));
  app.post('/medias/:id/upload/audio', uploadHandler('audio'));

  app.openapi(uploadUrl, async (c) => {
    const { id } = c.req.valid('param');
    return c.json({ code: 200, data: await uploadUrlHandler(c, id, c.req.valid('json')) }, 200);
  });
  app.openapi(uploadFromUrl, async (c) => {
    const { id } = c.req.valid('param');
    return uploadFromUrlHandler(c, id, c.req.valid('json'));
  });
  app.openapi(uploadComplete, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.header('content-type')?.includes('json') ? c.req.valid('json') : { kind: 'video' as const };
    return uploadCompleteHandler(c, id, body.kind ?? 'video');
  });
}
