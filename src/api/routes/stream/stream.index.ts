import type { AppRouter } from '../../router.ts';
import { stream } from './stream.handlers.ts';
import { streamRoute } from './stream.routes.ts';

export function registerStreamRoutes(app: AppRouter) {
  // Documented from its route, handled without the validator: a file name is checked as a name, and Range is read raw.
  app.openAPIRegistry.registerPath(streamRoute);
  app.get('/medias/:id/stream/:path', stream);
}
