import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppRouter } from '../create-app.ts';

/**
 * The API reference at /docs (Scalar), rendering /openapi.json. Scalar's browser bundle is
 * served from the installed package, not a CDN: the page works on a network without internet.
 */
const scalarBundle = path.join(path.dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')), 'browser/standalone.js');
const bundlePath = '/docs/scalar.js';

export function registerDocsRoutes(app: AppRouter) {
  app.get(
    '/docs',
    Scalar({
      url: '/openapi.json',
      cdn: bundlePath,
      pageTitle: 'Gilfoyle API',
      withDefaultFonts: false,
      hideClientButton: true,
      telemetry: false,
    }),
  );
  app.get(bundlePath, async (c) => {
    const { size } = await stat(scalarBundle);
    return c.body(Readable.toWeb(createReadStream(scalarBundle)) as unknown as ReadableStream, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': String(size),
      'cache-control': 'public, max-age=86400',
    });
  });
}
