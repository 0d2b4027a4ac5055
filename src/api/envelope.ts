import { z } from '@hono/zod-openapi';

/** The Gilfoyle v1 envelopes: {"code", "data", "metadata"} and {"code", "message"}. */
export const errorSchema = z
  .object({
    code: z.number().int().openapi({ example: 404 }),
    message: z.string().openapi({ example: 'media not found' }),
  })
  .openapi('Error');

export const envelope = <T extends z.ZodType>(data: T) =>
  z.object({ code: z.number().int().openapi({ example: 200 }), data });

/** A JSON request body of a route. */
export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});

export const listMetadataSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const errorResponses = (...codes: (400 | 401 | 404 | 409 | 413 | 415 | 425 | 429 | 503)[]) =>
  Object.fromEntries(
    codes.map((code) => [
      code,
      { description: errorDescriptions[code], content: { 'application/json': { schema: errorSchema } } },
    ]),
  ) as Record<number, { description: string; content: { 'application/json': { schema: typeof errorSchema } } }>;

const errorDescriptions: Record<number, string> = {
  400: 'Invalid request: the message names the field',
  401: 'An API key (Authorization: Bearer) or, for a private media, a playback token is missing or invalid',
  404: 'No such media or file',
  409: 'The media is not in a state that allows this',
  413: 'The file is larger than max_file_size',
  415: 'Wrong content type',
  425: 'The media is not playable yet',
  429: 'Too many uploads: retry after the Retry-After seconds',
  503: 'A dependency is unavailable',
};

export const errorBody = (code: number, message: string) => ({ code, message });

/** A JSON answer of `schema`, as a route's response. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
