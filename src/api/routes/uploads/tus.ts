import { accessSync, constants, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server as TusServer, type Upload } from '@tus/server';
import type { Context } from 'hono';
import { HttpError } from '../../../domain/errors.ts';
import { uploadedSourceKey } from '../../../domain/paths.ts';
import type { SourceKind } from '../../../domain/status.ts';
import type { AppDeps, AppEnv } from '../../deps.ts';
import { errorBody } from '../../envelope.ts';
import { mediaIdOf } from '../../params.ts';
import { clientText } from '../../multipart.ts';
import { scheduleSource, uploadableMedia } from './uploads.service.ts';

/** /medias/{id}/tus/{uploadId}: the media id is in the path, the tus upload id after it. */
const tusPath = /^\/medias\/([0-9a-f-]{36})\/tus(?:\/([A-Za-z0-9_-]+))?\/?$/i;

/** tus expects thrown {status_code, body}: turn our errors into that, with the usual envelope. */
const tusError = (err: unknown) => {
  if (err instanceof HttpError)
    return { status_code: err.status, body: JSON.stringify(errorBody(err.status, err.message)) };
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
    body =
      typeof parsed.message === 'string'
        ? JSON.stringify(errorBody(res.status, parsed.message))
        : JSON.stringify(errorBody(res.status, text));
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
export const tusMetadataPattern =
  /^[!-+\--~]+( (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?(,[!-+\--~]+( (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)?)*$/;

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

/**
 * Makes and checks the parts folder up front: FileStore creates it in a callback that throws where
 * nothing catches it, and the process dies without saying which setting to fix.
 */
export function prepareTusDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new Error(
      `the tus folder ${dir} (config tus.dir, env GILFOYLE_TUS_DIR) cannot be created or written: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function createTusUploads(deps: AppDeps) {
  const { config, storage, logger } = deps;
  const dir = path.resolve(config.tus.dir);
  prepareTusDir(dir);
  const tus = new TusServer({
    path: '/medias',
    datastore: new FileStore({ directory: dir, expirationPeriodInMilliseconds: config.tus.expiry_seconds * 1000 }),
    maxSize: config.settings.max_file_size,
    relativeLocation: true,
    // CORS as configured (cors.origins), not tus's default of any origin.
    allowedOrigins: (origin) => config.cors.origins.includes('*') || config.cors.origins.includes(origin),
    // Forwarded headers are believed only when proxies are trusted (server.trusted_proxies), as by the rate limit.
    respectForwardedHeaders: config.server.trusted_proxies.length > 0,
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
        if (kind !== 'video' && kind !== 'audio')
          throw new HttpError(400, `invalid metadata kind "${kind}": video or audio`);
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
        await scheduleSource(
          deps,
          mediaId,
          kind,
          'tus',
          {
            size: upload.size ?? upload.offset,
            filename: clientText(upload.metadata?.filename),
            contentType: clientText(upload.metadata?.filetype),
          },
          key,
        );
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
      mediaIdOf(c.req.param('id'));
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
export type TusUploads = ReturnType<typeof createTusUploads>;
