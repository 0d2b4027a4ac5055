import { createHash, timingSafeEqual } from 'node:crypto';
import { isStreamPath } from './cors.ts';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.ts';
import { clientAddressResolver, isPrivateAddress } from '../../domain/addresses.ts';
import type { AppEnv } from '../deps.ts';
import { errorBody } from '../envelope.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Routes anyone may call even when API keys are configured (streams are guarded by playback tokens). */
function isPublic(method: string, path: string, auth: Config['auth']): boolean {
  if (method === 'OPTIONS') return true;
  // Readiness says nothing but ready or draining: a load balancer asks it without a key.
  if (path === '/readyz') return true;
  if (path === '/healthz') return auth.public_health;
  if (path === '/metrics') return auth.public_metrics;
  if (
    path === '/openapi.json' ||
    path === '/docs' ||
    path.startsWith('/docs/') ||
    path === '/admin' ||
    path.startsWith('/admin/')
  )
    return true;
  return isStreamPath(path);
}

/**
 * API keys (auth.api_keys): `Authorization: Bearer <key>` on every management route, compared in
 * constant time against every configured key. The key itself is never logged: the request's
 * log lines and the upload rate limit use the key's name.
 */
export function apiKeys(auth: Config['auth']): MiddlewareHandler<AppEnv> {
  const keys = auth.api_keys.map((k) => ({ name: k.name, digest: digest(k.key) }));
  return async (c, next) => {
    if (keys.length === 0 || isPublic(c.req.method, c.req.path, auth)) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const challenge = { 'WWW-Authenticate': 'Bearer realm="gilfoyle"' };
    if (!m) return c.json(errorBody(401, 'an API key is required: send Authorization: Bearer <key>'), 401, challenge);
    const given = digest(m[1]!);
    let match: string | null = null;
    // Every key is compared, whichever matches, so the time taken tells nothing.
    for (const k of keys) if (timingSafeEqual(given, k.digest) && match === null) match = k.name;
    if (match === null) return c.json(errorBody(401, 'invalid API key'), 401, challenge);
    c.set('apiKey', match);
    c.set('deps', { ...c.var.deps, logger: c.var.deps.logger.child({ apiKey: match }) });
    return next();
  };
}

/** The socket address of a request; null in process (tests). */
const socketAddress = (c: Context<AppEnv>) =>
  (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ??
  null;

/**
 * Upload starts per minute: per API key when keys are configured (auth.uploads_per_minute);
 * without keys, per client address for clients on the internet (auth.anonymous_uploads_per_minute),
 * and no limit for clients on a private network. Beyond it: 429 saying when to retry (Retry-After).
 */
export function uploadRateLimit(auth: Config['auth'], trustedProxies: string[] = []): MiddlewareHandler<AppEnv> {
  // Behind a trusted proxy, the client is the one it names (server.trusted_proxies).
  const clientOf = clientAddressResolver(trustedProxies);
  const limiterOf = (perMinute: number) =>
    perMinute > 0 ? new RateLimiterMemory({ points: perMinute, duration: 60 }) : null;
  const perKey = {
    limiter: limiterOf(auth.uploads_per_minute),
    perMinute: auth.uploads_per_minute,
    setting: 'auth.uploads_per_minute',
  };
  const perAddress = {
    limiter: limiterOf(auth.anonymous_uploads_per_minute),
    perMinute: auth.anonymous_uploads_per_minute,
    setting: 'auth.anonymous_uploads_per_minute',
  };
  return async (c, next) => {
    const address = clientOf(socketAddress(c), c.req.header('x-forwarded-for'));
    const [rule, who] = c.var.apiKey
      ? [perKey, `key:${c.var.apiKey}`]
      : address && isPrivateAddress(address)
        ? [null, '']
        : [perAddress, `addr:${address ?? 'unknown'}`];
    if (!rule?.limiter) return next();
    try {
      await rule.limiter.consume(who);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const wait = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      return c.json(
        errorBody(429, `too many uploads: at most ${rule.perMinute} a minute (${rule.setting}); retry in ${wait} s`),
        429,
        { 'Retry-After': String(wait) },
      );
    }
    return next();
  };
}

/** At most `max` uploads streaming into this process at once; the next answers 429 until one ends. */
export function concurrentUploads(max: number): MiddlewareHandler<AppEnv> {
  let running = 0;
  return async (c, next) => {
    if (running >= max) {
      return c.json(
        errorBody(429, `too many uploads in progress (limits.concurrent_uploads = ${max}): retry shortly`),
        429,
        { 'Retry-After': '5' },
      );
    }
    running++;
    try {
      await next();
    } finally {
      running--;
    }
  };
}

/** JSON bodies are small: anything larger than limits.json_body is refused before it is read whole. */
export function jsonBodyLimit(maxSize: number): MiddlewareHandler<AppEnv> {
  const limit = bodyLimit({
    maxSize,
    onError: (c) =>
      c.json(errorBody(413, `the JSON body is larger than the maximum of ${maxSize} bytes (limits.json_body)`), 413),
  });
  return async (c, next) => (/json/i.test(c.req.header('content-type') ?? '') ? limit(c, next) : next());
}
