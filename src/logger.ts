import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string, name = 'gilfoyle'): Logger {
  return pino({ name, level });
}
