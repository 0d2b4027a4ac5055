import { randomUUID } from 'node:crypto';
import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HttpError } from '../../../domain/errors.ts';
import { uploadedSourceKey } from '../../../domain/paths.ts';
import type { SourceKind } from '../../../domain/status.ts';
import type { AppEnv } from '../../deps.ts';
import { clientText, multipartOverhead, receiveFile, type ReceivedFile } from '../../multipart.ts';
import { mediaIdOf } from '../../params.ts';
import { toMediaJson } from '../medias/medias.schemas.ts';
import type * as routes from './uploads.routes.ts';
import { scheduleSource, tooLarge, uploadableMedia, type UploadWay } from './uploads.service.ts';

const scheduled = async (
  c: Context<AppEnv>,
  id: string,
  kind: SourceKind,
  via: UploadWay,
  file: ReceivedFile & { url?: string },
  key?: string,
) =>
  c.json(
    {
      code: 200,
      data: {
        ...toMediaJson(await scheduleSource(c.var.deps, id, kind, via, file, key), c.var.deps.config),
        success: true as const,
      },
    },
    200,
  );

/** POST /medias/{id}/upload/video|audio: the multipart body streamed into storage, then scheduled. */
export const uploadMultipart = (kind: SourceKind) => async (c: Context<AppEnv>) => {
  const id = mediaIdOf(c.req.param('id'));
  const maxSize = c.var.deps.config.settings.max_file_size;
  const contentType = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    throw new HttpError(415, 'expected multipart/form-data with the file in a field named "file"');
  }
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxSize + multipartOverhead) throw tooLarge(maxSize);
  await uploadableMedia(c.var.deps, id);
  const key = uploadedSourceKey(id, randomUUID());
  const file = await receiveFile(c, key, maxSize, { tooLarge: tooLarge(maxSize) });
  return scheduled(c, id, kind, 'multipart', file, key);
};

/** POST /medias/{id}/upload-url: a presigned PUT for a client that uploads straight to the object store. */
export const createUploadUrl: RouteHandler<typeof routes.uploadUrl, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const body = c.req.valid('json');
  const { storage, config } = c.var.deps;
  await uploadableMedia(c.var.deps, id);
  if (body.size > config.settings.max_file_size) throw tooLarge(config.settings.max_file_size);
  const expires = config.storage.presign_expiry_seconds;
  // A key of its own for each upload, which its URL can create but not replace (If-None-Match).
  const upload = randomUUID();
  const url = await storage.uploadUrl(uploadedSourceKey(id, upload), body.size, expires, body.content_type);
  if (!url)
    throw new HttpError(
      409,
      `the ${storage.name} storage driver takes no direct uploads: use POST /medias/${id}/upload/video or /upload/audio`,
    );
  const data = {
    url,
    method: 'PUT' as const,
    headers: {
      'Content-Length': String(body.size),
      'If-None-Match': '*',
      ...(body.content_type ? { 'Content-Type': body.content_type } : {}),
    },
    expires_at: new Date(Date.now() + expires * 1000).toISOString(),
    complete: `/medias/${id}/upload/complete?upload=${upload}`,
  };
  return c.json({ code: 200, data }, 200);
};

/** POST /medias/{id}/upload/complete: the client's PUT is done; check the object and schedule it. */
export const completeUpload: RouteHandler<typeof routes.uploadComplete, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { upload } = c.req.valid('query');
  const kind = (c.req.header('content-type')?.includes('json') ? c.req.valid('json').kind : undefined) ?? 'video';
  const { storage, config } = c.var.deps;
  await uploadableMedia(c.var.deps, id);
  const key = uploadedSourceKey(id, upload);
  const stored = await storage.stat(key);
  if (!stored)
    throw new HttpError(
      409,
      `no uploaded file found for media ${id}: PUT it to the URL from POST /medias/${id}/upload-url first`,
    );
  if (stored.size > config.settings.max_file_size) {
    await storage.deletePrefix(key);
    throw tooLarge(config.settings.max_file_size);
  }
  return scheduled(c, id, kind, 'direct', { size: stored.size, filename: null, contentType: null }, key);
};

/** POST /medias/{id}/upload/url: a worker fetches the file from the URL, then processes it. */
export const uploadFromUrl: RouteHandler<typeof routes.uploadFromUrl, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const body = c.req.valid('json');
  await uploadableMedia(c.var.deps, id);
  let name: string | null;
  try {
    name = clientText(decodeURIComponent(new URL(body.url).pathname.split('/').pop() ?? ''));
  } catch {
    name = null; // a malformed %-escape: no name
  }
  return scheduled(c, id, body.kind, 'url', { size: 0, filename: name, contentType: null, url: body.url });
};
