import { randomUUID } from 'node:crypto';
import type { RouteHandler } from '@hono/zod-openapi';
import { HttpError } from '../../domain/errors.ts';
import { mediaPrefix } from '../../domain/paths.ts';
import type { AppEnv } from '../deps.ts';
import type * as routes from './medias.routes.ts';
import { toEventJson, toMediaJson, toRenditionJson } from './medias.schemas.ts';

const notFound = (id: string) => new HttpError(404, `media ${id} not found`);

export const listMedias: RouteHandler<typeof routes.listMedias, AppEnv> = async (c) => {
  const { limit, offset } = c.req.valid('query');
  const { items, total } = await c.var.deps.medias.list(limit, offset);
  return c.json({ code: 200, data: items.map(toMediaJson), metadata: { total, limit, offset } }, 200);
};

export const createMedia: RouteHandler<typeof routes.createMedia, AppEnv> = async (c) => {
  const { title } = c.req.valid('json');
  const media = await c.var.deps.medias.create(randomUUID(), title);
  return c.json({ code: 200, data: toMediaJson(media) }, 200);
};

export const getMedia: RouteHandler<typeof routes.getMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const media = await c.var.deps.medias.get(id);
  if (!media) throw notFound(id);
  return c.json({ code: 200, data: toMediaJson(media) }, 200);
};

export const updateMedia: RouteHandler<typeof routes.updateMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { title } = c.req.valid('json');
  const media = await c.var.deps.medias.updateTitle(id, title);
  if (!media) throw notFound(id);
  return c.json({ code: 200, data: toMediaJson(media) }, 200);
};

export const deleteMedia: RouteHandler<typeof routes.deleteMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias, storage, stopWorkflow, logger } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  try {
    // Stop the pipeline first so it writes no more files, then files, then rows: a failure
    // part-way leaves the row, and the DELETE can simply be repeated.
    await stopWorkflow(id, 'media deleted through the API');
    await storage.deletePrefix(mediaPrefix(id));
  } catch (err) {
    logger.warn({ mediaId: id, err: (err as Error).message }, 'delete failed');
    throw new HttpError(503, `could not delete media ${id} now: ${(err as Error).message}`);
  }
  await medias.delete(id);
  return c.json({ code: 200, data: { id } }, 200);
};

export const listEvents: RouteHandler<typeof routes.listEvents, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { limit, offset } = c.req.valid('query');
  const { medias } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  const { items, total } = await medias.listEvents(id, limit, offset);
  return c.json({ code: 200, data: items.map(toEventJson), metadata: { total, limit, offset } }, 200);
};

export const listRenditions: RouteHandler<typeof routes.listRenditions, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  return c.json({ code: 200, data: (await medias.listRenditions(id)).map(toRenditionJson) }, 200);
};
