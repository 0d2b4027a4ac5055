import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { Config } from '../../config/schema.ts';

/** The files of a media that players fetch: playlists, segments, downloads, pictures, captions. */
/** What a player or a page embedding a media reads: its stream files and its images on demand. */
const streamPath = /^\/medias\/[^/]+\/(stream(\/|$)|thumbnail\.(jpg|png|webp)$|animated\.(gif|webp)$)/;
export const isStreamPath = (path: string) => streamPath.test(path);

const originOf = (origins: string[]) => (origins.includes('*') ? '*' : origins);

/**
 * CORS for the streams: a player on any site (by default) may read them, with Range, and see the
 * headers it needs to fetch by ranges. Set before the answer is made, so 4xx answers carry it too
 * (hls.js takes a 404 or 425 without it for a network error). Who may watch a private media is
 * decided by its playback token, not by this.
 */
export const streamCors = (config: Config['cors']): MiddlewareHandler =>
  cors({
    origin: originOf(config.stream_origins),
    allowMethods: ['GET', 'HEAD', 'OPTIONS'],
    allowHeaders: ['Range'],
    exposeHeaders: ['Content-Range', 'Content-Length', 'Accept-Ranges', 'ETag', 'X-Request-Id'],
    maxAge: 86_400,
  });

/** CORS for the management API (`cors.origins`): none unless configured. */
export function managementCors(config: Config['cors']): MiddlewareHandler | null {
  if (!config.origins.length) return null;
  return cors({
    origin: originOf(config.origins),
    allowHeaders: [
      'Authorization',
      'Content-Type',
      'Range',
      'X-Request-Id',
      'Tus-Resumable',
      'Upload-Length',
      'Upload-Offset',
      'Upload-Metadata',
      'Upload-Defer-Length',
      'Upload-Concat',
    ],
    allowMethods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    exposeHeaders: [
      'Location',
      'X-Request-Id',
      'Content-Range',
      'Upload-Offset',
      'Upload-Length',
      'Tus-Resumable',
      'Upload-Expires',
      'Retry-After',
    ],
    maxAge: 600,
  });
}

/** Each path gets its own CORS: the streams theirs, everything else the management API's. */
export function corsByPath(config: Config['cors']): MiddlewareHandler {
  const streams = streamCors(config);
  const management = managementCors(config);
  return (c, next) => {
    if (isStreamPath(c.req.path)) return streams(c, next);
    return management ? management(c, next) : next();
  };
}
