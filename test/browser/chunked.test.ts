import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { isolatedPage, launchChromium, screenshot } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { freePort, repoRoot } from '../helpers/services.ts';

/**
 * Chunked media in the players a customer's site embeds (hls.js, Shaka Player with HLS and with
 * DASH), in Chromium, from a page on another origin: they play across chunk edges and seek onto
 * one without stalling, and a long media plays before it is Ready, into chunks stored after
 * playback started.
 */
const dir = scratchDir('gilfoyle-browser-chunked');
const chunkSeconds = 4;
let browser: Browser;
let site: Server;
let siteOrigin: string;

/** The customer's site: a page with a video element and the players, served from node_modules. */
async function startSite(): Promise<void> {
  const files: Record<string, string> = {
    '/hls.js': path.join(repoRoot, 'node_modules/hls.js/dist/hls.min.js'),
    '/shaka.js': path.join(repoRoot, 'node_modules/shaka-player/dist/shaka-player.compiled.js'),
  };
  const page = `<!doctype html><meta charset="utf-8"><title>site</title>
<video id="v" muted playsinline style="width:640px"></video>
<script src="/hls.js"></script><script src="/shaka.js"></script>
<script>
  const v = document.getElementById('v');
  window.stalls = [];
  window.watching = false;
  v.addEventListener('waiting', () => { if (window.watching) window.stalls.push(v.currentTime); });
  window.startHls = async (url) => {
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.fatal = d.details; });
    hls.loadSource(url);
    hls.attachMedia(v);
    await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
    await v.play();
  };
  window.startShaka = async (url) => {
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    await player.attach(v);
    player.addEventListener('error', (e) => { window.fatal = String(e.detail.code); });
    await player.load(url);
    await v.play();
  };
</script>`;
  site = createServer(async (req, res) => {
    const file = files[req.url ?? ''];
    if (file) res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(file));
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => site.listen(port, '127.0.0.1', resolve));
  siteOrigin = `http://127.0.0.1:${port}`;
}

const gilfoyle = (preset: string) =>
  startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '480p', height: 480, video_bitrate: 900 },
      { name: '240p', height: 240, video_bitrate: 300 },
    ]),
    GILFOYLE_ENCODING_PRESET: preset,
    GILFOYLE_ENCODING_CONCURRENCY: '1',
    GILFOYLE_ENCODING_CHUNK_SECONDS: String(chunkSeconds),
    GILFOYLE_ENCODING_CHUNK_THRESHOLD_SECONDS: '10',
    // The embedding site's origin may read the streams (CORS).
    GILFOYLE_CORS_ORIGINS: JSON.stringify([siteOrigin]),
  });

beforeAll(async () => {
  [browser] = await Promise.all([launchChromium(), startSite()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  site?.close();
});

/** The site's page, allowed to reach only itself and Gilfoyle. */
async function sitePage(g: RunningGilfoyle) {
  const isolated = await isolatedPage(browser, [siteOrigin, g.url]);
  await isolated.page.goto(`${siteOrigin}/`);
  return isolated;
}

const currentTime = (page: Page) => page.evaluate(() => (document.getElementById('v') as HTMLVideoElement).currentTime);
const playsPast = (page: Page, t: number, timeout = 20_000) =>
  page.waitForFunction(
    (t) => {
      const v = document.getElementById('v') as HTMLVideoElement;
      return v.currentTime > t && !v.paused && v.readyState >= 3;
    },
    t,
    { timeout },
  );

describe('a chunked media, Ready', () => {
  let g: RunningGilfoyle;
  let mediaId: string;
  beforeAll(async () => {
    g = await gilfoyle('veryfast');
    const source = path.join(dir(), 'short.mp4');
    await makeVideo(source, { seconds: 20, width: 854, height: 480, fps: 30 });
    const client = apiClient(g.url);
    mediaId = (await client.uploadNew('edges', 'video', source)).id;
    expect((await client.waitForStatus(mediaId, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
    expect((await client.renditions(mediaId)).find((r) => r.name === '240p')?.chunks?.total).toBe(5);
  }, 180_000);
  afterAll(() => g?.stop());

  it.each([
    ['hls.js', 'startHls', 'master.m3u8'],
    ['Shaka Player (HLS)', 'startShaka', 'master.m3u8'],
    ['Shaka Player (DASH)', 'startShaka', 'manifest.mpd'],
  ] as const)(
    '%s plays across a chunk edge and seeks onto one without stalling',
    async (name, start, file) => {
      const { page, foreign, errors } = await sitePage(g);
      await page.evaluate(([fn, url]) => (window as never as Record<string, (u: string) => Promise<void>>)[fn]!(url), [
        start,
        `${g.url}/medias/${mediaId}/stream/${file}`,
      ] as const);
      await playsPast(page, 0.5);
      await page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
      // Across the edge between the first and second chunks (4 s).
      await playsPast(page, chunkSeconds + 1.5);
      // Onto the edge between the third and fourth chunks, exactly, and on from it.
      await page.evaluate(() => ((window as never as { watching: boolean }).watching = false));
      await page.evaluate(
        (t) => ((document.getElementById('v') as HTMLVideoElement).currentTime = t),
        3 * chunkSeconds,
      );
      await playsPast(page, 3 * chunkSeconds + 0.3);
      await page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
      await playsPast(page, 3 * chunkSeconds + 2.5);
      const state = await page.evaluate(() => {
        const w = window as never as { stalls: number[]; fatal?: string };
        return {
          stalls: w.stalls,
          fatal: w.fatal ?? null,
          error: (document.getElementById('v') as HTMLVideoElement).error,
        };
      });
      await screenshot(page, `chunked-${name.replace(/\W+/g, '-')}`);
      expect(state).toEqual({ stalls: [], fatal: null, error: null });
      expect(foreign).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    },
    90_000,
  );
});

it('hls.js starts a 10-minute media before it is Ready and plays on into chunks stored after it started', async () => {
  const g = await gilfoyle('slow');
  try {
    const source = path.join(dir(), 'long.mp4');
    await makeVideo(source, { seconds: 600, width: 640, height: 360, fps: 25, crf: 38 });
    const client = apiClient(g.url);
    const media = await client.uploadNew('ten minutes', 'video', source);
    await client.waitForStatus(media.id, ['Processing'], 60_000);
    const playable = await (async () => {
      for (;;) {
        const m = (await client.getMedia(media.id)).body.data;
        if (m.playable || m.status !== 'Processing') return m;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    expect(playable).toMatchObject({ status: 'Processing', playable: true });
    const { page, foreign, errors } = await sitePage(g);
    const startedAt = Date.now();
    await page.evaluate(
      (url) => (window as never as { startHls(u: string): Promise<void> }).startHls(url),
      `${g.url}/medias/${media.id}/stream/master.m3u8`,
    );
    await playsPast(page, 0.5);
    await page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
    // Into the third chunk of the playable rung (8–12 s).
    await playsPast(page, 2 * chunkSeconds + 1, 40_000);
    const state = await page.evaluate(() => (window as never as { stalls: number[]; fatal?: string }).stalls);
    expect(state).toEqual([]);
    expect(await currentTime(page)).toBeGreaterThan(2 * chunkSeconds + 1);
    // Still being encoded, and what it played of the third chunk was stored after playback began.
    expect((await client.getMedia(media.id)).body.data.status).toBe('Processing');
    const third = (await client.events(media.id)).find(
      (e) => e.type === 'rendition.chunk_ready' && e.data.rendition === '240p' && e.data.chunk === 2,
    );
    expect(new Date(third!.created_at).getTime()).toBeGreaterThan(startedAt);
    await screenshot(page, 'chunked-live-hls.js');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
    // A 10-minute encode need not finish here.
    expect((await client.remove(media.id)).status).toBe(200);
  } finally {
    await g.stop();
  }
}, 240_000);
