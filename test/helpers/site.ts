import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { isolatedPage } from './browser.ts';
import { freePort, repoRoot } from './services.ts';

/**
 * A customer's site on an origin of its own (not Gilfoyle's): a page with a video element and
 * the players a site embeds, each from npm (node_modules), started by a function of the page:
 * startHls, startShaka (HLS or DASH), startDash. Each records a fatal error in window.fatal and
 * every stall ("waiting" while window.watching) in window.stalls; window.hls is the hls.js player,
 * window.shakaPlayer Shaka's.
 */
const page = `<!doctype html><meta charset="utf-8"><title>site</title>
<video id="v" muted playsinline style="width:640px"></video>
<script src="/hls.js"></script><script src="/shaka.js"></script><script src="/dash.js"></script>
<script>
  const v = document.getElementById('v');
  window.stalls = [];
  window.watching = false;
  window.levelsLoaded = [];
  v.addEventListener('waiting', () => { if (window.watching) window.stalls.push(v.currentTime); });
  window.startHls = async (url) => {
    const hls = new Hls();
    window.hls = hls;
    hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.fatal = d.details; });
    hls.on(Hls.Events.FRAG_LOADED, (_e, d) => { if (d.frag.type === 'main') window.levelsLoaded.push(d.frag.level); });
    hls.loadSource(url);
    hls.attachMedia(v);
    await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
    await v.play();
  };
  window.startShaka = async (url) => {
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    window.shakaPlayer = player;
    await player.attach(v);
    player.addEventListener('error', (e) => { window.fatal = String(e.detail.code); });
    await player.load(url);
    await v.play();
  };
  window.startDash = async (url) => {
    const player = dashjs.MediaPlayer().create();
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => { window.fatal = String(e.error && e.error.code); });
    player.initialize(v, url, false);
    await new Promise((r) => v.addEventListener('loadedmetadata', r, { once: true }));
    await v.play();
  };
</script>`;

const scripts: Record<string, string> = {
  '/hls.js': 'node_modules/hls.js/dist/hls.min.js',
  '/shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  '/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

export interface Site {
  origin: string;
  close(): void;
}

export async function startSite(): Promise<Site> {
  const server = createServer(async (req, res) => {
    const file = scripts[req.url ?? ''];
    if (file) res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(path.join(repoRoot, file)));
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export type Player = 'startHls' | 'startShaka' | 'startDash';

/** The site's page, allowed to reach only itself and Gilfoyle (anything else is recorded in `foreign`). */
export async function sitePage(browser: Browser, site: Site, gilfoyleUrl: string) {
  const isolated = await isolatedPage(browser, [site.origin, gilfoyleUrl]);
  await isolated.page.goto(`${site.origin}/`);
  const start = (player: Player, url: string) =>
    isolated.page.evaluate(([fn, u]) => (window as never as Record<string, (u: string) => Promise<void>>)[fn]!(u), [
      player,
      url,
    ] as const);
  return { ...isolated, start };
}

export const currentTime = (page: Page) =>
  page.evaluate(() => (document.getElementById('v') as HTMLVideoElement).currentTime);

/** Waits until the video has played past `t` seconds and is still playing. */
export const playsPast = (page: Page, t: number, timeout = 20_000) =>
  page.waitForFunction(
    (t) => {
      const v = document.getElementById('v') as HTMLVideoElement;
      return v.currentTime > t && !v.paused && v.readyState >= 3;
    },
    t,
    { timeout },
  );

/** What went wrong in the page's player: stalls while watched, a fatal error, the video element's error. */
export const playerState = (page: Page) =>
  page.evaluate(() => {
    const w = window as never as { stalls: number[]; fatal?: string };
    const error = (document.getElementById('v') as HTMLVideoElement).error;
    return { stalls: w.stalls, fatal: w.fatal ?? null, error: error ? `${error.code} ${error.message}` : null };
  });
