import type { AppRouter } from '../../router.ts';
import { scrape } from './metrics.handlers.ts';
import { metricsRoute } from './metrics.routes.ts';

export function registerMetricsRoutes(app: AppRouter) {
  // Documented from its route, answered as plain text (not JSON) by its handler.
  app.openAPIRegistry.registerPath(metricsRoute);
  app.get('/metrics', scrape);
}
