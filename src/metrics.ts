import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/**
 * Gilfoyle's Prometheus metrics (prom-client), one registry per process. The API serves them
 * at /metrics; a worker or bridge process without the API serves them on metrics.port.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'gilfoyle_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'gilfoyle_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (headers sent), by route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    }),
    imagesRendered: new Counter({
      name: 'gilfoyle_images_rendered_total',
      help: 'Images on demand rendered by ffmpeg (thumbnail, animated); a stored one served again does not count',
      labelNames: ['kind'] as const,
      registers,
    }),
    uploads: new Counter({
      name: 'gilfoyle_uploads_total',
      help: 'Sources received and scheduled for processing, by kind and way (multipart, tus, url, direct)',
      labelNames: ['kind', 'via'] as const,
      registers,
    }),
    uploadBytes: new Counter({
      name: 'gilfoyle_upload_bytes_total',
      help: 'Bytes of the sources received (uploads from URL count once fetched, on the worker)',
      labelNames: ['kind', 'via'] as const,
      registers,
    }),
    encodeDuration: new Histogram({
      name: 'gilfoyle_encode_duration_seconds',
      help: 'Wall time of one successful rendition encode (ffmpeg), by rendition and codec',
      labelNames: ['rendition', 'codec'] as const,
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    encodeRealtime: new Histogram({
      name: 'gilfoyle_encode_realtime_factor',
      help: 'Seconds of media encoded per second of wall time, by rendition and codec (above 1 is faster than real time)',
      labelNames: ['rendition', 'codec'] as const,
      buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    activityFailures: new Counter({
      name: 'gilfoyle_activity_failures_total',
      help: 'Temporal activity attempts that failed, by activity and failure type',
      labelNames: ['activity', 'type'] as const,
      registers,
    }),
    activityRetries: new Counter({
      name: 'gilfoyle_activity_retries_total',
      help: 'Temporal activity attempts after the first, by activity',
      labelNames: ['activity'] as const,
      registers,
    }),
    bridgeMessages: new Counter({
      name: 'gilfoyle_bridge_messages_total',
      help: 'Messages the bridge consumed, by what became of them (started, already_started, requeued, dead_lettered)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    /** A gauge read from somewhere (Postgres) each time /metrics is scraped. */
    gaugeFrom<L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      read: (set: (labels: Record<L, string>, value: number) => void) => Promise<void>,
    ) {
      return new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          // A source that does not answer (Postgres down) leaves the gauge empty; /metrics still answers.
          await read((labels, value) => this.set(labels, value)).catch(() => undefined);
        },
      });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The pipeline's state, read from Postgres at each scrape: medias by status, the outbox backlog. */
export function registerStateGauges(
  metrics: Metrics,
  state: { countByStatus(): Promise<Record<string, number>>; backlog(): Promise<number> },
) {
  metrics.gaugeFrom('gilfoyle_medias', 'Medias by status', ['status'], async (set) => {
    for (const [status, n] of Object.entries(await state.countByStatus())) set({ status }, n);
  });
  metrics.gaugeFrom('gilfoyle_outbox_backlog', 'Outbox messages not yet published to RabbitMQ', [], async (set) =>
    set({}, await state.backlog()),
  );
}

/** What a process without the API says of itself at /healthz: its roles, and whether it is stopping. */
export interface ProcessHealth {
  roles: string[];
  version: string;
  stopping(): boolean;
}

/**
 * /metrics and /healthz on their own port, for processes that run no API (a worker or bridge
 * machine). /healthz answers 200 while the process runs and 503 once it is draining, so an
 * orchestrator's probe sees the stop begin.
 */
export async function serveMetrics(
  metrics: Metrics,
  host: string,
  port: number,
  logger: Logger,
  health: ProcessHealth,
): Promise<Server | null> {
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      const stopping = health.stopping();
      json(res, stopping ? 503 : 200, {
        status: stopping ? 'stopping' : 'ok',
        roles: health.roles,
        version: health.version,
      });
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      json(res, 404, { code: 404, message: 'only /metrics and /healthz here' });
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => json(res, 503, { code: 503, message: err.message }),
    );
  });
  return new Promise((resolve) => {
    server.once('error', (err) => {
      logger.warn({ err: err.message, port }, 'metrics not served: cannot listen');
      resolve(null);
    });
    server.listen(port, host, () => {
      logger.info({ url: `http://${host}:${port}/metrics` }, 'metrics listening');
      resolve(server);
    });
  });
}
