import type { AppRouter } from '../../router.ts';
import * as handlers from './webhooks.handlers.ts';
import * as routes from './webhooks.routes.ts';

export function registerWebhookRoutes(app: AppRouter) {
  app
    .openapi(routes.createWebhook, handlers.createWebhook)
    .openapi(routes.listWebhooks, handlers.listWebhooks)
    .openapi(routes.getWebhook, handlers.getWebhook)
    .openapi(routes.updateWebhook, handlers.updateWebhook)
    .openapi(routes.deleteWebhook, handlers.deleteWebhook)
    .openapi(routes.rotateWebhookSecret, handlers.rotateWebhookSecret)
    .openapi(routes.listDeliveries, handlers.listDeliveries)
    .openapi(routes.redeliver, handlers.redeliver);
}
