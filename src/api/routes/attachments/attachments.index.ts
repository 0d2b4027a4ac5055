import type { AppRouter } from '../../router.ts';
import * as handlers from './attachments.handlers.ts';
import * as routes from './attachments.routes.ts';

export function registerAttachmentRoutes(app: AppRouter) {
  app.openapi(routes.listAttachments, handlers.listAttachments);
  // Documented from its definition, handled without the validator (which would buffer the body).
  app.openAPIRegistry.registerPath(routes.createAttachment);
  app.post('/medias/:id/attachments', handlers.createAttachment);
  app.openAPIRegistry.registerPath(routes.createAttachmentWithKey);
  app.post('/medias/:id/attachments/:key', handlers.createAttachment);
  app.openapi(routes.getAttachment, handlers.getAttachment);
  app.openapi(routes.deleteAttachment, handlers.deleteAttachment);
}
