import path from 'node:path';
import { compress } from 'hono/compress';
import type { AppRouter } from '../../router.ts';
import { adminFiles, defaultAdminDir } from './admin.handlers.ts';

export function registerAdminRoutes(app: AppRouter, options: { dir?: string } = {}) {
  const send = adminFiles(path.resolve(options.dir ?? defaultAdminDir));
  // The bundle is mostly JavaScript (hls.js alone is ~580 kB): gzip it on the way out.
  app.use('/admin/*', compress());
  // strict: false in the router, so '/admin' also answers '/admin/'.
  app.get('/admin', (c) => send(c, 'index.html'));
  app.get('/admin/', (c) => send(c, 'index.html'));
  app.get('/admin/*', (c) => {
    const relative = c.req.path.slice('/admin/'.length);
    return relative === '' || relative === 'index.html' ? send(c, 'index.html') : send(c, relative);
  });
}
