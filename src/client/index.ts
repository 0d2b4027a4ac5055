import createClient, { type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

export type { components, paths };
export type Media = components['schemas']['Media'];
export type MediaEvent = components['schemas']['MediaEvent'];
export type Rendition = components['schemas']['Rendition'];
export type Webhook = components['schemas']['Webhook'];
export type WebhookDelivery = components['schemas']['WebhookDelivery'];

/** A typed client of Gilfoyle's REST API, generated from its OpenAPI document (openapi-fetch). */
export const createGilfoyleClient = (baseUrl: string, options: Omit<ClientOptions, 'baseUrl'> = {}) =>
  createClient<paths>({ baseUrl, ...options });
export type GilfoyleClient = ReturnType<typeof createGilfoyleClient>;
