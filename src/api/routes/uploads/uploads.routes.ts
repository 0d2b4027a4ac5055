import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses, jsonBody } from '../../envelope.ts';
import { mediaLinks } from '../../links.ts';
import { mediaIdParams } from '../../params.ts';
import { mediaSchema } from '../medias/medias.schemas.ts';
import { tusMetadataPattern } from './tus.ts';

const uploadBody = z.strictObject({
  file: z
    .string()
    .openapi({ type: 'string', format: 'binary', description: 'the media file; no other field is taken' }),
});

/** Every way of uploading answers the same: the media, now ScheduledProcessing. */
/** The media, scheduled; `success: true` as v1's upload answer said. */
const scheduledMediaSchema = mediaSchema
  .extend({ success: z.literal(true).openapi({ description: 'v1: the upload was taken' }) })
  .openapi('ScheduledMedia');

const scheduledResponse = {
  description: 'Stored and scheduled',
  content: { 'application/json': { schema: envelope(scheduledMediaSchema) } },
  links: mediaLinks('getMedia', 'listEvents', 'listRenditions', 'cancelMedia', 'deleteMedia'),
};

const uploadRoute = (kind: 'video' | 'audio') =>
  createRoute({
    operationId: kind === 'video' ? 'uploadVideo' : 'uploadAudio',
    method: 'post',
    path: `/medias/{id}/upload/${kind}`,
    tags: ['Uploads'],
    summary: `Upload the ${kind} file of a media (multipart/form-data, field "file"), then process it`,
    description:
      'The file is streamed to storage while it arrives and checked against max_file_size. ' +
      'On success the media is ScheduledProcessing. A media can be uploaded while AwaitingUpload, ' +
      'and again after it Errored (the new file replaces the old one).',
    request: {
      params: mediaIdParams,
      body: { required: true, content: { 'multipart/form-data': { schema: uploadBody } } },
    },
    responses: {
      200: scheduledResponse,
      ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
    },
  });

export const uploadVideo = uploadRoute('video');
export const uploadAudio = uploadRoute('audio');

export const uploadUrl = createRoute({
  operationId: 'createUploadUrl',
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
        size: z
          .number()
          .int()
          .min(1)
          .max(Number.MAX_SAFE_INTEGER)
          .openapi({ description: 'bytes the file has', example: 10485760 }),
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
  operationId: 'completeUpload',
  method: 'post',
  path: '/medias/{id}/upload/complete',
  tags: ['Uploads'],
  summary: 'Finish a direct upload: checks the stored file, then schedules processing like any upload',
  request: {
    params: mediaIdParams,
    query: z.object({
      upload: z.uuid('upload: the upload id of POST /medias/{id}/upload-url (its `complete` link carries it)').openapi({
        description: 'the upload id, as the `complete` link of POST /medias/{id}/upload-url gives it',
      }),
    }),
    body: jsonBody(z.object({ kind: z.enum(['video', 'audio']).default('video') }), false),
  },
  responses: {
    200: scheduledResponse,
    ...errorResponses(400, 401, 404, 409, 413, 503),
  },
});

export const uploadFromUrl = createRoute({
  operationId: 'uploadFromUrl',
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
        url: z
          .url({ protocol: /^https?$/, error: 'url: an http or https URL' })
          .max(2048)
          .openapi({ example: 'https://example.com/clip.mp4' }),
        kind: z.enum(['video', 'audio']).default('video'),
      }),
    ),
  },
  responses: {
    200: { ...scheduledResponse, description: 'Scheduled: the fetch is the first step of processing' },
    ...errorResponses(400, 401, 404, 409, 429, 503),
  },
});

/** Documented here, served by @tus/server (tus.ts) for every tus method on the upload paths. */
export const tusCreate = createRoute({
  operationId: 'createTusUpload',
  method: 'post',
  path: '/medias/{id}/tus',
  tags: ['Uploads'],
  summary: 'Resumable upload (tus 1.0.0): create it here, then PATCH the Location from the last offset',
  description:
    'Any tus client works (tus-js-client, Uppy…). Metadata `kind` is video (default) or audio, `filename` is kept. ' +
    'HEAD on the upload URL gives the offset to resume from. Completing the upload schedules processing.',
  request: {
    params: mediaIdParams,
    headers: z.object({
      'tus-resumable': z.literal('1.0.0').openapi({ description: 'the tus protocol version' }),
      'upload-length': z
        .string()
        .regex(/^(0|[1-9][0-9]{0,14})$/)
        .openapi({ description: 'bytes of the whole file', example: '1048576' }),
      'upload-metadata': z.string().regex(tusMetadataPattern).optional().openapi({
        description: 'tus metadata, "key base64" pairs: kind (video or audio), filename',
        example: 'kind dmlkZW8=',
      }),
    }),
  },
  responses: {
    201: { description: 'Created; Location is the upload URL' },
    400: { description: 'Invalid tus request (headers, metadata)' },
    401: { description: 'API keys are configured and none was sent' },
    404: { description: 'No such media' },
    409: { description: 'Not uploadable now' },
    412: { description: 'Tus-Resumable missing or unsupported' },
    413: { description: 'Larger than max_file_size' },
    429: { description: 'Too many uploads started by this key' },
    503: { description: 'Storage or database unavailable' },
  },
});
