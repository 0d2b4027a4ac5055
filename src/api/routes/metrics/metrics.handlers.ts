import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../deps.ts';

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

/** The Prometheus exposition of this process's registry. */
export async function scrape(c: Context<AppEnv>) {
  const { metrics, config } = c.var.deps;
  if (!config.metrics.enabled)
    return c.json({ code: 404, message: 'metrics are disabled (metrics.enabled: false)' }, 404);
  return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
}
