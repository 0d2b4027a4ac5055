import { SpanStatusCode } from '@opentelemetry/api';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { HttpError } from '../domain/errors.ts';
import { isDatabaseUnavailable } from '../db/pool.ts';
import { StorageUnavailableError } from '../storage/driver.ts';
import { contextFrom, inSpan, SpanKind } from '../tracing.ts';
import type { AppDeps } from './deps.ts';
import { corsByPath } from './security/cors.ts';
import { apiKeys, concurrentUploads, jsonBodyLimit, uploadRateLimit } from './security/access.ts';
import { errorBody } from './envelope.ts';
import { createRouter } from './router.ts';
import { registerAdminRoutes } from './routes/admin/admin.index.ts';
import { registerAttachmentRoutes } from './routes/attachments/attachments.index.ts';
import { registerDocsRoutes } from './routes/docs/docs.index.ts';
import { registerImageRoutes } from './routes/images/images.index.ts';
import { registerHealthRoutes } from './routes/health/health.index.ts';
import { registerMediaRoutes } from './routes/medias/medias.index.ts';
import { httpMetrics } from './routes/metrics/metrics.handlers.ts';
import { registerMetricsRoutes } from './routes/metrics/metrics.index.ts';
import { registerStreamRoutes } from './routes/stream/stream.index.ts';
import { createTusUploads } from './routes/uploads/tus.ts';
import { registerUploadRoutes } from './routes/uploads/uploads.index.ts';
import { registerWebhookRoutes } from './routes/webhooks/webhooks.index.ts';

const untraced = /\/stream\/|^\/(healthz|readyz|metrics)$|^\/admin\/assets\//;
const mediaInPath = /^\/medias\/([0-9a-f-]{36})(?:\/|$)/i;
const dotSegment = /(^|\/)(\.|%2e){1,2}(\/|$)/i;
export const hasDotSegment = (rawUrl: string) => dotSegment.test(rawUrl.split('?')[0]!);

/** Builds the HTTP API around its dependencies. */
export function createApp(deps: AppDeps) {
  const app = createRouter();
  // A span per request (stream fetches, probes and scrapes aside), continuing a caller's traceparent:
  // an upload's span is where its media's trace begins.
  if (deps.config.tracing.otlp_endpoint)
    app.use('*', async (c, next) => {
      if (untraced.test(c.req.path)) return next();
      await inSpan(
        `${c.req.method} ${c.req.path}`,
        {
          kind: SpanKind.SERVER,
          parent: contextFrom(c.req.header()),
          attributes: { 'http.request.method': c.req.method },
        },
        async (span) => {
          await next();
          const route = c.req.routePath;
          if (route && route !== '*' && route !== '/*') span.updateName(`${c.req.method} ${route}`);
          const mediaId = mediaInPath.exec(c.req.path)?.[1];
          span.setAttributes({
            'http.route': route,
            'url.path': c.req.path,
            'http.response.status_code': c.res.status,
            ...(mediaId ? { 'media.id': mediaId } : {}),
          });
          if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        },
      );
    });
  app.use('*', requestId());
  // A process that is shutting down still answers, and closes each connection after its answer:
  // keep-alive clients reconnect, through the load balancer, to a process that stays.
  if (deps.draining)
    app.use('*', async (c, next) => {
      await next();
      if (deps.draining?.()) c.header('Connection', 'close');
    });
  app.use('*', corsByPath(deps.config.cors));
  app.use('*', async (c, next) => {
    // Every log line of a request carries its id (X-Request-Id, kept from the client or made
    // here), and the media's id when the path names one.
    const mediaId = mediaInPath.exec(c.req.path)?.[1];
    const logger = deps.logger.child({ reqId: c.var.requestId, ...(mediaId ? { mediaId } : {}) });
    c.set('deps', { ...deps, logger });
    // URL parsing resolves "..", "%2e%2e" before routing; refuse such paths rather than
    // answer for whatever they resolve to.
    const rawUrl = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
    if (rawUrl && hasDotSegment(rawUrl)) return c.json(errorBody(404, 'no such path'), 404);
    await next();
    const fields = { method: c.req.method, path: c.req.path, status: c.res.status };
    // Segment and playlist fetches are many: per-request lines for them only at debug level.
    // The logger of the request as it ended (the API key's name is added once it is checked).
    const log = c.var.deps.logger;
    if (c.req.method === 'GET' && c.req.path.includes('/stream/')) log.debug(fields, 'request');
    else log.info(fields, 'request');
  });
  app.use('*', httpMetrics);
  app.use('*', apiKeys(deps.config.auth));
  app.use('*', jsonBodyLimit(deps.config.limits.json_body));
  // Starting an upload counts against the key's rate; streaming one holds a slot of the process.
  const rate = uploadRateLimit(deps.config.auth, deps.config.server.trusted_proxies);
  const slots = concurrentUploads(deps.config.limits.concurrent_uploads);
  for (const p of ['/medias/:id/upload/video', '/medias/:id/upload/audio']) app.post(p, rate, slots);
  for (const p of ['/medias/:id/upload-url', '/medias/:id/upload/url', '/medias/:id/tus']) app.post(p, rate);
  app.patch('/medias/:id/tus/:uploadId', slots);

  registerHealthRoutes(app);
  registerMetricsRoutes(app);
  registerMediaRoutes(app);
  const tus = createTusUploads(deps);
  registerUploadRoutes(app, tus);
  registerStreamRoutes(app);
  registerAttachmentRoutes(app);
  registerImageRoutes(app);
  registerWebhookRoutes(app);
  registerDocsRoutes(app);
  registerAdminRoutes(app);

  // The document describes this server: API keys are required only when some are configured.
  const keyed = deps.config.auth.api_keys.length > 0;
  if (keyed) {
    app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
      type: 'http',
      scheme: 'bearer',
      description:
        'One of auth.api_keys. /healthz and /metrics (unless configured otherwise) and the stream routes need none.',
    });
  }
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    ...(keyed ? { security: [{ apiKey: [] }] } : {}),
    info: {
      title: 'Gilfoyle',
      version: deps.version,
      description: 'Self-hosted media server: create a media, upload a file, stream it as HLS.',
    },
  });

  // A path the API has, asked with a method it does not take: 405 with the methods it does.
  const routes = app.openAPIRegistry.definitions.flatMap((d) =>
    d.type === 'route'
      ? [{ method: d.route.method.toUpperCase(), path: new RegExp(`^${d.route.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }]
      : [],
  );
  app.notFound((c) => {
    const allowed = [...new Set(routes.filter((r) => r.path.test(c.req.path)).map((r) => r.method))];
    if (allowed.length) {
      if (allowed.includes('GET')) allowed.push('HEAD');
      return c.json(errorBody(405, `${c.req.method} is not allowed on ${c.req.path}: ${allowed.join(', ')}`), 405, {
        Allow: allowed.join(', '),
      });
    }
    return c.json(errorBody(404, `no route for ${c.req.method} ${c.req.path}`), 404);
  });
  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.status, err.message), err.status);
    if (err instanceof StorageUnavailableError) {
      (c.var.deps ?? deps).logger.warn({ err: err.message, path: c.req.path }, 'storage unavailable');
      return c.json(errorBody(503, `storage is unavailable: ${err.message}`), 503);
    }
    if (isDatabaseUnavailable(err)) {
      (c.var.deps ?? deps).logger.warn({ err: (err as Error).message, path: c.req.path }, 'database unavailable');
      return c.json(errorBody(503, 'the database is unavailable: try again shortly'), 503, { 'Retry-After': '5' });
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const message = status === 400 && /JSON/i.test(err.message) ? `invalid JSON body: ${err.message}` : err.message;
      return c.json(errorBody(status, message || 'request failed'), status);
    }
    (c.var.deps ?? deps).logger.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return c.json(errorBody(500, 'internal error'), 500);
  });
  return Object.assign(app, { tus });
}
