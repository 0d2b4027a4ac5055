import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../deps.ts';
import type { healthRoute, readinessRoute } from './health.routes.ts';

export const readiness: RouteHandler<typeof readinessRoute, AppEnv> = async (c) =>
  c.var.deps.draining?.()
    ? c.json({ code: 503, data: { status: 'draining' as const } }, 503)
    : c.json({ code: 200, data: { status: 'ready' as const } }, 200);

export const health: RouteHandler<typeof healthRoute, AppEnv> = async (c) => {
  const { config, version, commit, checkDependencies } = c.var.deps;
  const dependencies = await checkDependencies();
  const up = Object.values(dependencies).every((s) => s === 'up');
  const data = {
    status: up ? ('up' as const) : ('degraded' as const),
    version,
    storage_driver: config.storage.driver,
    max_file_size: config.settings.max_file_size,
    dependencies,
    // The v1 contract's fields.
    commit: commit ?? 'unknown',
    tag: `v${version}`,
    database_dialect: 'postgres' as const,
    debug: config.log.level === 'debug' || config.log.level === 'trace',
  };
  return up ? c.json({ code: 200, data }, 200) : c.json({ code: 503, data }, 503);
};
