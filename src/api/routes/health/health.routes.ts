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
