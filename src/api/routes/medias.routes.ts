import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses, listMetadataSchema } from '../envelope.ts';
import {
  createMediaBody,
  eventSchema,
  mediaIdParams,
  mediaSchema,
  paginationQuery,
  renditionSchema,
  updateMediaBody,
} from './medias.schemas.ts';

const tags = ['Medias'];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const listMedias = createRoute({
  method: 'get',
  path: '/medias',
  tags,
  summary: 'List medias, newest first',
  request: { query: paginationQuery },
  responses: {
    200: json(envelope(z.array(mediaSchema)).extend({ metadata: listMetadataSchema }), 'A page of medias'),
    ...errorResponses(400),
  },
});

export const createMedia = createRoute({
  method: 'post',
  path: '/medias',
  tags,
  summary: 'Create a media awaiting its upload',
  request: { body: { required: true, content: { 'application/json': { schema: createMediaBody } } } },
  responses: { 200: json(envelope(mediaSchema), 'The new media, AwaitingUpload'), ...errorResponses(400) },
});

export const getMedia = createRoute({
  method: 'get',
  path: '/medias/{id}',
  tags,
  summary: 'One media, with its status and progress',
  request: { params: mediaIdParams },
  responses: { 200: json(envelope(mediaSchema), 'The media'), ...errorResponses(400, 404) },
});

export const updateMedia = createRoute({
  method: 'patch',
  path: '/medias/{id}',
  tags,
  summary: 'Change a media title',
  request: { params: mediaIdParams, body: { required: true, content: { 'application/json': { schema: updateMediaBody } } } },
  responses: { 200: json(envelope(mediaSchema), 'The updated media'), ...errorResponses(400, 404) },
});

export const deleteMedia = createRoute({
  method: 'delete',
  path: '/medias/{id}',
  tags,
  summary: 'Delete a media: stops its processing, removes its rows and every stored file',
  request: { params: mediaIdParams },
  responses: {
    200: json(envelope(z.object({ id: z.uuid() })), 'Deleted'),
    ...errorResponses(400, 404, 503),
  },
});

export const listEvents = createRoute({
  method: 'get',
  path: '/medias/{id}/events',
  tags,
  summary: "A media's events, oldest first: every state change and pipeline step",
  request: { params: mediaIdParams, query: paginationQuery.extend({ limit: z.coerce.number().int().min(1).max(500).default(100) }) },
  responses: {
    200: json(envelope(z.array(eventSchema)).extend({ metadata: listMetadataSchema }), 'Events'),
    ...errorResponses(400, 404),
  },
});

export const listRenditions = createRoute({
  method: 'get',
  path: '/medias/{id}/renditions',
  tags,
  summary: "A media's renditions, with each one's state and progress",
  request: { params: mediaIdParams },
  responses: { 200: json(envelope(z.array(renditionSchema)), 'Renditions'), ...errorResponses(400, 404) },
});
