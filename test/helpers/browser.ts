import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './services.ts';

/** Where browser tests leave their screenshots (git-ignored): look at them after a run. */
export const artifactsDir = path.join(repoRoot, '.data/test-artifacts');

/** Debian's Chromium, headless, driven by playwright-core: no browser is ever downloaded. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * A page that may only talk to `origin` (or these origins): anything else is aborted and
 * recorded, and so are page errors, so a test can assert the page needs nothing from the
 * internet and throws nothing.
 */
export async function isolatedPage(browser: Browser, origin: string | string[]) {
  const origins = Array.isArray(origin) ? origin : [origin];
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const foreign: string[] = [];
  const errors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (origins.some((o) => url.startsWith(o)) || url.startsWith('blob:') || url.startsWith('data:'))
      return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, foreign, errors };
}

export async function screenshot(page: Page, name: string) {
  await mkdir(artifactsDir, { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
}

/**
 * Plays the page's player once hls.js has attached its media source and loaded the metadata:
 * play() called before that is interrupted by the load (an AbortError), as a user's click is not.
 */
export async function playWhenLoaded(page: Page, testId = 'player') {
  const selector = `[data-testid="${testId}"]`;
  await page.waitForFunction(
    (s) => ((document.querySelector(s) as HTMLVideoElement | null)?.readyState ?? 0) >= 1,
    selector,
    { timeout: 30_000 },
  );
  await page.locator(selector).evaluate((v: HTMLVideoElement) => v.play());
}
