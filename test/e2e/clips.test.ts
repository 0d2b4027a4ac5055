/**
 * Clips, against a running Gilfoyle (the real Postgres, RabbitMQ, Temporal, FFmpeg): a range of a
 * Ready media's source, cut frame-accurately and processed through the same pipeline as its own
 * media, which outlives its parent. ffprobe and ffmpeg read what is served.
 */
import path from 'node:path';
import { execa } from 'execa';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo, probeDuration } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';

const dir = scratchDir('gilfoyle-clips');
const fps = 25;
let g: RunningGilfoyle;
let parentId: string;
let source: string;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '360p', height: 360, video_bitrate: 1500 }]),
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_ENCODING_PICTURES_ENABLED: 'false',
  });
  source = path.join(dir(), 'parent.mp4');
  await makeVideo(source, { seconds: 6, width: 640, height: 360, fps });
  const api = apiClient(g.url);
  parentId = (await api.uploadNew('parent', 'video', source)).id;
  expect((await api.waitForStatus(parentId, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
}, 180_000);
afterAll(() => g?.stop());

const createClip = (clip: Record<string, unknown>, title = 'a clip') =>
  fetch(`${g.url}/medias`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title, clip }),
  });

/** PSNR of two pictures after scaling both to 320x180. */
async function psnr(a: string, b: string): Promise<number> {
  const { stderr } = await execa('ffmpeg', [
    ...['-hide_banner', '-i', a, '-i', b, '-lavfi'],
    ...['[0:v]scale=320:180,format=yuv420p[a];[1:v]scale=320:180,format=yuv420p[b];[a][b]psnr', '-f', 'null', '-'],
  ]);
  const v = /average:([\d.]+|inf)/.exec(stderr)?.[1];
  return v === 'inf' ? Infinity : Number(v);
}

async function sourceFrameAt(t: number) {
  const out = path.join(dir(), `source-${t}.png`);
  await execa('ffmpeg', ['-v', 'error', '-y', '-ss', String(t), '-i', source, '-frames:v', '1', out]);
  return out;
}

it('cuts a frame-accurate clip of a Ready media, processed as its own media, which outlives its parent', async () => {
  const api = apiClient(g.url);
  const [start, end] = [1.2, 3.4];
  const res = await createClip({ media_id: parentId, start, end });
  expect(res.status).toBe(200);
  const made = ((await res.json()) as { data: { id: string; status: string; clip: unknown } }).data;
  expect(made).toMatchObject({ status: 'ScheduledProcessing', clip: { media_id: parentId, start, end } });
  const ready = await api.waitForStatus(made.id, ['Ready', 'Errored'], 120_000);
  expect(ready.status).toBe('Ready');
  // Its duration is end - start, within one frame, as ffprobe reads the served rendition.
  const playlist = `${g.url}/medias/${made.id}/stream/360p.m3u8`;
  expect(Math.abs((await probeDuration(playlist)) - (end - start))).toBeLessThanOrEqual(1 / fps + 0.001);
  expect(Math.abs(ready.duration! - (end - start))).toBeLessThanOrEqual(1 / fps + 0.001);
  // Its first frame is the parent's frame at `start`, and not the one after it.
  const first = path.join(dir(), 'clip-first.png');
  await execa('ffmpeg', ['-v', 'error', '-y', '-i', playlist, '-frames:v', '1', first]);
  const atStart = await psnr(first, await sourceFrameAt(start));
  expect(atStart).toBeGreaterThanOrEqual(30);
  expect(atStart).toBeGreaterThan(await psnr(first, await sourceFrameAt(start + 1 / fps)));
  // Its events name its parent.
  const events = await api.events(made.id);
  expect(events.find((e) => e.type === 'media.created')?.data).toMatchObject({
    clip: { media_id: parentId, start, end },
  });
  // The parent deleted, the clip still streams and keeps its own source.
  expect((await api.remove(parentId)).status).toBe(200);
  expect((await fetch(`${g.url}/medias/${made.id}/stream/master.m3u8`)).status).toBe(200);
  const own = await fetch(`${g.url}/medias/${made.id}/source`);
  expect(own.status).toBe(200);
  expect(own.headers.get('content-type')).toBe('video/mp4');
  expect((await api.getMedia(made.id)).body.data.clip).toEqual({ media_id: parentId, start, end });
}, 180_000);

it('refuses a clip of a media that is not Ready, unknown, or a range outside it', async () => {
  const api = apiClient(g.url);
  const other = await api.uploadNew('other parent', 'video', source);
  const waiting = (await api.createMedia('not uploaded')).body.data;
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ media_id: waiting.id, start: 0, end: 1 }, 409, /is AwaitingUpload: clips are cut from Ready medias/],
    [{ media_id: crypto.randomUUID(), start: 0, end: 1 }, 400, /^clip\.media_id: media .* not found/],
  ];
  for (const [clip, status, message] of cases) {
    const res = await createClip(clip);
    expect({ status: res.status, message: ((await res.json()) as { message: string }).message }).toEqual({
      status,
      message: expect.stringMatching(message),
    });
  }
  expect((await api.waitForStatus(other.id, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
  const ranges: [Record<string, unknown>, RegExp][] = [
    [{ start: 2, end: 9 }, /^clip\.end: 9 s is past the end of media/],
    [{ start: 7, end: 8 }, /^clip\.start: 7 s is past the end/],
    [{ start: 3, end: 2 }, /^clip\.end: 2 s is not after clip\.start/],
    [{ start: -1, end: 2 }, /clip\.start/],
  ];
  for (const [range, message] of ranges) {
    const res = await createClip({ media_id: other.id, ...range });
    expect({ status: res.status, message: ((await res.json()) as { message: string }).message }).toEqual({
      status: 400,
      message: expect.stringMatching(message),
    });
  }
}, 180_000);
