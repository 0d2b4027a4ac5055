import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppRouter } from '../create-app.ts';
import type { AppEnv } from '../deps.ts';

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['Health'],
  security: [],
  summary: 'Prometheus metrics: HTTP, uploads, medias by status, outbox backlog, and (in `gilfoyle all`) encodes, activities and the bridge',
  responses: {
    200: {
      description: 'Prometheus text exposition format',
      content: {
        'text/plain': {
          schema: z.string().openapi({ example: 'gilfoyle_medias{status="Ready"} 12\ngilfoyle_outbox_backlog 0\n' }),
        },
      },
    },
    404: { description: 'Metrics are disabled (metrics.enabled: false)' },
  },
});

/** Counts and times every answered request by its route pattern (bounded labels, never the raw path). */
export const httpMetrics: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  const { metrics } = c.var.deps;
  const route = c.req.routePath && c.req.routePath !== '*' && c.req.routePath !== '/*' ? c.req.routePath : 'unmatched';
  const labels = { method: c.req.method, route, status: String(c.res.status) };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
};

export function registerMetricsRoutes(app: AppRouter) {
  app.openAPIRegistry.registerPath(metricsRoute);
  app.get('/metrics', async (c) => {
    const { metrics, config } = c.var.deps;
    if (!config.metrics.enabled) return c.json({ code: 404, message: 'metrics are disabled (metrics.enabled: false)' }, 404);
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  });
}
