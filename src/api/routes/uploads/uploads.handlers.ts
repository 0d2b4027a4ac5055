import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HttpError } from '../../../domain/errors.ts';
import { uploadedSourceKey } from '../../../domain/paths.ts';
import type { SourceKind } from '../../../domain/status.ts';
import type { AppEnv } from '../../deps.ts';
import { mediaIdOf } from '../../params.ts';
import { toMediaJson } from '../medias/medias.schemas.ts';
import type * as routes from './uploads.routes.ts';
import {
  clientText,
  scheduleSource,
  tooLarge,
  uploadableMedia,
  type ReceivedFile,
  type UploadWay,
} from './uploads.service.ts';

class FileTooLarge extends Error {}

/** Room for multipart boundaries and headers around the file in Content-Length. */
const multipartOverhead = 64 * 1024;

/**
 * Streams the multipart field "file" straight into storage, never holding the whole file.
 * Past `maxSize` the write is aborted and its partial object discarded.
 */
async function receiveFile(c: Context<AppEnv>, key: string, maxSize: number): Promise<ReceivedFile> {
  const { storage } = c.var.deps;
  const contentType = c.req.header('content-type') ?? '';
  if (!c.req.header('content-length') && !c.req.header('transfer-encoding')) {
    throw new HttpError(400, 'the request has no body: send multipart/form-data with a field named "file"');
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      limits: { files: 1, fileSize: maxSize, fields: 20, parts: 30 },
    });
  } catch {
    throw new HttpError(400, 'malformed multipart/form-data (missing boundary?)');
  }
  // On Node, read the request itself: the web stream of c.req.raw costs about half the throughput
  // (bench:upload). c.req.raw.body must then stay untouched: creating it starts a second reader.
  const raw = (c.env as { incoming?: Readable } | undefined)?.incoming;
  // Only while nobody has started reading it (the web body, once created, is its reader).
  const incoming =
    raw && !raw.readableDidRead && raw.listenerCount('data') === 0 && raw.listenerCount('readable') === 0 ? raw : null;
  const webBody = incoming ? null : c.req.raw.body;
  if (!incoming && !webBody) throw new HttpError(400, 'the request has no body');
  const input = incoming ?? Readable.fromWeb(webBody as unknown as WebReadableStream);
  return new Promise<ReceivedFile>((resolve, reject) => {
    let stored: Promise<ReceivedFile> | null = null;
    let current: Readable | null = null;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      // End the store's write, and drop what it wrote: a refused upload keeps nothing.
      current?.destroy();
      void stored
        ?.catch(() => undefined)
        .then(() => storage.deletePrefix(key))
        .catch(() => undefined);
      input.unpipe(parser);
      input.resume(); // drain the rest so the client gets our answer
      reject(err);
    };
    parser.on('field', (name) =>
      fail(new HttpError(400, `unexpected form field ${JSON.stringify(name)}: only the field "file" is taken`)),
    );
    parser.on('file', (field, stream, info) => {
      if (failed) {
        // Parts the parser had already buffered when the request was refused.
        stream.resume();
        return;
      }
      if (field !== 'file' || stored) {
        stream.resume();
        fail(
          new HttpError(
            400,
            field !== 'file'
              ? `unexpected form field ${JSON.stringify(field)}: only the field "file" is taken`
              : 'only one file is taken',
          ),
        );
        return;
      }
      current = stream;
      // Errors reach the store through its pipeline; this listener keeps a late one (after a
      // refusal) from being an unhandled 'error' event that would stop the process.
      stream.on('error', () => undefined);
      stream.on('limit', () => stream.destroy(new FileTooLarge()));
      stored = storage.put(key, stream).then(
        (size) => ({ size, filename: clientText(info.filename), contentType: clientText(info.mimeType) }),
        (err: Error) => {
          throw err instanceof FileTooLarge
            ? new HttpError(413, `the file is larger than the maximum of ${maxSize} bytes (max_file_size)`)
            : err;
        },
      );
      stored.catch(fail);
    });
    parser.on('error', () => fail(new HttpError(400, 'malformed multipart/form-data body')));
    // busboy drops a file past its limit of one without a word: a second file is refused, not ignored.
    parser.on('filesLimit', () => fail(new HttpError(400, 'only one file is taken')));
    input.on('error', () => fail(new HttpError(400, 'the upload was interrupted')));
    parser.on('close', () => {
      if (failed) return;
      if (!stored) return fail(new HttpError(400, 'multipart field "file" is missing'));
      stored.then(resolve, fail);
    });
    input.pipe(parser);
  });
}

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
        ...toMediaJson(await scheduleSource(c.var.deps, id, kind, via, file, key), c.var.deps.config.temporal),
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
  const file = await receiveFile(c, key, maxSize);
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
