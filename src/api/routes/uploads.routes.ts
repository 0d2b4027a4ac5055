import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses, jsonBody } from '../envelope.ts';
import { mediaIdParams, mediaSchema } from './medias.schemas.ts';

const uploadBody = z.strictObject({
  file: z.string().openapi({ type: 'string', format: 'binary', description: 'the media file; no other field is taken' }),
});

/** Every way of uploading answers the same: the media, now ScheduledProcessing. */
const scheduledResponse = { description: 'Stored and scheduled', content: { 'application/json': { schema: envelope(mediaSchema) } } };

const uploadRoute = (kind: 'video' | 'audio') =>
  createRoute({
    method: 'post',
    path: `/medias/{id}/upload/${kind}`,
    tags: ['Uploads'],
    summary: `Upload the ${kind} file of a media (multipart/form-data, field "file"), then process it`,
    description:
      'The file is streamed to storage while it arrives and checked against max_file_size. ' +
      'On success the media is ScheduledProcessing. A media can be uploaded while AwaitingUpload, ' +
      'and again after it Errored (the new file replaces the old one).',
    request: { params: mediaIdParams, body: { required: true, content: { 'multipart/form-data': { schema: uploadBody } } } },
    responses: {
      200: scheduledResponse,
      ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
    },
  });

export const uploadVideo = uploadRoute('video');
export const uploadAudio = uploadRoute('audio');

export const uploadUrl = createRoute({
  method: 'post',
  path: '/medias/{id}/upload-url',
  tags: ['Uploads'],
  summary: 'A presigned PUT URL to upload the file straight to the object store (s3 driver)',
  description:
    'Send the file with PUT to `url`, with exactly the headers given (Content-Length is signed, so the store refuses any other size), ' +
    'before `expires_at`; then call `complete`.',
  request: {
    params: mediaIdParams,
    body: jsonBody(
      z.object({
        size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).openapi({ description: 'bytes the file has', example: 10485760 }),
        content_type: z.string().max(255).optional().openapi({ example: 'video/mp4' }),
      }),
    ),
  },
  responses: {
    200: {
      description: 'Where to PUT the file',
      content: {
        'application/json': {
          schema: envelope(
            z.object({
              url: z.string(),
              method: z.literal('PUT'),
              headers: z.record(z.string(), z.string()),
              expires_at: z.string(),
              complete: z.string(),
            }),
          ),
        },
      },
    },
    ...errorResponses(400, 401, 404, 409, 413, 429, 503),
  },
});

export const uploadComplete = createRoute({
  method: 'post',
  path: '/medias/{id}/upload/complete',
  tags: ['Uploads'],
  summary: 'Finish a direct upload: checks the stored file, then schedules processing like any upload',
  request: {
    params: mediaIdParams,
    body: jsonBody(z.object({ kind: z.enum(['video', 'audio']).default('video') }), false),
  },
  responses: {
    200: scheduledResponse,
    ...errorResponses(400, 401, 404, 409, 413, 503),
  },
});

export const uploadFromUrl = createRoute({
  method: 'post',
  path: '/medias/{id}/upload/url',
  tags: ['Uploads'],
  summary: 'Upload from a URL: a worker fetches the file (http or https), then processes it',
  description:
    'The fetch is streamed, capped at max_file_size and timed out (settings.url_fetch); private, loopback and link-local ' +
    'addresses are refused, redirects included, unless settings.url_fetch.allow_private_addresses is set. A URL that cannot ' +
    'be fetched ends the media Errored with an event saying why.',
  request: {
    params: mediaIdParams,
    body: jsonBody(
      z.object({
        url: z.url({ protocol: /^https?$/, error: 'url: an http or https URL' }).max(2048).openapi({ example: 'https://example.com/clip.mp4' }),
        kind: z.enum(['video', 'audio']).default('video'),
      }),
    ),
  },
  responses: {
    200: { ...scheduledResponse, description: 'Scheduled: the fetch is the first step of processing' },
    ...errorResponses(400, 401, 404, 409, 429, 503),
  },
});
