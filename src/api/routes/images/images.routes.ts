import { createRoute, z } from '@hono/zod-openapi';
import { animatedFormats, fitModes, thumbnailFormats } from '../../../domain/images.ts';
import { configSchema } from '../../../config/schema.ts';
import { errorResponses } from '../../envelope.ts';
import { mediaIdParams } from '../../params.ts';

/** An optional number of the query string ("" is refused, not taken as 0). */
const queryNumber = (min: number, max: number, description: string, integer = false) => {
  const n = integer ? z.coerce.number().int() : z.coerce.number();
  return z
    .preprocess((v) => (v === '' ? 'empty' : v), n.min(min).max(max))
    .optional()
    .openapi({ type: integer ? 'integer' : 'number', minimum: min, maximum: max, description });
};

/** The document states the default limits; a deployment that changes them answers 400 past its own. */
const defaults = configSchema.shape.images.parse({});

const token = z.string().optional().openapi({ description: 'playback token of a private media' });
const v = z
  .string()
  .max(64)
  .optional()
  .openapi({ description: 'the version of the media’s links (`v` in them): with it the image is kept a year' });

export const thumbnailQuery = z.object({
  time: queryNumber(0, 86_400 * 7, 'seconds into the media (default: the poster time); before its end'),
  width: queryNumber(16, defaults.max_size, 'pixels (at most images.max_size)', true),
  height: queryNumber(16, defaults.max_size, 'pixels (at most images.max_size)', true),
  fit_mode: z
    .enum(fitModes)
    .optional()
    .openapi({ description: 'with width and height: fit inside (preserve), fill and crop, or fit and pad' }),
  token,
  v,
});

export const animatedQuery = z.object({
  start: queryNumber(0, 86_400 * 7, 'seconds into the media (default 0)'),
  end: queryNumber(
    0,
    86_400 * 7,
    'seconds into the media (default start + 5, at most start + images.animated_max_seconds)',
  ),
  width: queryNumber(16, defaults.animated_max_width, 'pixels (default 320, at most images.animated_max_width)', true),
  fps: queryNumber(
    1,
    defaults.animated_max_fps,
    'frames per second (default 10, at most images.animated_max_fps)',
    true,
  ),
  token,
  v,
});

const image = (description: string, types: string[]) => ({
  description,
  content: Object.fromEntries(types.map((t) => [t, { schema: z.string().openapi({ format: 'binary' }) }])),
});

const common = { tags: ['Images'], security: [] };

export const thumbnailRoutes = thumbnailFormats.map((format) =>
  createRoute({
    ...common,
    operationId: `thumbnail${format[0]!.toUpperCase()}${format.slice(1)}`,
    method: 'get',
    path: `/medias/{id}/thumbnail.${format}`,
    summary: `A still of the media at any time, as ${format.toUpperCase()}`,
    description:
      'Rendered from the renditions (not the source) on the first request, then served from storage. ' +
      'Under the stream rules: readable from any site (cors.stream_origins), a private media needs its playback token.',
    request: { params: mediaIdParams, query: thumbnailQuery },
    responses: {
      200: image('The image', [format === 'jpg' ? 'image/jpeg' : `image/${format}`]),
      ...errorResponses(400, 401, 404, 409, 425, 503),
    },
  }),
);

export const animatedRoutes = animatedFormats.map((format) =>
  createRoute({
    ...common,
    operationId: `animated${format[0]!.toUpperCase()}${format.slice(1)}`,
    method: 'get',
    path: `/medias/{id}/animated.${format}`,
    summary: `An animated preview of a stretch of the media, as ${format.toUpperCase()}`,
    description:
      'Rendered from the renditions on the first request, then served from storage; at most images.animated_max_seconds long.',
    request: { params: mediaIdParams, query: animatedQuery },
    responses: {
      200: image('The animated image', [`image/${format}`]),
      ...errorResponses(400, 401, 404, 409, 425, 503),
    },
  }),
);
