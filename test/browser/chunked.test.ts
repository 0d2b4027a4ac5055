import path from 'node:path';
import type { Browser } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { launchChromium, screenshot } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { waitFor } from '../helpers/services.ts';
import { currentTime, playerState, playsPast, sitePage, startSite, type Site } from '../helpers/site.ts';
import { addSubtitles, hlsSubtitleTracks, whenCueActive } from '../helpers/subtitles.ts';

/**
 * Chunked media in the players a customer's site embeds (hls.js, Shaka Player with HLS and with
 * DASH), in Chromium, from a page on another origin: they play across chunk edges and seek onto
 * one without stalling, and a long media plays before it is Ready, into chunks stored after
 * playback started.
 */
const dir = scratchDir('gilfoyle-browser-chunked');
const chunkSeconds = 4;
let browser: Browser;
let site: Site;

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
  });

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startSite()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  site?.close();
});

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

  it('hls.js shows a subtitle cue at its time on the chunked timeline (which starts 1 s in)', async () => {
    await addSubtitles(g.url, mediaId);
    const opened = await sitePage(browser, site, g.url);
    await opened.start('startHls', `${g.url}/medias/${mediaId}/stream/master.m3u8`);
    expect(await hlsSubtitleTracks(opened.page)).toEqual([{ name: 'English', lang: 'en' }]);
    const cue = await whenCueActive(opened.page, 'Hello from Gilfoyle');
    expect(cue.start).toBeCloseTo(2.0, 1);
    expect(cue.at).toBeGreaterThanOrEqual(1.9);
    expect(cue.at).toBeLessThanOrEqual(3.6);
    expect((await playerState(opened.page)).fatal).toBeNull();
    await opened.page.close();
  }, 60_000);

  it.each([
    ['hls.js', 'startHls', 'master.m3u8'],
    ['Shaka Player (HLS)', 'startShaka', 'master.m3u8'],
    ['Shaka Player (DASH)', 'startShaka', 'manifest.mpd'],
  ] as const)(
    '%s plays across a chunk edge and seeks onto one without stalling',
    async (name, start, file) => {
      const { page, foreign, errors, start: startPlayer } = await sitePage(browser, site, g.url);
      await startPlayer(start, `${g.url}/medias/${mediaId}/stream/${file}`);
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
      const state = await playerState(page);
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
    const { page, foreign, errors, start } = await sitePage(browser, site, g.url);
    const startedAt = Date.now();
    await start('startHls', `${g.url}/medias/${media.id}/stream/master.m3u8`);
    await playsPast(page, 0.5);
    await page.evaluate(() => ((window as never as { watching: boolean }).watching = true));
    // The first chunk of the playable rung stored after playback began (how many were stored
    // before depends on this machine's speed), and the player plays on into it.
    const later = await waitFor(
      'a chunk of the playable rung stored after playback began',
      async () =>
        (await client.events(media.id)).find(
          (e) =>
            e.type === 'rendition.chunk_ready' &&
            e.data.rendition === '240p' &&
            new Date(e.created_at).getTime() > startedAt,
        ),
      60_000,
    );
    const into = Number(later.data.chunk) * chunkSeconds + 1;
    await playsPast(page, into, 60_000 + into * 1000);
    const state = await page.evaluate(() => (window as never as { stalls: number[]; fatal?: string }).stalls);
    expect(state).toEqual([]);
    expect(await currentTime(page)).toBeGreaterThan(into);
    // Still being encoded: it played into a chunk stored after it started, before the media was Ready.
    expect((await client.getMedia(media.id)).body.data.status).toBe('Processing');
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
