import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { hostname } from 'node:os';
import { Resource } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Config } from './config/schema.ts';
import { version } from './version.ts';

/**
 * OpenTelemetry for one process. With `tracing.otlp_endpoint` set, spans are batched and sent over
 * OTLP/HTTP, and the W3C trace context travels with each media: the API request → its outbox row →
 * the RabbitMQ message's headers → the bridge → the workflow (Temporal headers) → each activity →
 * each ffmpeg run. Without it, nothing is registered and every span below is a no-op.
 */
export interface Tracing {
  /** For the workflow span sink (workflows make their spans in the sandbox and export them through it). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

const tracerName = 'gilfoyle';
export const tracer = () => trace.getTracer(tracerName, version);

/** service.name is `<service_name>-<role>` (gilfoyle-api, gilfoyle-worker, … or gilfoyle-all), so Jaeger lists the roles. */
export function startTracing(config: Config['tracing'], roles: string[]): Tracing {
  const role = roles.length === 1 ? roles[0]! : 'all';
  const resource = new Resource({
    'service.name': `${config.service_name}-${role}`,
    'service.namespace': config.service_name,
    'service.version': version,
    'service.instance.id': `${process.pid}@${hostname()}`,
    'gilfoyle.roles': roles.join(','),
  });
  if (!config.otlp_endpoint) {
    return { spanProcessor: new NoopSpanProcessor(), resource, shutdown: async () => undefined };
  }
  const exporter = new OTLPTraceExporter({ url: `${config.otlp_endpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [spanProcessor],
  });
  // The AsyncLocalStorage context manager and the W3C propagator (traceparent, tracestate).
  provider.register();
  return {
    spanProcessor,
    resource,
    shutdown: () => provider.shutdown().catch(() => undefined),
  };
}

/** The active trace context as W3C headers (empty when there is none): for an outbox row or a message. */
export function traceHeaders(from: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(from, carrier);
  return carrier;
}

/** The context carried by headers such as traceparent (a message's, a row's); the active one when none. */
export function contextFrom(headers: Record<string, unknown> | null | undefined): Context {
  if (!headers) return context.active();
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') carrier[k] = v;
  return propagation.extract(context.active(), carrier);
}

/**
 * Runs `fn` in a span named `name`, child of `parent` (the active context by default). The span
 * ends with the promise, and records an error it rejects with.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** trace_id and span_id of the active span, for log lines (pino's mixin). */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (!span || !isSpanContextValid(span.spanContext())) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

export { SpanKind };
