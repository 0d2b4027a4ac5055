import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { apiClient } from '../helpers/api.ts';
import { isolatedPage, launchChromium, playWhenLoaded, screenshot } from '../helpers/browser.ts';
import { startWithoutWorkers, startGilfoyle, storedSourceKey, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { temporalAddress, waitFor } from '../helpers/services.ts';
import { helloSrt } from '../helpers/subtitles.ts';

/**
 * The admin page in a real browser (Debian's Chromium through playwright-core) against a
 * running `gilfoyle all`: upload, watch, play, fail and retry, cancel, delete, list.
 */
const dir = scratchDir('gilfoyle-browser');
let g: RunningGilfoyle;
let api: ReturnType<typeof apiClient>;
let browser: Browser;
let page: Page;
let foreign: string[];
let errors: string[];
const tag = `b${Date.now().toString(36)}`;

beforeAll(async () => {
  [g, browser] = await Promise.all([
    startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
        { name: '360p', height: 360, video_bitrate: 600 },
        { name: '240p', height: 240, video_bitrate: 300 },
      ]),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_ENCODING_MAX_ATTEMPTS: '1',
      // Traced to the tests' Jaeger, whose UI the page links to next to the Temporal UI.
      GILFOYLE_TRACING_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      GILFOYLE_TRACING_UI_URL: 'http://127.0.0.1:16686',
    }),
    launchChromium(),
  ]);
  api = apiClient(g.url);
  ({ page, foreign, errors } = await isolatedPage(browser, g.url));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await g?.stop();
});

afterEach(() => {
  // The page fetches nothing from outside Gilfoyle and throws nothing.
  expect(foreign).toEqual([]);
  expect(errors).toEqual([]);
});

const status = () => page.getByTestId('media-status');
const waitForStatus = (s: string, timeout = 90_000) =>
  page
    .getByTestId('media-status')
    .filter({ hasText: new RegExp(`^${s}$`) })
    .waitFor({ timeout });
const mediaIdOfPage = () => /#\/medias\/([0-9a-f-]{36})/.exec(page.url())![1]!;

async function uploadFromForm(title: string, file: string) {
  await page.goto(`${g.url}/admin/`);
  await page.getByTestId('upload-title').fill(title);
  await page.getByTestId('upload-file').setInputFiles(file);
  await page.getByTestId('upload-submit').click();
  await page.waitForURL(/#\/medias\/[0-9a-f-]{36}/, { timeout: 30_000 });
  return mediaIdOfPage();
}

it('uploads from the form, follows the progress to Ready and plays the stream past 2 s', async () => {
  const file = path.join(dir(), 'clip.mp4');
  await makeVideo(file, { seconds: 6 });
  // What the page asks of the API while the media processes: its event stream, not a poll.
  const asked: string[] = [];
  const onRequest = (r: { url: () => string; method: () => string }) => asked.push(`${r.method()} ${r.url()}`);
  page.on('request', onRequest);
  const id = await uploadFromForm(`${tag} clip`, file);
  await waitForStatus('Processing');
  await waitForStatus('Ready');
  page.off('request', onRequest);
  expect(await page.getByTestId('media-progress').getAttribute('data-value')).toBe('100');
  const mediaUrl = `${g.url}/medias/${id}`;
  expect(asked.filter((r) => r.startsWith(`GET ${mediaUrl}/events/stream`)).length).toBeGreaterThanOrEqual(1);
  // One load when the page opened; the status then came by the stream (a 1.5 s poll would ask again and again).
  expect(asked.filter((r) => r === `GET ${mediaUrl}`).length).toBeLessThanOrEqual(2);
  // The events list follows the stream too: media.ready is shown without a reload.
  await page.locator('[data-testid="event"][data-type="media.ready"]').waitFor({ timeout: 10_000 });
  expect(await page.getByTestId('rendition').count()).toBe(3);
  expect(await page.getByTestId('workflow-id').textContent()).toBe(`media-${id}`);
  const media = (await api.getMedia(id)).body.data;
  expect(await page.getByTestId('run-id').textContent()).toBe(media.workflow!.run_id);
  expect(await page.getByTestId('temporal-link').getAttribute('href')).toBe(media.workflow!.url);
  expect(media.workflow!.trace_url).toMatch(/^http:\/\/127\.0\.0\.1:16686\/trace\/[0-9a-f]{32}$/);
  expect(await page.getByTestId('jaeger-link').getAttribute('href')).toBe(media.workflow!.trace_url);

  const player = page.getByTestId('player');
  await player.waitFor();
  await playWhenLoaded(page);
  await page.waitForFunction(
    () => (document.querySelector('[data-testid="player"]') as HTMLVideoElement).currentTime >= 2,
    null,
    { timeout: 30_000 },
  );
  const state = await player.evaluate((v: HTMLVideoElement) => ({
    error: v.error?.message ?? null,
    width: v.videoWidth,
  }));
  expect(state).toEqual({ error: null, width: expect.any(Number) });
  expect(state.width).toBeGreaterThan(0);
  await screenshot(page, 'media-ready');
});

it('attaches subtitles that the player then offers, takes a thumbnail at the player position and cuts a clip from there', async () => {
  const file = path.join(dir(), 'tools.mp4');
  await makeVideo(file, { seconds: 6 });
  const parent = await api.uploadNew(`tools ${Date.now().toString(36)}`, 'video', file);
  expect((await api.waitForStatus(parent.id, ['Ready', 'Errored'])).status).toBe('Ready');
  await page.goto(`${g.url}/admin/#/medias/${parent.id}`);
  await waitForStatus('Ready');
  const srt = path.join(dir(), 'en.srt');
  await writeFile(srt, helloSrt);
  await page.getByTestId('attach-file').setInputFiles(srt);
  await page.getByTestId('attach-kind').selectOption('subtitles');
  await page.getByTestId('attach-language').fill('en');
  await page.getByTestId('attach-label').fill('English');
  await page.getByTestId('attach-submit').click();
  // No key given: one is made up from the kind and the language.
  await page.locator('[data-testid^="attachment-subtitles-en-"]').first().waitFor();
  // The player, loaded again, lists the track; picking it shows the cue at its time.
  const picker = page.getByTestId('subtitle-track');
  await picker.waitFor({ timeout: 20_000 });
  expect(await picker.locator('option').allTextContents()).toEqual(['Off', 'English']);
  await picker.selectOption({ label: 'English' });
  await playWhenLoaded(page);
  await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid="player"]') as HTMLVideoElement;
      return Array.from(v.textTracks).some((t) =>
        (Array.from(t.activeCues ?? []) as VTTCue[]).some((c) => c.text.includes('Hello from Gilfoyle')),
      );
    },
    null,
    { timeout: 20_000 },
  );
  // A thumbnail at the player's position (it plays on: the time shown is the one asked).
  await page.getByTestId('thumbnail-here').click();
  const img = page.getByTestId('thumbnail-image');
  await img.waitFor();
  await page.waitForFunction(
    () => (document.querySelector('[data-testid="thumbnail-image"]') as HTMLImageElement | null)?.naturalWidth === 640,
    null,
    { timeout: 20_000 },
  );
  const t = Number(/time=([\d.]+)/.exec((await img.getAttribute('src'))!)![1]);
  expect(t).toBeGreaterThanOrEqual(2);
  // A clip from the position, 2 s long: the page goes to the new media, which ends Ready.
  await page.getByTestId('clip-length').fill('2');
  await page.getByTestId('clip-here').click();
  await page.waitForURL((u) => /#\/medias\/[0-9a-f-]{36}/.test(u.toString()) && !u.toString().includes(parent.id));
  await waitForStatus('Ready');
  const clip = (await api.getMedia(mediaIdOfPage())).body.data;
  expect(clip.clip?.media_id).toBe(parent.id);
  expect(clip.clip!.end - clip.clip!.start).toBeCloseTo(2, 1);
  await screenshot(page, 'media-clip');
}, 120_000);

it('shows a corrupt upload Errored, and Retry processes the fixed source to Ready', async () => {
  const bad = path.join(dir(), 'corrupt.mp4');
  await writeFile(bad, 'definitely not a video');
  const id = await uploadFromForm(`${tag} corrupt`, bad);
  await waitForStatus('Errored', 60_000);
  expect(await page.getByTestId('media-error').textContent()).toMatch(/not a media file|cannot process/);
  await screenshot(page, 'media-errored');

  // The operator puts a good file in place of the stored source, then presses Retry.
  const good = path.join(dir(), 'good.mp4');
  await makeVideo(good, { seconds: 2 });
  await g.storage.putFile(await storedSourceKey(g, id), good);
  await page.getByTestId('retry').click();
  await waitForStatus('Ready');
  await page.locator('[data-testid="event"][data-type="media.retry"]').waitFor();
  expect(await page.getByTestId('media-error').count()).toBe(0);
});

it('cancels a running encode, then deletes the media after confirming', async () => {
  const long = path.join(dir(), 'long.mp4');
  // About 12 s of encoding here: the page (refreshed every 1.5 s) must see it Processing, and cancel it.
  await makeVideo(long, { seconds: 150, width: 1280, height: 720 });
  const media = await api.uploadNew(`${tag} long`, 'video', long);
  await page.goto(`${g.url}/admin/#/medias/${media.id}`);
  await waitForStatus('Processing', 60_000);
  await screenshot(page, 'media-processing');
  await page.getByTestId('cancel').click();
  await waitForStatus('Errored', 60_000);
  await page.locator('[data-testid="event"][data-type="media.cancelled"]').waitFor();
  expect(await page.getByTestId('cancel').count()).toBe(0);
  expect(await page.getByTestId('retry').count()).toBe(1);

  page.once('dialog', (d) => void d.accept());
  await page.getByTestId('delete').click();
  await page.waitForURL((u) => !u.hash.includes('/medias/'), { timeout: 30_000 });
  expect((await api.getMedia(media.id)).status).toBe(404);
  expect(await status().count()).toBe(0);
});

it('lists medias with search and status filter', async () => {
  await page.goto(`${g.url}/admin/`);
  await page.getByTestId('search').fill(tag);
  await page.waitForFunction(
    (t) => {
      const rows = [...document.querySelectorAll('[data-testid="media-row"]')];
      return rows.length === 2 && rows.every((r) => r.textContent?.includes(t));
    },
    tag,
    { timeout: 15_000 },
  );
  await page.getByTestId('status-filter').selectOption('Ready');
  await page.waitForFunction(
    () => {
      const rows = [...document.querySelectorAll('[data-testid="media-row"]')];
      return rows.length === 2 && rows.every((r) => r.getAttribute('data-status') === 'Ready');
    },
    null,
    { timeout: 15_000 },
  );
  await page.getByTestId('status-filter').selectOption('Errored');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="media-row"]').length === 0, null, {
    timeout: 15_000,
  });
  await page.getByTestId('status-filter').selectOption('');
  await page.getByTestId('search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="media-row"]').length >= 2, null, {
    timeout: 15_000,
  });
  await screenshot(page, 'list');
});

it('renders the API reference at /docs from the served OpenAPI document', async () => {
  await page.goto(`${g.url}/docs`);
  await page.getByText('Self-hosted media server: create a media').first().waitFor({ timeout: 30_000 });
  // Scalar renders a group's operations once it is opened (or scrolled to), as a reader would.
  await page
    .getByRole('button', { name: /Open Group - Medias/ })
    .first()
    .click();
  await page.getByText('/medias/{id}/retry').first().waitFor({ timeout: 10_000 });
  await screenshot(page, 'docs');
});

describe('with API keys and a private media', () => {
  const key = 'k-admin-0123456789abcdef';
  let secured: RunningGilfoyle;
  beforeAll(async () => {
    secured = await startGilfoyle({
      GILFOYLE_AUTH_API_KEYS: JSON.stringify([{ name: 'operator', key }]),
      GILFOYLE_PLAYBACK_SIGNING_SECRET: 'p'.repeat(40),
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
    });
  }, 120_000);
  afterAll(() => secured?.stop());

  it('asks for the key once, then plays the private media through signed URLs', async () => {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const media = (
      await (
        await fetch(`${secured.url}/medias`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ title: 'private clip', private: true }),
        })
      ).json()
    ).data;
    const file = path.join(dir(), 'private.mp4');
    await makeVideo(file, { seconds: 4 });
    const form = new FormData();
    form.append('file', new Blob([await (await import('node:fs/promises')).readFile(file)]), 'private.mp4');
    expect(
      (
        await fetch(`${secured.url}/medias/${media.id}/upload/video`, {
          method: 'POST',
          headers: { authorization: headers.authorization },
          body: form,
        })
      ).status,
    ).toBe(200);

    const own = await isolatedPage(browser, secured.url);
    const prompts: string[] = [];
    own.page.on('dialog', (d) => {
      prompts.push(d.message());
      void d.accept(key);
    });
    await own.page.goto(`${secured.url}/admin/#/medias/${media.id}`);
    await own.page
      .getByTestId('media-status')
      .filter({ hasText: /^Ready$/ })
      .waitFor({ timeout: 60_000 });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatch(/an API key is required/);
    const player = own.page.getByTestId('player');
    await player.waitFor();
    expect(await player.getAttribute('data-src')).toMatch(/master\.m3u8\?token=/);
    await playWhenLoaded(own.page);
    await own.page.waitForFunction(
      () => (document.querySelector('[data-testid="player"]') as HTMLVideoElement).currentTime >= 1,
      null,
      { timeout: 30_000 },
    );
    expect(own.foreign).toEqual([]);
    expect(own.errors).toEqual([]);
    await screenshot(own.page, 'media-private');
    await own.page.close();
  });
});

describe('a run that does not answer a cancel', () => {
  let stuck: Awaited<ReturnType<typeof startWithoutWorkers>>;
  let apiRole: RunningGilfoyle;
  beforeAll(async () => {
    stuck = await startWithoutWorkers();
    apiRole = stuck.api;
  }, 120_000);
  afterAll(() => stuck?.stop());

  it('offers Force cancel once a cancel was asked, which ends the media Errored at once', async () => {
    const client = apiClient(apiRole.url);
    const file = path.join(dir(), 'stuck.mp4');
    await makeVideo(file, { seconds: 2 });
    const media = await client.uploadNew(`${tag} stuck`, 'video', file);
    // The bridge has started its run (which no worker takes): a cancel asked before that would
    // find no run to ask, and end the media at once.
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const handle = new Client({ connection }).workflow.getHandle(`media-${media.id}`);
      await waitFor(
        `the run of media ${media.id} to start`,
        async () => ((await handle.describe().catch(() => undefined))?.status.name === 'RUNNING' ? true : undefined),
        30_000,
      );
    } finally {
      await connection.close();
    }
    const own = await isolatedPage(browser, apiRole.url);
    await own.page.goto(`${apiRole.url}/admin/#/medias/${media.id}`);
    const badge = own.page.getByTestId('media-status');
    await badge.filter({ hasText: /^ScheduledProcessing$/ }).waitFor({ timeout: 30_000 });
    expect(await own.page.getByTestId('force-cancel').count()).toBe(0);
    await own.page.getByTestId('cancel').click();
    await own.page.getByTestId('force-cancel').waitFor({ timeout: 15_000 });
    expect(await badge.textContent()).toBe('ScheduledProcessing'); // the run did not answer
    // Still offered after a reload: the page reads the request from the events.
    await own.page.reload();
    await own.page.getByTestId('force-cancel').waitFor({ timeout: 15_000 });
    await screenshot(own.page, 'media-force-cancel');
    own.page.once('dialog', (d) => void d.accept());
    await own.page.getByTestId('force-cancel').click();
    await badge.filter({ hasText: /^Errored$/ }).waitFor({ timeout: 15_000 });
    await own.page.locator('[data-testid="event"][data-type="media.cancelled"]').waitFor();
    expect(await own.page.getByTestId('retry').count()).toBe(1);
    expect(own.foreign).toEqual([]);
    expect(own.errors).toEqual([]);
    await own.page.close();
  });
});
