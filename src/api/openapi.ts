import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../config/load.ts';
import type { MediaRepository } from '../db/medias.ts';
import type { AttachmentRepository } from '../db/attachments.ts';
import type { WebhookRepository } from '../db/webhooks.ts';
import { createMetrics } from '../metrics.ts';
import type { StorageDriver } from '../storage/driver.ts';
import { createStreamCache } from './stream-cache.ts';
import { createApp } from './create-app.ts';

/**
 * The OpenAPI document, built from the route definitions without any service: what
 * /openapi.json serves, and what the typed client (src/client) is generated from.
 */
export async function openApiDocument(version = '0.0.0'): Promise<Record<string, unknown>> {
  const config = parseConfig({ tus: { dir: path.join(os.tmpdir(), 'gilfoyle-openapi-tus') } });
  const unavailable = () => Promise.reject(new Error('no services while generating the document'));
  const app = createApp({
    config,
    version,
    medias: {} as MediaRepository,
    webhooks: {} as WebhookRepository,
    attachments: {} as AttachmentRepository,
    startDelivery: unavailable,
    storage: {} as StorageDriver,
    streamCache: createStreamCache({ load: unavailable }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    stopWorkflow: unavailable,
    workflowRunning: unavailable,
    cancelWorkflow: unavailable,
    checkDependencies: unavailable,
  });
  const res = await app.request('/openapi.json');
  return (await res.json()) as Record<string, unknown>;
}
