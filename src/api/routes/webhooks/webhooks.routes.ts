import { createRoute, z } from '@hono/zod-openapi';
import { envelope, errorResponses, json, jsonBody, listMetadataSchema } from '../../envelope.ts';
import { paginationQuery } from '../medias/medias.schemas.ts';
import {
  createWebhookBody,
  deliveryParams,
  deliverySchema,
  updateWebhookBody,
  webhookIdParams,
  webhookSchema,
} from './webhooks.schemas.ts';

const tags = ['Webhooks'];

export const createWebhook = createRoute({
  operationId: 'createWebhook',
  method: 'post',
  path: '/webhooks',
  tags,
  summary: 'Add a webhook endpoint; the answer holds its signing secret, shown in full only here',
  description:
    'Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature headers; body {type, timestamp, data}). ' +
    'A URL on a private, loopback or link-local address is refused unless settings.url_fetch.allow_private_addresses is set.',
  request: { body: jsonBody(createWebhookBody) },
  responses: {
    200: json(envelope(webhookSchema), 'The new endpoint, with its secret'),
    ...errorResponses(400, 401, 503),
  },
});

export const listWebhooks = createRoute({
  operationId: 'listWebhooks',
  method: 'get',
  path: '/webhooks',
  tags,
  summary: 'List webhook endpoints, oldest first',
  request: { query: paginationQuery },
  responses: {
    200: json(envelope(z.array(webhookSchema)).extend({ metadata: listMetadataSchema }), 'A page of endpoints'),
    ...errorResponses(400, 401, 503),
  },
});

export const getWebhook = createRoute({
  operationId: 'getWebhook',
  method: 'get',
  path: '/webhooks/{id}',
  tags,
  summary: 'One webhook endpoint',
  request: { params: webhookIdParams },
  responses: { 200: json(envelope(webhookSchema), 'The endpoint'), ...errorResponses(400, 401, 404, 503) },
});

export const updateWebhook = createRoute({
  operationId: 'updateWebhook',
  method: 'patch',
  path: '/webhooks/{id}',
  tags,
  summary: 'Change an endpoint: its URL, events, description; enabled: true enables a disabled one again',
  request: { params: webhookIdParams, body: jsonBody(updateWebhookBody) },
  responses: { 200: json(envelope(webhookSchema), 'The endpoint'), ...errorResponses(400, 401, 404, 409, 503) },
});

export const deleteWebhook = createRoute({
  operationId: 'deleteWebhook',
  method: 'delete',
  path: '/webhooks/{id}',
  tags,
  summary: 'Remove an endpoint; its pending deliveries stop',
  request: { params: webhookIdParams },
  responses: {
    200: json(envelope(z.object({ id: z.uuid() })), 'The endpoint is gone'),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const rotateWebhookSecret = createRoute({
  operationId: 'rotateWebhookSecret',
  method: 'post',
  path: '/webhooks/{id}/rotate-secret',
  tags,
  summary: 'A new signing secret, shown in full in the answer; deliveries sign with it from now on',
  request: { params: webhookIdParams },
  responses: {
    200: json(envelope(webhookSchema), 'The endpoint, with its new secret'),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

export const listDeliveries = createRoute({
  operationId: 'listWebhookDeliveries',
  method: 'get',
  path: '/webhooks/{id}/deliveries',
  tags,
  summary: "An endpoint's deliveries, newest first, each with its attempts, answers and timings",
  request: { params: webhookIdParams, query: paginationQuery },
  responses: {
    200: json(envelope(z.array(deliverySchema)).extend({ metadata: listMetadataSchema }), 'A page of deliveries'),
    ...errorResponses(400, 401, 404, 503),
  },
});

export const redeliver = createRoute({
  operationId: 'redeliverWebhook',
  method: 'post',
  path: '/webhooks/{id}/deliveries/{delivery_id}/redeliver',
  tags,
  summary: 'Send a delivery again: the same webhook-id and body, a new series of attempts',
  request: { params: deliveryParams },
  responses: {
    202: json(envelope(deliverySchema), 'The delivery, pending again'),
    ...errorResponses(400, 401, 404, 503),
  },
});
