import { z } from '@hono/zod-openapi';
import { HttpError } from '../domain/errors.ts';

/** The media id in a route's path: the one schema every route that names a media uses. */
export const mediaIdParams = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: '7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10' }),
});

/**
 * The media id of a route handled without the validator (multipart and tus uploads, streaming),
 * checked by the same schema, refused with the same message as the validated routes.
 */
export function mediaIdOf(id: string | undefined): string {
  const parsed = mediaIdParams.shape.id.safeParse(id);
  if (!parsed.success) throw new HttpError(400, `invalid param: id: "${id ?? ''}" is not a UUID`);
  return parsed.data;
}

/** Text a client sends that Gilfoyle keeps (titles, labels, descriptions): no control characters but tab and newlines (Postgres refuses NUL). */
export function printable(s: z.ZodString) {
  return s.regex(/^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$/, 'must not contain control characters');
}

/** The same text with the control characters that `printable` refuses taken out (for labels kept as given). */
export const withoutControlChars = (s: string) => s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '');
