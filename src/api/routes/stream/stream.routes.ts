import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses } from '../../envelope.ts';
import { mediaIdParams } from '../../params.ts';

export const streamRoute = createRoute({
  operationId: 'streamFile',
  method: 'get',
  path: '/medias/{id}/stream/{path}',
  tags: ['Streaming'],
  security: [],
  summary: 'Stream a file of a playable media: master.m3u8, rendition playlists, segments',
  description:
    'Supports Range requests (206). Answers 425 Too Early until the media is playable. With an object store and ' +
    '`storage.delivery: redirect`, segments and downloads answer 302 to a CDN or presigned URL; playlists are always served here.',
  request: {
    params: mediaIdParams.extend({
      path: z.string().openapi({ param: { name: 'path', in: 'path' }, example: 'master.m3u8' }),
    }),
    headers: z.object({ range: z.string().optional().openapi({ example: 'bytes=0-1023' }) }),
    query: z.object({ token: z.string().optional().openapi({ description: 'playback token of a private media' }) }),
  },
  responses: {
    200: {
      description: 'The whole file',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    302: { description: 'The file is at the Location given (object store, CDN)' },
    206: {
      description: 'The requested byte range',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    416: { description: 'The range lies outside the file' },
    ...errorResponses(400, 401, 404, 425, 503),
  },
});
