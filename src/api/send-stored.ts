import { Readable } from 'node:stream';
import type { Context } from 'hono';
import rangeParser from 'range-parser';
import { HttpError } from '../domain/errors.ts';
import { StorageNotFoundError, type StoredObject } from '../storage/driver.ts';
import type { AppEnv } from './deps.ts';

/**
 * A stored object, whole or the one byte range the request asks for (RFC 9110: 206 with
 * Content-Range, 416 past the end; malformed and multi-range headers get the whole file), HEAD
 * with no body. `missing` is the 404 when the object is gone by the time it is read.
 */
export async function sendStored(
  c: Context<AppEnv>,
  key: string,
  info: StoredObject,
  headers: Record<string, string>,
  missing: () => HttpError,
) {
  const all: Record<string, string> = { ...headers, 'Accept-Ranges': 'bytes' };
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
  let body: Readable;
  try {
    body = await c.var.deps.storage.get(key, range);
  } catch (err) {
    if (err instanceof StorageNotFoundError) throw missing();
    throw err;
  }
  return c.body(Readable.toWeb(body) as unknown as ReadableStream, status, all);
}

/** A header's quoted filename: printable ASCII without quotes or backslashes; the UTF-8 name in filename*. */
export const contentDisposition = (name: string) =>
  `attachment; filename="${name.replace(/[^\x20-\x7E]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`;
