import { Readable } from 'node:stream';
import type { Context } from 'hono';
import rangeParser from 'range-parser';
import { HttpError } from '../domain/errors.ts';
import { StorageChangedError, StorageNotFoundError, type StoredObject } from '../storage/driver.ts';
import type { AppEnv } from './deps.ts';
import { fileBodyHeader, type FileBodies } from './file-bodies.ts';

/**
 * A stored object, whole or the one byte range the request asks for (RFC 9110: 206 with
 * Content-Range, 416 past the end; malformed and multi-range headers get the whole file), HEAD
 * with no body, 304 when If-None-Match names the ETag among `headersOf(info)`. The length and
 * range are those of `info`, the object as stat saw it: when a write replaced it since (a
 * playlist growing), the answer is built again on the new one. `missing` is the 404 when the
 * object is gone by the time it is read.
 */
export async function sendStored(
  c: Context<AppEnv>,
  key: string,
  info: StoredObject,
  headersOf: (info: StoredObject) => Record<string, string>,
  missing: () => HttpError,
): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await answerStored(c, key, info, headersOf(info));
    } catch (err) {
      if (err instanceof StorageNotFoundError) throw missing();
      if (!(err instanceof StorageChangedError)) throw err;
      if (attempt === 3) throw new HttpError(503, `${key} is being rewritten; try again`);
      const now = await c.var.deps.storage.stat(key);
      if (!now) throw missing();
      info = now;
    }
  }
}

async function answerStored(c: Context<AppEnv>, key: string, info: StoredObject, headers: Record<string, string>) {
  const all: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes' };
  if (headers['ETag'] && matchesEtag(c.req.header('if-none-match'), headers['ETag'])) return c.body(null, 304, all);
  const rangeHeader = c.req.header('range');
  let status: 200 | 206 = 200;
  let range: { start: number; end: number } | undefined;
  if (rangeHeader && info.size > 0) {
    const parsed = rangeParser(info.size, rangeHeader, { combine: true });
    if (parsed === -1) {
      return c.body(null, 416, { 'Content-Range': `bytes */${info.size}`, 'Accept-Ranges': 'bytes' });
    }
    if (parsed !== -2 && parsed.length === 1) {
      range = { start: parsed[0]!.start, end: parsed[0]!.end };
      status = 206;
      all['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    }
  }
  all['Content-Length'] = String(range ? range.end - range.start + 1 : info.size);
  if (c.req.method === 'HEAD') return c.body(null, status, all);
  const body = await c.var.deps.storage.get(key, range, info);
  // Behind the Node server (withFileBodies), the file is piped into the socket itself.
  const sendFile = (c.env as Partial<FileBodies> | undefined)?.sendFile;
  if (sendFile) return c.body(null, status, { ...all, [fileBodyHeader]: sendFile(body) });
  return c.body(Readable.toWeb(body) as unknown as ReadableStream, status, all);
}

/** Whether If-None-Match names `etag` (or is `*`): the answer is then 304 Not Modified. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  // Weak comparison (RFC 9110 13.1.2): W/ is ignored.
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** A header's quoted filename: printable ASCII without quotes or backslashes; the UTF-8 name in filename*. */
export const contentDisposition = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7E]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;
