import { pino, type Logger as PinoLogger } from 'pino';
import { traceFields } from './tracing.ts';

export type Logger = PinoLogger;

export interface LogOptions {
  /** Human-readable lines (pino-pretty) instead of JSON: for a terminal, not for log collectors. */
  pretty?: boolean;
  name?: string;
}

/** Structured JSON logs (pino); pretty-printed when asked, e.g. when the output is a terminal. */
export function createLogger(level: string, { pretty = false, name = 'gilfoyle' }: LogOptions = {}): Logger {
  return pino({
    name,
    level,
    // Lines written inside a span carry its trace_id and span_id.
    mixin: traceFields,
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
          },
        }
      : {}),
  });
}
