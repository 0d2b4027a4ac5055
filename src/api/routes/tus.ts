import { rm } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server as TusServer, type Upload } from '@tus/server';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HttpError } from '../../domain/errors.ts';
import { isUuid, uploadedSourceKey } from '../../domain/paths.ts';
import type { SourceKind } from '../../domain/status.ts';
import type { AppDeps, AppEnv } from '../deps.ts';
import type { AppRouter } from '../create-app.ts';
import { errorBody } from '../envelope.ts';
import { mediaIdParams } from './medias.schemas.ts';
import { clientText, scheduleSource, uploadableMedia } from './uploads.handlers.ts';

/** /medias/{id}/tus/{uploadId}: the media id is in the path, the tus upload id after it. */
const tusPath = /^\/medias\/([0-9a-f-]{36})\/tus(?:\/([A-Za-z0-9_-]+))?\/?$/i;

/** tus expects thrown {status_code, body}: turn our errors into that, with the usual envelope. */
const tusError = (err: unknown) => {
  if (err instanceof HttpError) return { status_code: err.status, body: JSON.stringify(errorBody(err.status, err.message)) };
  return err;
};

/**
 * tus answers its own refusals in plain text ("Invalid upload-length"); they are given the API's
 * JSON error envelope like every other answer, keeping tus's headers.
 */
async function asEnvelope(res: Response): Promise<Response> {
  if (res.status < 400) return res;
  const text = (await res.text()).trim();
  let body: string;
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    body = typeof parsed.message === 'string' ? JSON.stringify(errorBody(res.status, parsed.message)) : JSON.stringify(errorBody(res.status, text));
  } catch {
    body = JSON.stringify(errorBody(res.status, text || res.statusText || 'upload refused'));
  }
  const headers = new Headers(res.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  return new Response(body, { status: res.status, headers });
}

/**
 * Resumable uploads with the tus protocol (@tus/server): POST /medias/{id}/tus creates an
 * upload, PATCH …/tus/{uploadId} sends bytes from the last offset (HEAD tells it). When the
 * last byte arrives, the file goes into storage and processing is scheduled as for any upload.
 * Parts live in tus.dir on this API machine; uploads left alone past tus.expiry_seconds expire.
 */
/** tus metadata as documented: ASCII keys, base64 values (or none); the pattern in the OpenAPI document. */
export const tusMetadataPattern = /^[!-+\--~]+( (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?(,[!-+\--~]+( (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?)*$/;

/** The metadata with a key given twice kept once (the first), or null when it is not tus metadata. */
export function normalizeTusMetadata(value: string): string | null {
  if (!tusMetadataPattern.test(value)) return null;
  const seen = new Set<string>();
  return value
    .split(',')
    .filter((pair) => {
      const key = pair.split(' ')[0]!;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .join(',');
}

export function createTusUploads(deps: AppDeps) {
  const { config, storage, logger } = deps;
  const dir = path.resolve(config.tus.dir);
  const tus = new TusServer({
    path: '/medias',
    datastore: new FileStore({ directory: dir, expirationPeriodInMilliseconds: config.tus.expiry_seconds * 1000 }),
    maxSize: config.settings.max_file_size,
    relativeLocation: true,
    // CORS as configured (cors.origins), not tus's default of any origin.
    allowedOrigins: (origin) => config.cors.origins.includes('*') || config.cors.origins.includes(origin),
    respectForwardedHeaders: true,
    namingFunction: (req) => {
      const mediaId = tusPath.exec(new URL(req.url).pathname)?.[1];
      if (!mediaId) throw { status_code: 404, body: JSON.stringify(errorBody(404, 'no such upload endpoint')) };
      return `${mediaId}_${crypto.randomUUID().replaceAll('-', '')}`;
    },
    generateUrl: (_req, { id }) => `/medias/${id.slice(0, 36)}/tus/${id}`,
    getFileIdFromRequest: (req) => {
      const m = tusPath.exec(new URL(req.url).pathname);
      // An upload id belongs to the media in its path, and to no other.
      return m?.[2] && m[2].startsWith(`${m[1]}_`) ? m[2] : undefined;
    },
    onUploadCreate: async (_req, upload: Upload) => {
      try {
        await uploadableMedia(deps, upload.id.slice(0, 36));
        const kind = upload.metadata?.kind ?? 'video';
        if (kind !== 'video' && kind !== 'audio') throw new HttpError(400, `invalid metadata kind "${kind}": video or audio`);
        return {};
      } catch (err) {
        throw tusError(err);
      }
    },
    onUploadFinish: async (_req, upload: Upload) => {
      const mediaId = upload.id.slice(0, 36);
      const file = path.join(dir, upload.id);
      try {
        await uploadableMedia(deps, mediaId);
        const key = uploadedSourceKey(mediaId, upload.id.slice(37));
        await storage.putFile(key, file);
        const kind: SourceKind = upload.metadata?.kind === 'audio' ? 'audio' : 'video';
        await scheduleSource(deps, mediaId, kind, 'tus', {
          size: upload.size ?? upload.offset,
          filename: clientText(upload.metadata?.filename),
          contentType: clientText(upload.metadata?.filetype),
        }, key);
        return {};
      } catch (err) {
        throw tusError(err);
      } finally {
        // The parts have served their purpose (or the upload cannot be used): free the disk.
        await rm(file, { force: true });
        await rm(`${file}.json`, { force: true });
      }
    },
  });

  let timer: NodeJS.Timeout | null = null;
  return {
    async handle(c: Context<AppEnv>) {
      const id = c.req.param('id') ?? '';
      if (!isUuid(id)) throw new HttpError(400, `invalid param: id: "${id}" is not a UUID`);
      const metadata = c.req.header('upload-metadata');
      if (metadata === undefined) return asEnvelope(await tus.handleWeb(c.req.raw));
      const normalized = normalizeTusMetadata(metadata);
      if (normalized === null) {
        throw new HttpError(400, 'invalid Upload-Metadata: comma-separated "key base64-value" pairs (kind, filename)');
      }
      if (normalized === metadata) return asEnvelope(await tus.handleWeb(c.req.raw));
      const headers = new Headers(c.req.raw.headers);
      headers.set('upload-metadata', normalized);
      return asEnvelope(await tus.handleWeb(new Request(c.req.raw, { headers })));
    },
    /** Expires abandoned uploads every tus.cleanup_interval_seconds. */
    startCleanup() {
      timer = setInterval(() => {
        tus.cleanUpExpiredUploads().then(
          (n) => n && logger.info({ expired: n }, 'expired tus uploads deleted'),
          (err: Error) => logger.warn({ err: err.message }, 'tus cleanup failed'),
        );
      }, config.tus.cleanup_interval_seconds * 1000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

export function registerTusRoutes(app: AppRouter, tus: ReturnType<typeof createTusUploads>) {
  const handle = (c: Context<AppEnv>) => {
    // tus answers a request without its protocol header 412, as for a version it does not speak;
    // a missing header is a malformed request.
    if (c.req.method !== 'OPTIONS' && c.req.method !== 'GET' && !c.req.header('tus-resumable')) {
      return c.json(errorBody(400, 'missing header Tus-Resumable: 1.0.0 (a tus client sends it)'), 400);
    }
    return tus.handle(c);
  };
  for (const p of ['/medias/:id/tus', '/medias/:id/tus/:uploadId']) {
    // Hono routes HEAD through GET handlers; tus answers HEAD (offset) and refuses GET.
    app.on(['POST', 'GET', 'HEAD', 'PATCH', 'OPTIONS', 'DELETE'], p, handle);
  }
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/medias/{id}/tus',
    tags: ['Uploads'],
    summary: 'Resumable upload (tus 1.0.0): create it here, then PATCH the Location from the last offset',
    description:
      'Any tus client works (tus-js-client, Uppy…). Metadata `kind` is video (default) or audio, `filename` is kept. ' +
      'HEAD on the upload URL gives the offset to resume from. Completing the upload schedules processing.',
    request: {
      params: mediaIdParams,
      headers: z.object({
        'tus-resumable': z.literal('1.0.0').openapi({ description: 'the tus protocol version' }),
        'upload-length': z.string().regex(/^(0|[1-9][0-9]{0,14})$/).openapi({ description: 'bytes of the whole file', example: '1048576' }),
        'upload-metadata': z
          .string()
          .regex(tusMetadataPattern)
          .optional()
          .openapi({ description: 'tus metadata, "key base64" pairs: kind (video or audio), filename', example: 'kind dmlkZW8=' }),
      }),
    },
    responses: {
      201: { description: 'Created; Location is the upload URL' },
      400: { description: 'Invalid tus request (headers, metadata)' },
      401: { description: 'API keys are configured and none was sent' },
      404: { description: 'No such media' },
      409: { description: 'Not uploadable now' },
      412: { description: 'Tus-Resumable missing or unsupported' },
      413: { description: 'Larger than max_file_size' },
      429: { description: 'Too many uploads started by this key' },
      503: { description: 'Storage or database unavailable' },
    },
  });
}
