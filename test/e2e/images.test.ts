/**
 * Images on demand, against a running Gilfoyle (the real Postgres, RabbitMQ, Temporal, FFmpeg):
 * a thumbnail at any time that matches the source's frame there, animated previews with the frame
 * count asked for, each rendered once (the metrics count ffmpeg's runs) and then served from
 * storage, under the stream rules, with clear refusals. ffprobe reads what is served.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';

const dir = scratchDir('gilfoyle-images');
let g: RunningGilfoyle;
let mediaId: string;
let source: string;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '360p', height: 360, video_bitrate: 1500 },
      { name: '180p', height: 180, video_bitrate: 400 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_ENCODING_PICTURES_ENABLED: 'false',
  });
  source = path.join(dir(), 'v.mp4');
  await makeVideo(source, { seconds: 6, width: 640, height: 360, fps: 25 });
  const api = apiClient(g.url);
  mediaId = (await api.uploadNew('pictures', 'video', source)).id;
  expect((await api.waitForStatus(mediaId, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
}, 180_000);
afterAll(() => g?.stop());

/** ffmpeg runs that rendered images so far, by kind (gilfoyle_images_rendered_total). */
async function rendered(kind: 'thumbnail' | 'animated'): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  const m = new RegExp(`^gilfoyle_images_rendered_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function get(file: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${g.url}/medias/${mediaId}/${file}`, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, body };
}

async function saved(name: string, body: Buffer) {
  const file = path.join(dir(), name);
  await writeFile(file, body);
  return file;
}

const probe = async (file: string) =>
  JSON.parse((await execa('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file])).stdout)
    .streams[0] as { width: number; height: number; codec_name: string; nb_read_frames: string };

it('a thumbnail at 2.0 s matches the source frame at 2.0 s, and is rendered once', async () => {
  const before = await rendered('thumbnail');
  const { res, body } = await get('thumbnail.jpg?time=2&width=320', { origin: 'https://customer.example' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/jpeg');
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  const thumb = await saved('t2.jpg', body);
  expect(await probe(thumb)).toMatchObject({ codec_name: 'mjpeg', width: 320, height: 180 });
  const frame = path.join(dir(), 'source-2.png');
  await execa('ffmpeg', ['-v', 'error', '-y', '-ss', '2', '-i', source, '-frames:v', '1', frame]);
  const { stderr } = await execa('ffmpeg', [
    ...['-hide_banner', '-i', thumb, '-i', frame, '-lavfi'],
    ...['[0:v]scale=320:180,format=yuv420p[a];[1:v]scale=320:180,format=yuv420p[b];[a][b]psnr', '-f', 'null', '-'],
  ]);
  const psnr = Number(/average:([\d.]+|inf)/.exec(stderr)?.[1]);
  expect(psnr).toBeGreaterThanOrEqual(30);
  expect(await rendered('thumbnail')).toBe(before + 1);
  // Again: the same bytes, from storage, no ffmpeg.
  const again = await get('thumbnail.jpg?time=2.000&width=320');
  expect(again.body.equals(body)).toBe(true);
  expect(await rendered('thumbnail')).toBe(before + 1);
  // With the version of the media's links, a year; its ETag is revalidated with a 304.
  const v = new URL((await apiClient(g.url).getMedia(mediaId)).body.data.links.poster!, g.url).searchParams.get('v');
  expect(v).toBeTruthy();
  const kept = await get(`thumbnail.jpg?time=2&width=320&v=${v}`);
  expect(kept.res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
  const etag = kept.res.headers.get('etag')!;
  expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
  expect((await get(`thumbnail.jpg?time=2&width=320&v=${v}`, { 'if-none-match': etag })).res.status).toBe(304);
}, 60_000);

it('renders concurrent identical requests once; fits, crops and pads; png and webp', async () => {
  const before = await rendered('thumbnail');
  const answers = await Promise.all(
    [1, 2, 3, 4].map(() => get('thumbnail.png?time=3.5&width=200&height=200&fit_mode=pad')),
  );
  expect(answers.map((a) => a.res.status)).toEqual([200, 200, 200, 200]);
  expect(answers.every((a) => a.body.equals(answers[0]!.body))).toBe(true);
  expect(await rendered('thumbnail')).toBe(before + 1);
  expect(await probe(await saved('pad.png', answers[0]!.body))).toMatchObject({
    codec_name: 'png',
    width: 200,
    height: 200,
  });
  const crop = await get('thumbnail.webp?time=1&width=100&height=100&fit_mode=crop');
  expect(crop.res.headers.get('content-type')).toBe('image/webp');
  expect(await probe(await saved('crop.webp', crop.body))).toMatchObject({
    codec_name: 'webp',
    width: 100,
    height: 100,
  });
  const preserve = await get('thumbnail.jpg?time=1&width=200&height=200');
  expect(await probe(await saved('preserve.jpg', preserve.body))).toMatchObject({ width: 200, height: 113 }); // 16:9, rounded
  // No time: the poster's (encoding.poster_at of the duration).
  expect((await get('thumbnail.jpg')).res.status).toBe(200);
}, 60_000);

it('an animated GIF has (end - start) x fps frames; an animated WebP is one', async () => {
  const before = await rendered('animated');
  const gif = await get('animated.gif?start=1&end=3&fps=10&width=160');
  expect(gif.res.status).toBe(200);
  expect(gif.res.headers.get('content-type')).toBe('image/gif');
  const info = await probe(await saved('a.gif', gif.body));
  expect(info).toMatchObject({ codec_name: 'gif', width: 160, height: 90 });
  expect(Math.abs(Number(info.nb_read_frames) - 20)).toBeLessThanOrEqual(1);
  const webp = await get('animated.webp?start=0.5&end=2.5&fps=5');
  expect(webp.res.status).toBe(200);
  // RIFF....WEBPVP8X with an ANIM chunk: an animated WebP (ffmpeg's decoder does not read those).
  expect(webp.body.subarray(0, 4).toString()).toBe('RIFF');
  expect(webp.body.subarray(8, 12).toString()).toBe('WEBP');
  expect(webp.body.includes(Buffer.from('ANIM'))).toBe(true);
  expect(await rendered('animated')).toBe(before + 2);
  expect((await get('animated.gif?start=1&end=3&fps=10&width=160')).body.equals(gif.body)).toBe(true);
  expect(await rendered('animated')).toBe(before + 2);
}, 60_000);

it('refuses out-of-range parameters with a 400 naming them, and unknown medias with a 404', async () => {
  const cases: [string, number, RegExp][] = [
    ['thumbnail.jpg?time=6.5', 400, /^time: 6\.5 s is past the end of the media/],
    ['thumbnail.jpg?time=-1', 400, /time/],
    ['thumbnail.jpg?width=5000', 400, /^invalid query: width: .*1920/],
    ['thumbnail.jpg?width=', 400, /width/],
    ['thumbnail.jpg?fit_mode=stretch', 400, /fit_mode/],
    ['animated.gif?start=0&end=5.5&fps=61', 400, /fps/],
    ['animated.gif?start=7', 400, /^start: 7 s is past the end/],
    ['animated.gif?start=2&end=1', 400, /^end: 1 s is not after start/],
    ['animated.gif?start=0&end=5&width=700', 400, /^invalid query: width: .*640/],
    ['animated.gif?start=0&end=7', 400, /^end: 7 s is past the end/],
  ];
  for (const [file, status, message] of cases) {
    const { res, body } = await get(file);
    const got = { file, status: res.status, message: (JSON.parse(body.toString()) as { message: string }).message };
    expect(got).toEqual({ file, status, message: expect.stringMatching(message) });
  }
  const missing = await fetch(`${g.url}/medias/${crypto.randomUUID()}/thumbnail.jpg`);
  expect(missing.status).toBe(404);
  const waiting = (await apiClient(g.url).createMedia('no pictures yet')).body.data;
  expect((await fetch(`${g.url}/medias/${waiting.id}/thumbnail.jpg`)).status).toBe(425);
});
