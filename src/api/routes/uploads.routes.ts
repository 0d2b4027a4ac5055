import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses } from '../envelope.ts';
import { mediaIdParams, mediaSchema } from './medias.schemas.ts';

const uploadBody = z.object({
  file: z.string().openapi({ type: 'string', format: 'binary', description: 'the media file' }),
});

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
      200: { description: 'Stored and scheduled', content: { 'application/json': { schema: envelope(mediaSchema) } } },
      ...errorResponses(400, 404, 409, 413, 415, 503),
    },
  });

export const uploadVideo = uploadRoute('video');
export const uploadAudio = uploadRoute('audio');
