import { createRoute, z } from '@hono/zod-openapi';

export const metricsRoute = createRoute({
  operationId: 'getMetrics',
  method: 'get',
  path: '/metrics',
  tags: ['Health'],
  security: [],
  summary:
    'Prometheus metrics: HTTP, uploads, medias by status, outbox backlog, and (in `gilfoyle all`) encodes, activities and the bridge',
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
