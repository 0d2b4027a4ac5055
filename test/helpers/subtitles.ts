import type { Page } from 'playwright-core';

/** An SRT with a cue at 0.2–1.0 s and `Hello from Gilfoyle` at 2.0–3.5 s. */
export const helloSrt = `1
00:00:00,200 --> 00:00:01,000
First words

2
00:00:02,000 --> 00:00:03,500
Hello from Gilfoyle
`;

/** Adds English subtitles (key en, default) to a media through the API; throws unless it answers 200. */
export async function addSubtitles(
  gilfoyleUrl: string,
  mediaId: string,
  srt = helloSrt,
  headers: Record<string, string> = {},
) {
  const form = new FormData();
  for (const [k, v] of Object.entries({
    key: 'en',
    kind: 'subtitles',
    language: 'en',
    label: 'English',
    default: 'true',
  }))
    form.append(k, v);
  form.append('file', new Blob([srt]), 'en.srt');
  const res = await fetch(`${gilfoyleUrl}/medias/${mediaId}/attachments`, { method: 'POST', body: form, headers });
  if (res.status !== 200) throw new Error(`attachment answered ${res.status}: ${await res.text()}`);
}

/** hls.js in the site's page: its subtitle tracks, once listed, the first one turned on. */
export const hlsSubtitleTracks = (page: Page) =>
  page.evaluate(async () => {
    const w = window as never as { hls: { subtitleTracks: { name: string; lang?: string }[]; subtitleTrack: number } };
    for (let i = 0; i < 100 && w.hls.subtitleTracks.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    w.hls.subtitleTrack = 0;
    return w.hls.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang }));
  });

/** Waits for a cue holding `text` to be active; the video's time then, and the cue's start and end. */
export async function whenCueActive(page: Page, text: string, timeout = 20_000) {
  const seen = await page.waitForFunction(
    (text) => {
      const v = document.getElementById('v') as HTMLVideoElement;
      for (const track of Array.from(v.textTracks)) {
        const cue = (Array.from(track.activeCues ?? []) as VTTCue[]).find((c) => c.text.includes(text));
        if (cue) return { at: v.currentTime, start: cue.startTime, end: cue.endTime };
      }
      return null;
    },
    text,
    { timeout, polling: 50 },
  );
  return (await seen.jsonValue())!;
}
