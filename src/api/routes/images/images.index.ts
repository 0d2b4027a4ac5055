import { animatedFormats, thumbnailFormats } from '../../../domain/images.ts';
import type { AppRouter } from '../../router.ts';
import { animated, thumbnail } from './images.handlers.ts';
import { animatedRoutes, thumbnailRoutes } from './images.routes.ts';

export function registerImageRoutes(app: AppRouter) {
  thumbnailFormats.forEach((format, i) => app.openapi(thumbnailRoutes[i]!, thumbnail(format)));
  animatedFormats.forEach((format, i) => app.openapi(animatedRoutes[i]!, animated(format)));
}
