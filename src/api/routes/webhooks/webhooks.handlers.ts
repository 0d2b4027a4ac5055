import { randomBytes, randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RouteHandler } from '@hono/zod-openapi';
import type { WebhookEndpointRow } from '../../../db/webhooks.ts';
import { forbiddenAddress } from '../../../domain/addresses.ts';
import { withinMs } from '../../../patience.ts';
import { HttpError } from '../../../domain/errors.ts';
import { secretPrefix } from '../../../domain/webhooks.ts';
import type { AppDeps, AppEnv } from '../../deps.ts';
import type * as routes from './webhooks.routes.ts';
import { toDeliveryJson, toWebhookJson } from './webhooks.schemas.ts';
import { withoutControlChars } from '../../params.ts';

const notFound = (id: string) => new HttpError(404, `webhook ${id} not found`);
const newSecret = () => `${secretPrefix}${randomBytes(32).toString('base64')}`;

const lookupBudgetMs = 3000;

/**
 * A webhook URL must not lead to a private, loopback or link-local address (unless allowed):
 * its host is checked here, as an address or by resolving its name, and every connection of a
 * delivery is checked again when it is made (a name that resolves only later included).
 */
async function checkUrl(deps: AppDeps, url: string): Promise<void> {
  if (deps.config.settings.url_fetch.allow_private_addresses) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    // A name that does not resolve from here (yet) is taken: each delivery checks the addresses it
    // connects to. So is one whose lookup takes longer than lookupBudgetMs: getaddrinfo runs on
    // libuv's few threads, and a slow resolver (or deliveries' lookups queued there) must not hold
    // the request past a client's timeout.
    addresses = (await withinMs(lookup(host, { all: true }), lookupBudgetMs).catch(() => [])).map((a) => a.address);
  }
  for (const a of addresses) {
    const why = forbiddenAddress(a);
    if (why)
      throw new HttpError(
        400,
        `url: ${isIP(host) ? why : `${host} resolves to ${why}`}; webhooks to such addresses need settings.url_fetch.allow_private_addresses`,
      );
  }
}

async function endpointOf(deps: AppDeps, id: string, change = false): Promise<WebhookEndpointRow> {
  const w = await deps.webhooks.get(id);
  if (!w) throw notFound(id);
  if (change && w.declared)
    throw new HttpError(409, `webhook ${id} is declared in gilfoyle.yml (webhooks.endpoints): change it there`);
  return w;
}

export const createWebhook: RouteHandler<typeof routes.createWebhook, AppEnv> = async (c) => {
  const body = c.req.valid('json');
  await checkUrl(c.var.deps, body.url);
  const w = await c.var.deps.webhooks.create(randomUUID(), {
    url: body.url,
    events: body.events ?? null,
    // Kept as a label: Postgres takes no NUL, and no control character belongs in one.
    description: withoutControlChars(body.description ?? ''),
    enabled: body.enabled ?? true,
    secret: newSecret(),
  });
  return c.json({ code: 200, data: toWebhookJson(w, true) }, 200);
};

export const listWebhooks: RouteHandler<typeof routes.listWebhooks, AppEnv> = async (c) => {
  const { limit, offset } = c.req.valid('query');
  const { items, total } = await c.var.deps.webhooks.list(limit, offset);
  return c.json({ code: 200, data: items.map((w) => toWebhookJson(w)), metadata: { total, limit, offset } }, 200);
};

export const getWebhook: RouteHandler<typeof routes.getWebhook, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  return c.json({ code: 200, data: toWebhookJson(await endpointOf(c.var.deps, id)) }, 200);
};

export const updateWebhook: RouteHandler<typeof routes.updateWebhook, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const change = c.req.valid('json');
  await endpointOf(c.var.deps, id, true);
  if (change.url) await checkUrl(c.var.deps, change.url);
  const w = await c.var.deps.webhooks.update(id, {
    ...change,
    ...(change.description !== undefined ? { description: withoutControlChars(change.description) } : {}),
  });
  if (!w) throw notFound(id);
  return c.json({ code: 200, data: toWebhookJson(w) }, 200);
};

export const deleteWebhook: RouteHandler<typeof routes.deleteWebhook, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  await endpointOf(c.var.deps, id, true);
  if (!(await c.var.deps.webhooks.delete(id))) throw notFound(id);
  return c.json({ code: 200, data: { id } }, 200);
};

export const rotateWebhookSecret: RouteHandler<typeof routes.rotateWebhookSecret, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  await endpointOf(c.var.deps, id, true);
  const w = await c.var.deps.webhooks.rotateSecret(id, newSecret());
  if (!w) throw notFound(id);
  return c.json({ code: 200, data: toWebhookJson(w, true) }, 200);
};

export const listDeliveries: RouteHandler<typeof routes.listDeliveries, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { limit, offset } = c.req.valid('query');
  await endpointOf(c.var.deps, id);
  const { items, total } = await c.var.deps.webhooks.listDeliveries(id, limit, offset);
  return c.json({ code: 200, data: items.map(toDeliveryJson), metadata: { total, limit, offset } }, 200);
};

export const redeliver: RouteHandler<typeof routes.redeliver, AppEnv> = async (c) => {
  const { id, delivery_id: deliveryId } = c.req.valid('param');
  await endpointOf(c.var.deps, id);
  const d = await c.var.deps.webhooks.redeliver(id, deliveryId);
  if (!d) throw new HttpError(404, `delivery ${deliveryId} of webhook ${id} not found`);
  await c.var.deps.startDelivery(d.id, d.runs);
  return c.json({ code: 202, data: toDeliveryJson(d) }, 202);
};
