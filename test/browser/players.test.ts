import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { launchChromium, screenshot } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { addSubtitles, helloSrt } from '../helpers/subtitles.ts';
import { playerState, playsPast, sitePage, startSite, type Player, type Site } from '../helpers/site.ts';

/**
 * The players a customer's site embeds (hls.js, Shaka Player with HLS and with DASH, dash.js),
 * each from npm, in Debian's Chromium, on a page whose origin is not Gilfoyle's, against
 * Gilfoyle with no CORS setting at all: the streams are readable from any site by default.
 */
const dir = scratchDir('gilfoyle-browser-players');
const secret = 'p'.repeat(32);
// A private media needs API keys (without them anyone could mint its tokens); the streams need none.
const auth = { authorization: `Bearer ${'k'.repeat(24)}` };
let browser: Browser;
let site: Site;
let g: RunningGilfoyle;
let publicId: string;
let privateId: string;

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startSite()]);
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '480p', height: 480, video_bitrate: 900 },
      { name: '240p', height: 240, video_bitrate: 250 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_PLAYBACK_SIGNING_SECRET: secret,
    GILFOYLE_AUTH_API_KEYS: JSON.stringify([{ name: 'site-backend', key: 'k'.repeat(24) }]),
  });
  const source = path.join(dir(), 'clip.mp4');
  await makeVideo(source, { seconds: 24, width: 854, height: 480, fps: 30 });
  const client = apiClient(g.url, auth);
  publicId = (await client.uploadNew('embedded', 'video', source)).id;
  const created = await fetch(`${g.url}/medias`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'embedded, private', private: true }),
  });
  privateId = ((await created.json()) as { data: { id: string } }).data.id;
  expect((await client.upload(privateId, 'video', source)).status).toBe(200);
  for (const id of [publicId, privateId])
    expect((await client.waitForStatus(id, ['Ready', 'Errored'], 180_000)).status).toBe('Ready');
}, 300_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await g?.stop();
});

/** Plays `url` in `player` from the site's page, watched for stalls from 0.5 s on, up to `until` seconds. */
async function play(player: Player, url: string, until = 3) {
  const opened = await sitePage(browser, site, g.url);
  await opened.start(player, url);
  await playsPast(opened.page, 0.5);
  await opened.page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
  await playsPast(opened.page, until);
  return opened;
}

async function expectClean(opened: { page: Page; foreign: string[]; errors: string[] }, name: string) {
  await screenshot(opened.page, `players-${name.replace(/\W+/g, '-')}`);
  expect(await playerState(opened.page)).toEqual({ stalls: [], fatal: null, error: null });
  expect(opened.foreign).toEqual([]);
  expect(opened.errors).toEqual([]);
  await opened.page.close();
}

const players = [
  ['hls.js', 'startHls', 'master.m3u8'],
  ['Shaka Player (HLS)', 'startShaka', 'master.m3u8'],
  ['Shaka Player (DASH)', 'startShaka', 'manifest.mpd'],
  ['dash.js', 'startDash', 'manifest.mpd'],
] as const;

it.each(players)(
  '%s plays a media for 3 s from a page on another origin',
  async (name, player, file) => {
    const opened = await play(player, `${g.url}/medias/${publicId}/stream/${file}`);
    await expectClean(opened, name);
  },
  60_000,
);

it('hls.js is forced to the top rung and then the lowest mid-play, and keeps playing', async () => {
  const opened = await play('startHls', `${g.url}/medias/${publicId}/stream/master.m3u8`, 1);
  const { page } = opened;
  const levels = await page.evaluate(() =>
    (window as never as { hls: { levels: { height: number }[] } }).hls.levels.map((l) => l.height),
  );
  expect(levels).toEqual([240, 480]);
  /** Switches now, then waits for a fragment of that level to load and for playback to go 2 s further on. */
  const forceTo = async (level: number) => {
    const from = await page.evaluate((level) => {
      const w = window as never as { hls: { currentLevel: number }; levelsLoaded: number[] };
      w.levelsLoaded = [];
      w.hls.currentLevel = level;
      return (document.getElementById('v') as HTMLVideoElement).currentTime;
    }, level);
    await page.waitForFunction(
      (level) => (window as never as { levelsLoaded: number[] }).levelsLoaded.includes(level),
      level,
      { timeout: 20_000 },
    );
    await playsPast(page, from + 2);
    return page.evaluate(() => (window as never as { hls: { currentLevel: number } }).hls.currentLevel);
  };
  expect(await forceTo(levels.length - 1)).toBe(levels.length - 1);
  expect(await forceTo(0)).toBe(0);
  // A forced switch drops the buffer ahead, and the player waits for the new rung once: not a stall to count.
  await page.evaluate(() => ((window as never as { stalls: number[] }).stalls = []));
  await expectClean(opened, 'hls.js-forced-rungs');
}, 90_000);

describe('a private media', () => {
  it('plays from its signed URL in each player, and not without it', async () => {
    const issued = await fetch(`${g.url}/medias/${privateId}/playback-token`, { method: 'POST', headers: auth });
    expect(issued.status).toBe(200);
    const { links } = ((await issued.json()) as { data: { links: { master: string; dash: string } } }).data;
    for (const [name, player, file] of players) {
      const opened = await play(player, `${g.url}${file === 'master.m3u8' ? links.master : links.dash}`);
      await expectClean(opened, `private-${name}`);
    }
    // Without the token, the player is refused (401) and says so, however the page's origin is allowed.
    const refused = await sitePage(browser, site, g.url);
    await refused.page.evaluate((url) => {
      void (window as never as { startHls(u: string): Promise<void> }).startHls(url);
    }, `${g.url}/medias/${privateId}/stream/master.m3u8`);
    await refused.page.waitForFunction(() => (window as never as { fatal?: string }).fatal !== undefined, null, {
      timeout: 20_000,
    });
    expect(await refused.page.evaluate(() => (window as never as { fatal: string }).fatal)).toBe('manifestLoadError');
    const answer = await fetch(`${g.url}/medias/${privateId}/stream/master.m3u8`, { headers: { origin: site.origin } });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    await refused.page.close();
  }, 120_000);

  it('needs its token for images and subtitles too, which its signed playlists carry', async () => {
    const issued = await fetch(`${g.url}/medias/${privateId}/playback-token`, { method: 'POST', headers: auth });
    const { query } = ((await issued.json()) as { data: { query: string } }).data;
    const thumbnail = `${g.url}/medias/${privateId}/thumbnail.jpg?time=1`;
    expect((await fetch(thumbnail)).status).toBe(401);
    const signed = await fetch(`${thumbnail}&${query}`);
    expect(signed.status).toBe(200);
    expect(signed.headers.get('content-type')).toBe('image/jpeg');
    expect(signed.headers.get('cache-control')).toMatch(/^private/);
    await addSubtitles(g.url, privateId, helloSrt, auth);
    const master = await (await fetch(`${g.url}/medias/${privateId}/stream/master.m3u8?${query}`)).text();
    const uri = /TYPE=SUBTITLES.*URI="([^"]+)"/.exec(master)![1]!;
    expect(uri).toContain('token=');
    const playlist = await (await fetch(`${g.url}/medias/${privateId}/stream/${uri}`)).text();
    const segment = playlist.split('\n').find((l) => l.startsWith('hlstext_'))!;
    expect(segment).toContain('token=');
    expect((await fetch(`${g.url}/medias/${privateId}/stream/${segment}`)).status).toBe(200);
    expect((await fetch(`${g.url}/medias/${privateId}/stream/${segment.split('?')[0]}`)).status).toBe(401);
  });
});
