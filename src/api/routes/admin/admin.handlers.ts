import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Context } from 'hono';
import type { AppEnv } from '../../deps.ts';
import { errorBody } from '../../envelope.ts';

/**
 * The operators' admin page: a static single-page app (admin/, Vite + Preact), built into the
 * committed admin/dist and served here under /admin. The same relative URL finds the package
 * root from src/api/routes/admin and from the compiled dist/api/routes/admin.
 */
export const defaultAdminDir = fileURLToPath(new URL('../../../../admin/dist/', import.meta.url));

const contentTypes: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  ico: 'image/x-icon',
  webp: 'image/webp',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

// One plain name per path segment: no dot segments, no hidden files, no encoded separators.
const safeSegment = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Vite names built assets by content hash: their URL changes with them, so they can be cached for good. */
const immutable = 'public, max-age=31536000, immutable';

/** Sends a file of the built page under `root`, revalidated (index.html) or cached for good (hashed assets). */
export function adminFiles(root: string) {
  const notFound = (c: Context<AppEnv>, message: string) => c.json(errorBody(404, message), 404);

  return async (c: Context<AppEnv>, relative: string) => {
    const segments = relative.split('/');
    if (!segments.every((s) => safeSegment.test(s))) return notFound(c, `no admin file ${JSON.stringify(relative)}`);
    const file = path.join(root, ...segments);
    if (!file.startsWith(root + path.sep)) return notFound(c, `no admin file ${JSON.stringify(relative)}`);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      const hint = relative === 'index.html' ? ' (build it: npx vite build --config admin/vite.config.ts)' : '';
      return notFound(c, `no admin file ${JSON.stringify(relative)}${hint}`);
    }
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const ext = file.slice(file.lastIndexOf('.') + 1).toLowerCase();
    const headers = {
      'Content-Type': contentTypes[ext] ?? 'application/octet-stream',
      'Cache-Control': segments[0] === 'assets' ? immutable : 'no-cache',
      ETag: etag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(await readFile(file), 200, headers);
  };
}
