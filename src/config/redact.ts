import type { Config } from './schema.ts';

/** Names of settings whose value is a secret, wherever they sit in the configuration. */
const secretName = /(^|_)(key|secret|password|token)$/i;
const shown = '(set)';

/** A URL with its password (user:password@) masked; anything that is not such a URL, as it is. */
function withoutPassword(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (!url.password) return value;
  url.password = '***';
  return url.toString();
}

function redact(value: unknown, name: string): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, name));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  if (typeof value !== 'string') return value;
  // Ids that name a secret's owner are not secrets themselves (access_key_id, an API key's name).
  if (secretName.test(name) && !name.endsWith('_id')) return shown;
  return withoutPassword(value);
}

/**
 * The configuration as it may be shown (`gilfoyle config`, logs): every secret masked: API keys,
 * the playback signing secret, the S3 secret, and passwords inside URLs (Postgres, RabbitMQ…).
 */
export const redactConfig = (config: Config): unknown => redact(config, '');
