import path from 'node:path';
import type { Browser } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { launchChromium, screenshot } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { playerState, sitePage, startSite, type Site } from '../helpers/site.ts';
import { addSubtitles, hlsSubtitleTracks, whenCueActive } from '../helpers/subtitles.ts';

/**
 * Subtitles added to a Ready media (no new encode), as a customer's site sees them: hls.js lists
 * the track and shows its cue at the cue's time; Shaka Player lists the DASH text track. Both run
 * in Chromium from a page on another origin.
 */
const dir = scratchDir('gilfoyle-browser-subtitles');
let browser: Browser;
let site: Site;
let g: RunningGilfoyle;
let mediaId: string;

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startSite()]);
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_ENCODING_PICTURES_ENABLED: 'false',
  });
  const source = path.join(dir(), 'clip.mp4');
  await makeVideo(source, { seconds: 8, width: 426, height: 240, fps: 30 });
  const api = apiClient(g.url);
  mediaId = (await api.uploadNew('subtitled', 'video', source)).id;
  expect((await api.waitForStatus(mediaId, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
  await addSubtitles(g.url, mediaId);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await g?.stop();
});

it('hls.js lists the subtitle track and its cue becomes active at its time', async () => {
  const opened = await sitePage(browser, site, g.url);
  await opened.start('startHls', `${g.url}/medias/${mediaId}/stream/master.m3u8`);
  const tracks = await hlsSubtitleTracks(opened.page);
  expect(tracks).toEqual([{ name: 'English', lang: 'en' }]);
  // The cue at 2.0–3.5 s is active while the video is at that time, and only then.
  const cue = await whenCueActive(opened.page, 'Hello from Gilfoyle');
  expect(cue.start).toBeCloseTo(2.0, 1);
  expect(cue.end).toBeCloseTo(3.5, 1);
  expect(cue.at).toBeGreaterThanOrEqual(1.9);
  expect(cue.at).toBeLessThanOrEqual(3.6);
  await screenshot(opened.page, 'subtitles-hls-js');
  expect((await playerState(opened.page)).fatal).toBeNull();
  expect(opened.foreign).toEqual([]);
  expect(opened.errors).toEqual([]);
  await opened.page.close();
}, 60_000);

it('Shaka Player lists the DASH text track', async () => {
  const opened = await sitePage(browser, site, g.url);
  await opened.start('startShaka', `${g.url}/medias/${mediaId}/stream/manifest.mpd`);
  const tracks = await opened.page.evaluate(() => {
    const player = (
      window as never as {
        shakaPlayer: { getTextTracks(): { language: string; kind: string; label: string | null; mimeType: string }[] };
      }
    ).shakaPlayer;
    return player
      .getTextTracks()
      .map((t) => ({ language: t.language, kind: t.kind, label: t.label, mimeType: t.mimeType }));
  });
  expect(tracks).toEqual([{ language: 'en', kind: 'subtitle', label: 'English', mimeType: 'text/vtt' }]);
  expect((await playerState(opened.page)).fatal).toBeNull();
  expect(opened.foreign).toEqual([]);
  expect(opened.errors).toEqual([]);
  await opened.page.close();
}, 60_000);
