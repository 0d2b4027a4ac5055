import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRouter } from '../../src/api/router.ts';
import { defaultAdminDir } from '../../src/api/routes/admin/admin.handlers.ts';
import { registerAdminRoutes } from '../../src/api/routes/admin/admin.index.ts';

describe('admin page route', () => {
  let root: string;
  let app: ReturnType<typeof createRouter>;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-admin-'));
    await mkdir(path.join(root, 'assets'));
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>admin</title>');
    await writeFile(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(path.join(root, 'assets', 'index-abc123.css'), 'body{}');
    app = createRouter();
    registerAdminRoutes(app, { dir: root });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it.each(['/admin', '/admin/', '/admin/index.html'])(
    'serves index.html at %s, revalidated on every load',
    async (url) => {
      const res = await app.request(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<title>admin</title>');
    },
  );

  it('serves hashed assets with their content type, cached for good', async () => {
    const js = await app.request('/admin/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const css = await app.request('/admin/assets/index-abc123.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await app.request('/admin/');
    const etag = first.headers.get('etag')!;
    const again = await app.request('/admin/', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it.each([
    '/admin/assets/nope.js',
    '/admin/assets/..%2f..%2fpackage.json',
    '/admin/assets/..%5c..%5cpackage.json',
    '/admin/.hidden',
    '/admin/assets',
  ])('answers a JSON 404 for %s', async (url) => {
    const res = await app.request(url);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 404, message: expect.any(String) });
  });

  it('finds the committed build relative to the package root, with every asset index.html names', () => {
    expect(path.resolve(defaultAdminDir)).toBe(fileURLToPath(new URL('../../admin/dist', import.meta.url)));
    const html = readFileSync(path.join(defaultAdminDir, 'index.html'), 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="\/admin\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) expect(existsSync(path.join(defaultAdminDir, asset))).toBe(true);
  });
});
