import type { AppRouter } from '../../router.ts';
import * as handlers from './medias.handlers.ts';
import * as routes from './medias.routes.ts';

export function registerMediaRoutes(app: AppRouter) {
  app
    .openapi(routes.listMedias, handlers.listMedias)
    .openapi(routes.createMedia, handlers.createMedia)
    .openapi(routes.getMedia, handlers.getMedia)
    .openapi(routes.updateMedia, handlers.updateMedia)
    .openapi(routes.deleteMedia, handlers.deleteMedia)
    .openapi(routes.listEvents, handlers.listEvents)
    .openapi(routes.streamEvents, handlers.streamEvents)
    .openapi(routes.listRenditions, handlers.listRenditions)
    .openapi(routes.retryMedia, handlers.retryMedia)
    .openapi(routes.cancelMedia, handlers.cancelMedia)
    .openapi(routes.createPlaybackToken, handlers.createPlaybackToken)
    .openapi(routes.getSource, handlers.getSource);
}
