import { createRoute, z } from '@hono/zod-openapi';
import { attachmentKeyPattern, attachmentKinds, languageTagPattern } from '../../../domain/attachments.ts';
import { envelope, errorResponses, json } from '../../envelope.ts';
import { mediaIdParams } from '../../params.ts';

const tags = ['Attachments'];

export const attachmentKey = z
  .string()
  .regex(attachmentKeyPattern, 'letters, digits, "-" and "_", at most 64, starting with a letter or digit');
export const attachmentKind = z.enum(attachmentKinds);
export const attachmentLabel = z.string().max(100);
export const languageTag = z.string().max(64).regex(languageTagPattern, 'a BCP 47 language tag such as en or pt-BR');

export const attachmentSchema = z
  .object({
    key: z.string().openapi({ example: 'en' }),
    kind: attachmentKind,
    language: z.string().nullable().openapi({ example: 'en' }),
    label: z.string().nullable().openapi({ example: 'English' }),
    default: z.boolean(),
    content_type: z.string().openapi({ example: 'text/vtt' }),
    size: z.number().int(),
    filename: z.string().nullable(),
    origin: z
      .enum(['upload', 'source'])
      .openapi({ description: 'uploaded, or taken from a subtitle stream of the source' }),
    url: z.string().openapi({
      description:
        'Where its bytes are: timed text as WebVTT among the stream files (under the stream rules: CORS, playback tokens), other files through GET /medias/{id}/attachments/{key}',
      example: '/medias/7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10/stream/text_en.vtt',
    }),
    created_at: z.string(),
  })
  .openapi('Attachment');

const keyParams = mediaIdParams.extend({
  key: attachmentKey.openapi({ param: { name: 'key', in: 'path' }, example: 'en' }),
});

const uploadBody = z.strictObject({
  file: z.string().openapi({
    type: 'string',
    format: 'binary',
    description: 'subtitles, captions, chapters: WebVTT, SRT or ASS/SSA (kept as WebVTT); file: any, kept as it is',
  }),
  key: attachmentKey.optional().openapi({ description: 'made up when absent' }),
  kind: attachmentKind,
  language: languageTag.optional(),
  label: attachmentLabel.optional(),
  default: z.enum(['true', 'false']).optional().openapi({ description: 'the track players pick first' }),
});

export const listAttachments = createRoute({
  operationId: 'listAttachments',
  method: 'get',
  path: '/medias/{id}/attachments',
  tags,
  summary: "A media's attachments: subtitles, captions, chapters and files",
  request: { params: mediaIdParams },
  responses: { 200: json(envelope(z.array(attachmentSchema)), 'Attachments'), ...errorResponses(400, 401, 404, 503) },
});

export const createAttachment = createRoute({
  operationId: 'createAttachment',
  method: 'post',
  path: '/medias/{id}/attachments',
  tags,
  summary: 'Attach a file to a media (multipart/form-data); subtitles and captions join its streams at once',
  description:
    'Timed text (kind subtitles, captions or chapters) is read as WebVTT, SRT or ASS/SSA, converted to WebVTT with ffmpeg ' +
    'and checked; a file that is none of these, or has no cue, is refused with 400. Subtitles and captions are listed ' +
    'in the HLS master playlist and the DASH manifest from then on, without a new encode. Up to attachments.max_size bytes.',
  request: {
    params: mediaIdParams,
    body: { required: true, content: { 'multipart/form-data': { schema: uploadBody } } },
  },
  responses: {
    200: json(envelope(attachmentSchema), 'The attachment'),
    ...errorResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

/** v1's form of the same route: the key in the path. */
export const createAttachmentWithKey = createRoute({
  ...createAttachment,
  operationId: 'createAttachmentWithKey',
  path: '/medias/{id}/attachments/{key}',
  summary: 'Attach a file to a media under the key of the path (v1)',
  request: {
    params: keyParams,
    body: { required: true, content: { 'multipart/form-data': { schema: uploadBody.omit({ key: true }) } } },
  },
});

export const getAttachment = createRoute({
  operationId: 'getAttachment',
  method: 'get',
  path: '/medias/{id}/attachments/{key}',
  tags,
  summary: "An attachment's bytes, with its content type (timed text as WebVTT)",
  request: { params: keyParams },
  responses: {
    200: {
      description: 'The file, with the content type it was uploaded with',
      content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(400, 401, 404, 503),
  },
});

export const deleteAttachment = createRoute({
  operationId: 'deleteAttachment',
  method: 'delete',
  path: '/medias/{id}/attachments/{key}',
  tags,
  summary: 'Remove an attachment; a text track leaves the streams at once',
  request: { params: keyParams },
  responses: {
    200: json(envelope(z.object({ key: z.string() })), 'Deleted'),
    ...errorResponses(400, 401, 404, 503),
  },
});
