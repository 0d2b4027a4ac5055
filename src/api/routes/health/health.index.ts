import type { AppRouter } from '../../router.ts';
import { health, readiness } from './health.handlers.ts';
import { healthRoute, readinessRoute } from './health.routes.ts';

export function registerHealthRoutes(app: AppRouter) {
  app.openapi(healthRoute, health);
  app.openapi(readinessRoute, readiness);
}
