import { createRoute, z } from '@hono/zod-openapi';
import { envelope } from '../../envelope.ts';

const healthSchema = z
  .object({
    status: z.enum(['up', 'degraded']),
    version: z.string(),
    storage_driver: z.string(),
    max_file_size: z.number().int().openapi({ description: 'bytes' }),
    dependencies: z.record(z.string(), z.enum(['up', 'down'])),
    commit: z.string().openapi({ description: 'the commit this build is made from' }),
    tag: z.string().openapi({ description: 'the release tag', example: 'v0.1.0' }),
    database_dialect: z.literal('postgres'),
    debug: z.boolean().openapi({ description: 'whether the log level is debug or trace' }),
  })
  .openapi('Health');

const readinessSchema = z
  .object({ status: z.enum(['ready', 'draining']) })
  .openapi('Readiness', { description: 'draining: the process is shutting down; send requests elsewhere' });

/** A load balancer's readiness probe: 503 as soon as the process begins to shut down. */
export const readinessRoute = createRoute({
  operationId: 'getReadiness',
  method: 'get',
  path: '/readyz',
  tags: ['Health'],
  security: [],
  summary: 'Whether this API process takes new requests (503 once it is shutting down)',
  responses: {
    200: { description: 'Serving', content: { 'application/json': { schema: envelope(readinessSchema) } } },
    503: {
      description: 'Shutting down: requests in flight and arriving are still answered for shutdown.unready_seconds',
      content: { 'application/json': { schema: envelope(readinessSchema) } },
    },
  },
});

export const healthRoute = createRoute({
  operationId: 'getHealth',
  method: 'get',
  path: '/healthz',
  tags: ['Health'],
  security: [],
  summary: "Version, storage driver, max file size, and each dependency's state",
  responses: {
    200: {
      description: 'Every dependency answers',
      content: { 'application/json': { schema: envelope(healthSchema) } },
    },
    503: { description: 'A dependency is down', content: { 'application/json': { schema: envelope(healthSchema) } } },
  },
});
