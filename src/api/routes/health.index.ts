import { createRoute, z, type RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../deps.ts';
import type { AppRouter } from '../create-app.ts';
import { envelope } from '../envelope.ts';

const healthSchema = z
  .object({
    status: z.enum(['up', 'degraded']),
    version: z.string(),
    storage_driver: z.string(),
    max_file_size: z.number().int().openapi({ description: 'bytes' }),
    dependencies: z.record(z.string(), z.enum(['up', 'down'])),
  })
  .openapi('Health');

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['Health'],
  security: [],
  summary: "Version, storage driver, max file size, and each dependency's state",
  responses: {
    200: { description: 'Every dependency answers', content: { 'application/json': { schema: envelope(healthSchema) } } },
    503: { description: 'A dependency is down', content: { 'application/json': { schema: envelope(healthSchema) } } },
  },
});

const health: RouteHandler<typeof healthRoute, AppEnv> = async (c) => {
  const { config, version, checkDependencies } = c.var.deps;
  const dependencies = await checkDependencies();
  const up = Object.values(dependencies).every((s) => s === 'up');
  const data = {
    status: up ? ('up' as const) : ('degraded' as const),
    version,
    storage_driver: config.storage.driver,
    max_file_size: config.settings.max_file_size,
    dependencies,
  };
  return up ? c.json({ code: 200, data }, 200) : c.json({ code: 503, data }, 503);
};

export function registerHealthRoutes(app: AppRouter) {
  app.openapi(healthRoute, health);
}
