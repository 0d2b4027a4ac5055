import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses, json, jsonBody, listMetadataSchema } from '../../envelope.ts';
import { mediaLinks } from '../../links.ts';
import { mediaIdParams } from '../../params.ts';
import {
  cancelQuery,
  createMediaBody,
  eventSchema,
  mediaSchema,
  mediaListQuery,
  paginationQuery,
  queryInt,
  playbackTokenBody,
  playbackTokenSchema,
  renditionSchema,
  updateMediaBody,
} from './medias.schemas.ts';

const tags = ['Medias'];

export const listMedias = createRoute({
  operationId: 'listMedias',
  method: 'get',
  path: '/medias',
  tags,
  summary: 'List medias, newest first; search by title, filter by status',
  request: { query: mediaListQuery() },
  responses: {
    200: json(envelope(z.array(mediaSchema)).extend({ metadata: listMetadataSchema }), 'A page of medias'),
    ...errorResponses(400, 401, 503),
  },
});

export const createMedia = createRoute({
  operationId: 'createMedia',
  method: 'post',
  path: '/medias',
  tags,
  summary: 'Create a media awaiting its upload',
  request: { body: jsonBody(createMediaBody) },
  responses: {
    200: {
      ...json(envelope(mediaSchema), 'The new media, AwaitingUpload'),
      links: mediaLinks(
        'getMedia',
        'uploadVideo',
        'uploadFromUrl',
        'listEvents',
        'listRenditions',
        'updateMedia',
        'deleteMedia',
      ),
    },
    ...errorResponses(400, 401, 409, 503),
  },
});

export const getMedia = createRoute({
  operationId: 'getMedia',
  method: 'get',
  path: '/medias/{id}',
  tags,
  summary: 'One media, with its status and progress',
  request: { params: mediaIdParams },
  responses: { 200: json(envelope(mediaSchema), 'The media'), ...errorResponses(400, 401, 404, 503) },
});

export const updateMedia = createRoute({
  operationId: 'updateMedia',
  method: 'patch',
  path: '/medias/{id}',
  tags,
  summary: 'Change a media: its title, whether it is private',
  request: { params: mediaIdParams, body: jsonBody(updateMediaBody) },
  responses: { 200: json(envelope(mediaSchema), 'The updated media'), ...errorResponses(400, 401, 404, 503) },
});

export const deleteMedia = createRoute({
  operationId: 'deleteMedia',
  method: 'delete',
  path: '/medias/{id}',
  tags,
  summary: 'Delete a media: stops its processing, removes its rows and every stored file',
  request: { params: mediaIdParams },
  responses: {
    200: json(envelope(z.object({ id: z.uuid() })), 'Deleted'),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const streamEvents = createRoute({
  operationId: 'streamEvents',
  method: 'get',
  path: '/medias/{id}/events/stream',
  tags,
  summary: "A media's events as they happen (Server-Sent Events)",
  description:
    'Each event is sent with its id (`id:`), its type (`event:`) and the event as JSON (`data:`), oldest first, from the ' +
    'first one or after the `Last-Event-ID` header (or `after`); a `state` event (no id) carries the media and its ' +
    'renditions whenever the media changed, so that progress can be followed without polling. A comment line every ' +
    'events_stream.heartbeat_seconds ' +
    'keeps proxies from closing it. The stream ends events_stream.grace_seconds after the media is Ready or Errored, ' +
    'when it is deleted (a `gone` event), or after events_stream.max_seconds (reconnect with `Last-Event-ID`).',
  request: {
    params: mediaIdParams,
    query: z.object({ after: queryInt(0, Number.MAX_SAFE_INTEGER, 0) }),
    headers: z.object({
      'last-event-id': z
        .string()
        .regex(/^\d{1,15}$/, 'last-event-id: the id of an event')
        .optional()
        .openapi({ description: 'resume after this event' }),
    }),
  },
  responses: {
    200: {
      description: 'The stream: one media event per SSE event (comment lines between are heartbeats)',
      content: {
        'text/event-stream': {
          schema: z
            .object({
              id: z.string().optional().openapi({ description: "the event's id (Last-Event-ID resumes after it)" }),
              event: z.string().openapi({
                description:
                  "the event's type; `state` (no id): the media and its renditions as they are now; `gone`: the media was deleted",
              }),
              data: z.string().openapi({
                description: 'JSON: the event as GET /medias/{id}/events lists it; for `state`, {media, renditions}',
              }),
            })
            .openapi('MediaEventStreamEvent'),
        },
      },
    },
    ...errorResponses(400, 401, 404, 503),
  },
});

export const listEvents = createRoute({
  operationId: 'listEvents',
  method: 'get',
  path: '/medias/{id}/events',
  tags,
  summary: "A media's events, oldest first: every state change and pipeline step",
  request: { params: mediaIdParams, query: paginationQuery.extend({ limit: queryInt(1, 500, 100) }) },
  responses: {
    200: json(envelope(z.array(eventSchema)).extend({ metadata: listMetadataSchema }), 'Events'),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const listRenditions = createRoute({
  operationId: 'listRenditions',
  method: 'get',
  path: '/medias/{id}/renditions',
  tags,
  summary: "A media's renditions, with each one's state and progress",
  request: { params: mediaIdParams },
  responses: { 200: json(envelope(z.array(renditionSchema)), 'Renditions'), ...errorResponses(400, 401, 404, 503) },
});

export const retryMedia = createRoute({
  operationId: 'retryMedia',
  method: 'post',
  path: '/medias/{id}/retry',
  tags,
  summary: 'Process an Errored media again: a new run of its workflow, from the stored source',
  description:
    'Schedules the media like an upload does (outbox, bridge, a new run of workflow media-{id}), resets its renditions and adds a media.retry event. Only an Errored media can be retried; a second retry while the first is scheduled gets 409.',
  request: { params: mediaIdParams },
  responses: {
    202: json(envelope(mediaSchema), 'Retry scheduled: the media is ScheduledProcessing'),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const cancelMedia = createRoute({
  operationId: 'cancelMedia',
  method: 'post',
  path: '/medias/{id}/cancel',
  tags,
  summary: "Cancel a media's processing: its encodes stop, and it ends Errored with a media.cancelled event",
  description:
    'Asks the run to stop: it cancels its activities, waits until they have stopped, then marks the media Errored. A media whose run has ended without finishing it, or has not started, is marked Errored at once. With force=true the run is terminated and the media marked Errored at once: the way out for a run that does not answer (Processing long after a cancel).',
  request: { params: mediaIdParams, query: cancelQuery },
  responses: {
    202: json(
      envelope(mediaSchema),
      'Cancellation requested: the media becomes Errored once its activities have stopped (at once with force=true, or when no run is open)',
    ),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const createPlaybackToken = createRoute({
  operationId: 'createPlaybackToken',
  method: 'post',
  path: '/medias/{id}/playback-token',
  tags,
  summary: "A short-lived token to stream a private media: in the URLs' query (?token=) or as a cookie",
  description:
    'The token is an HMAC of the media id and its expiry (playback.signing_secret). Playlists served with a token rewrite the URLs of the files they name to carry it, so a player needs only the master URL.',
  request: { params: mediaIdParams, body: jsonBody(playbackTokenBody, false) },
  responses: {
    200: json(envelope(playbackTokenSchema), 'The token and the URLs that carry it'),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const getSource = createRoute({
  operationId: 'getSource',
  method: 'get',
  path: '/medias/{id}/source',
  tags,
  summary: 'The original file, as it was uploaded: its name and content type, with Range support',
  description:
    'Served by Gilfoyle from the filesystem store, with `Content-Disposition: attachment`; on S3 a 302 to a presigned URL ' +
    '(storage.presign_expiry_seconds) whose answer carries the same name and type. 409 while no source is stored (AwaitingUpload, or an upload from a URL not fetched yet).',
  request: { params: mediaIdParams },
  responses: {
    200: {
      description: 'The file, with the content type it was uploaded with',
      content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    206: { description: 'The byte range asked for' },
    302: { description: 'S3: the presigned URL of the file' },
    416: { description: 'The range asked for starts past the end of the file' },
    ...errorResponses(400, 401, 404, 409, 503),
  },
});
