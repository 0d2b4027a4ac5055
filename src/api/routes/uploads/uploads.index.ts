import type { Context } from 'hono';
import type { AppEnv } from '../../deps.ts';
import { errorBody } from '../../envelope.ts';
import type { AppRouter } from '../../router.ts';
import type { TusUploads } from './tus.ts';
import { completeUpload, createUploadUrl, uploadFromUrl, uploadMultipart } from './uploads.handlers.ts';
import * as routes from './uploads.routes.ts';

export function registerUploadRoutes(app: AppRouter, tus: TusUploads) {
  // Multipart uploads are documented from their route definitions but handled without the
  // validator, which would buffer the whole body: the handler streams it instead.
  app.openAPIRegistry.registerPath(routes.uploadVideo);
  app.openAPIRegistry.registerPath(routes.uploadAudio);
  app.post('/medias/:id/upload/video', uploadMultipart('video'));
  app.post('/medias/:id/upload/audio', uploadMultipart('audio'));
  app.openapi(routes.uploadUrl, createUploadUrl);
  app.openapi(routes.uploadFromUrl, uploadFromUrl);
  app.openapi(routes.uploadComplete, completeUpload);

  // Resumable uploads: @tus/server answers every tus method; the document shows the creation.
  const handle = (c: Context<AppEnv>) => {
    // tus answers a request without its protocol header 412, as for a version it does not speak;
    // a missing header is a malformed request.
    if (c.req.method !== 'OPTIONS' && c.req.method !== 'GET' && !c.req.header('tus-resumable')) {
      return c.json(errorBody(400, 'missing header Tus-Resumable: 1.0.0 (a tus client sends it)'), 400);
    }
    return tus.handle(c);
  };
  for (const p of ['/medias/:id/tus', '/medias/:id/tus/:uploadId']) {
    // Hono routes HEAD through GET handlers; tus answers HEAD (offset) and refuses GET.
    app.on(['POST', 'GET', 'HEAD', 'PATCH', 'OPTIONS', 'DELETE'], p, handle);
  }
  app.openAPIRegistry.registerPath(routes.tusCreate);
}
