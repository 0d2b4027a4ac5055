import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Scalar } from '@scalar/hono-api-reference';
import type { Context } from 'hono';

/**
 * The API reference at /docs (Scalar), rendering /openapi.json. Scalar's browser bundle is
 * served from the installed package, not a CDN: the page works on a network without internet.
 */
const scalarBundleFile = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')),
  'browser/standalone.js',
);
export const scalarBundlePath = '/docs/scalar.js';

/** The reference page itself, which loads the bundle below and the document. */
export const docsPage = Scalar({
  url: '/openapi.json',
  cdn: scalarBundlePath,
  pageTitle: 'Gilfoyle API',
  withDefaultFonts: false,
  hideClientButton: true,
  telemetry: false,
});

/** Scalar's browser bundle, from node_modules. */
export async function scalarBundle(c: Context) {
  const { size } = await stat(scalarBundleFile);
  return c.body(Readable.toWeb(createReadStream(scalarBundleFile)) as unknown as ReadableStream, 200, {
    'content-type': 'text/javascript; charset=utf-8',
    'content-length': String(size),
    'cache-control': 'public, max-age=86400',
  });
}
