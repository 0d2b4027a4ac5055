import type { AppRouter } from '../../router.ts';
import { health } from './health.handlers.ts';
import { healthRoute } from './health.routes.ts';

export function registerHealthRoutes(app: AppRouter) {
  app.openapi(healthRoute, health);
}
