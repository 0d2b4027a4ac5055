import path from 'node:path';
import { execa } from 'execa';
import type { Browser } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { launchChromium, screenshot } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { gilfoyleSite, startNginx, type RunningNginx } from '../helpers/nginx.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { playerState, playsPast, sitePage, startSite, type Site } from '../helpers/site.ts';

/**
 * storage.delivery: accel. A real nginx (Debian's) in front of Gilfoyle, configured with
 * deploy/nginx/gilfoyle.conf as the README gives it: every request goes to Gilfoyle, which checks
 * it and answers a file of a media with X-Accel-Redirect; nginx sends the file itself. hls.js
 * plays a media through it from a page on another origin; a private media without its token is
 * refused there too, and the internal location cannot be asked from outside.
 */
const dir = scratchDir('gilfoyle-browser-nginx');
const secret = 'n'.repeat(32);
const key = 'k'.repeat(24);
const auth = { authorization: `Bearer ${key}` };
let browser: Browser;
let site: Site;
let g: RunningGilfoyle;
let nginx: RunningNginx;
let publicId: string;
let privateId: string;

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startSite()]);
  g = await startGilfoyle({
    GILFOYLE_STORAGE_DELIVERY: 'accel',
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '360p', height: 360, video_bitrate: 600 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_PLAYBACK_SIGNING_SECRET: secret,
    GILFOYLE_AUTH_API_KEYS: JSON.stringify([{ name: 'site-backend', key }]),
  });
  nginx = await startNginx(await gilfoyleSite({ upstream: new URL(g.url).host, storageRoot: g.storageRoot }));
  const source = path.join(dir(), 'clip.mp4');
  await makeVideo(source, { seconds: 10, width: 640, height: 360 });
  // Uploaded through nginx too (streamed on, not buffered).
  const client = apiClient(nginx.url, auth);
  publicId = (await client.uploadNew('through nginx', 'video', source)).id;
  const created = await fetch(`${nginx.url}/medias`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'through nginx, private', private: true }),
  });
  privateId = ((await created.json()) as { data: { id: string } }).data.id;
  expect((await client.upload(privateId, 'video', source)).status).toBe(200);
  for (const id of [publicId, privateId])
    expect((await client.waitForStatus(id, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await nginx?.stop();
  await g?.stop();
});

const segmentOf = async (base: string, id: string, query = '') => {
  const list = await (await fetch(`${base}/medias/${id}/stream/360p.m3u8${query}`)).text();
  return list.split('\n').find((l) => l && !l.startsWith('#'))!;
};

it('Gilfoyle answers a file with X-Accel-Redirect, and nginx sends it: Range, CORS, cache headers', async () => {
  const seg = await segmentOf(nginx.url, publicId);
  expect(seg).toMatch(/\.m4s\?v=/);
  // Gilfoyle itself sends no bytes: it names the file for nginx.
  const direct = await fetch(`${g.url}/medias/${publicId}/stream/${seg}`);
  expect(direct.headers.get('x-accel-redirect')).toMatch(
    new RegExp(`^/_gilfoyle_files/medias/${publicId}/stream/360p_\\d+\\.m4s$`),
  );
  expect((await direct.arrayBuffer()).byteLength).toBe(0);

  const whole = await fetch(`${nginx.url}/medias/${publicId}/stream/${seg}`, { headers: { origin: site.origin } });
  expect(whole.status).toBe(200);
  expect(whole.headers.get('server')).toMatch(/^nginx/);
  expect(whole.headers.get('x-accel-redirect')).toBeNull();
  expect(whole.headers.get('content-type')).toBe('video/iso.segment');
  expect(whole.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  expect(whole.headers.get('access-control-allow-origin')).toBe('*');
  const bytes = Buffer.from(await whole.arrayBuffer());
  expect(bytes.length).toBeGreaterThan(1000);
  const etag = whole.headers.get('etag')!;
  expect(etag).toBeTruthy();

  const ranged = await fetch(`${nginx.url}/medias/${publicId}/stream/${seg}`, { headers: { range: 'bytes=100-199' } });
  expect(ranged.status).toBe(206);
  expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
  expect(Buffer.from(await ranged.arrayBuffer())).toEqual(bytes.subarray(100, 200));
  const past = await fetch(`${nginx.url}/medias/${publicId}/stream/${seg}`, {
    headers: { range: `bytes=${bytes.length + 10}-` },
  });
  expect(past.status).toBe(416);
  const again = await fetch(`${nginx.url}/medias/${publicId}/stream/${seg}`, { headers: { 'if-none-match': etag } });
  expect(again.status).toBe(304);

  // A name that is no file of the media is still Gilfoyle's 404; the internal location is nobody's.
  expect((await fetch(`${nginx.url}/medias/${publicId}/stream/nope.m4s`)).status).toBe(404);
  expect((await fetch(`${nginx.url}/_gilfoyle_files/medias/${publicId}/stream/${seg.split('?')[0]}`)).status).toBe(404);
  // ffprobe reads the media from nginx.
  const probe = await execa('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_name,width,height',
    '-of',
    'csv=p=0',
    `${nginx.url}/medias/${publicId}/stream/master.m3u8`,
  ]);
  expect(probe.stdout).toContain('h264,640,360');
});

it('hls.js plays a media through nginx from a page on another origin', async () => {
  const opened = await sitePage(browser, site, nginx.url);
  await opened.start('startHls', `${nginx.url}/medias/${publicId}/stream/master.m3u8`);
  await playsPast(opened.page, 0.5);
  await opened.page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
  await playsPast(opened.page, 3);
  await screenshot(opened.page, 'nginx-accel-hls');
  expect(await playerState(opened.page)).toEqual({ stalls: [], fatal: null, error: null });
  expect(opened.foreign).toEqual([]);
  expect(opened.errors).toEqual([]);
  await opened.page.close();
}, 60_000);

it('refuses a private media’s files without its token, at nginx as at Gilfoyle, and sends them with it', async () => {
  const issued = await fetch(`${nginx.url}/medias/${privateId}/playback-token`, { method: 'POST', headers: auth });
  const { token } = ((await issued.json()) as { data: { token: string } }).data;
  const seg = await segmentOf(nginx.url, privateId, `?token=${encodeURIComponent(token)}`);
  expect(seg).toContain('token=');
  const bare = seg.split('?')[0]!;
  const refused = await fetch(`${nginx.url}/medias/${privateId}/stream/${bare}`);
  expect(refused.status).toBe(401);
  expect((await refused.json()) as { message: string }).toMatchObject({ message: expect.stringMatching(/private/) });
  const sent = await fetch(`${nginx.url}/medias/${privateId}/stream/${seg}`);
  expect(sent.status).toBe(200);
  expect(sent.headers.get('cache-control')).toMatch(/^private, /);
  expect((await sent.arrayBuffer()).byteLength).toBeGreaterThan(1000);
});
