import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HttpError } from '../../../domain/errors.ts';
import {
  imageContentType,
  type AnimatedFormat,
  type AnimatedSpec,
  type ImageSpec,
  type ThumbnailFormat,
} from '../../../domain/images.ts';
import type { AppEnv } from '../../deps.ts';
import { sendStored } from '../../send-stored.ts';
import { fileCacheControl, fileEtag, versionOf } from '../stream/caching.ts';
import { playbackTokenOf } from '../stream/stream.handlers.ts';
import type * as routes from './images.routes.ts';
import { storedImage } from './images.service.ts';

const toMs = (s: number) => Math.round(s * 1000) / 1000;
const bad = (message: string) => new HttpError(400, message);

/** The media an image is asked of: it exists, the token of a private one is given, it is playable. */
async function imageable(c: Context<AppEnv>, id: string) {
  const media = await c.var.deps.medias.get(id);
  if (!media) throw new HttpError(404, `media ${id} not found`);
  const token = media.private ? playbackTokenOf(c, id) : null;
  if (!media.playable) throw new HttpError(425, `media ${id} is ${media.status} and not playable yet`);
  return { media, token, duration: media.duration ?? 0 };
}

async function answer(c: Context<AppEnv>, found: Awaited<ReturnType<typeof imageable>>, spec: ImageSpec) {
  const { key, info } = await storedImage(c.var.deps, found.media, spec);
  return sendStored(
    c,
    key,
    info,
    (now) => ({
      'Content-Type': imageContentType[spec.format],
      // Rendered once per media and spec: kept a year under the version of the media's links.
      'Cache-Control': fileCacheControl({
        asked: c.req.query('v'),
        version: versionOf(found.media),
        private: found.token !== null,
      }),
      'Last-Modified': now.modified.toUTCString(),
      ETag: fileEtag(now),
    }),
    () => new HttpError(404, `image ${key} is gone`),
  );
}

type ThumbnailRoute = (typeof routes.thumbnailRoutes)[number];
type AnimatedRoute = (typeof routes.animatedRoutes)[number];

/** GET /medias/{id}/thumbnail.{format}: a still at `time` (default: the poster's), sized and fitted as asked. */
export const thumbnail =
  (format: ThumbnailFormat): RouteHandler<ThumbnailRoute, AppEnv> =>
  async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const max = c.var.deps.config.images.max_size;
    for (const side of ['width', 'height'] as const)
      if ((q[side] ?? 0) > max) throw bad(`${side}: at most ${max} pixels (images.max_size)`);
    const found = await imageable(c, id);
    const time = toMs(q.time ?? found.duration * c.var.deps.config.encoding.poster_at);
    if (time >= found.duration)
      throw bad(`time: ${time} s is past the end of the media (${found.duration.toFixed(3)} s)`);
    return (await answer(c, found, {
      kind: 'thumbnail',
      format,
      time,
      width: q.width ?? null,
      height: q.height ?? null,
      fit: q.fit_mode ?? 'preserve',
    })) as never;
  };

/** GET /medias/{id}/animated.{format}: `start` to `end`, `width` wide, `fps` frames a second. */
export const animated =
  (format: AnimatedFormat): RouteHandler<AnimatedRoute, AppEnv> =>
  async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const limits = c.var.deps.config.images;
    const width = q.width ?? Math.min(320, limits.animated_max_width);
    const fps = q.fps ?? Math.min(10, limits.animated_max_fps);
    if (width > limits.animated_max_width)
      throw bad(`width: at most ${limits.animated_max_width} pixels (images.animated_max_width)`);
    if (fps > limits.animated_max_fps) throw bad(`fps: at most ${limits.animated_max_fps} (images.animated_max_fps)`);
    const found = await imageable(c, id);
    const start = toMs(q.start ?? 0);
    if (start >= found.duration)
      throw bad(`start: ${start} s is past the end of the media (${found.duration.toFixed(3)} s)`);
    const end = toMs(q.end ?? Math.min(start + Math.min(5, limits.animated_max_seconds), found.duration));
    if (end <= start) throw bad(`end: ${end} s is not after start (${start} s)`);
    if (end > found.duration) throw bad(`end: ${end} s is past the end of the media (${found.duration.toFixed(3)} s)`);
    if (end - start > limits.animated_max_seconds)
      throw bad(`end: at most ${limits.animated_max_seconds} s after start (images.animated_max_seconds)`);
    const spec: AnimatedSpec = { kind: 'animated', format, start, end, width, fps };
    return (await answer(c, found, spec)) as never;
  };
