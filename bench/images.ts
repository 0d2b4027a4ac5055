/**
 * What a thumbnail costs: a 30 s 1080p30 upload (default ladder), then thumbnails at distinct
 * times, each asked twice, from the API: the first (cold) renders it from the renditions' segments,
 * the second (cached) is served from storage. Beside them, in the same run, `ffmpeg -ss T -i source
 * -frames:v 1` by hand on the source file (what a user would script without Gilfoyle).
 *
 *   npm run bench:images [-- --thumbnails 10]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { apiClient } from '../test/helpers/api.ts';
import { makeVideo } from '../test/helpers/media.ts';
import { percentile } from '../test/helpers/stats.ts';
import { benchSetup } from './common.ts';

const { values } = parseArgs({ options: { thumbnails: { type: 'string', default: '10' } } });
const count = Math.max(1, Number(values.thumbnails));
const seconds = 30;

const { dir, g, close } = await benchSetup({ GILFOYLE_ENCODING_PRESET: 'veryfast' });
try {
  const source = path.join(dir, 'source.mp4');
  await makeVideo(source, { seconds, width: 1920, height: 1080, fps: 30 });
  const api = apiClient(g.url);
  const media = await api.uploadNew('bench images', 'video', source);
  const ready = await api.waitForStatus(media.id, ['Ready', 'Errored'], 900_000);
  if (ready.status !== 'Ready') throw new Error(`the media ended ${ready.status}`);
  const timed = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const fetchOk = async (url: string) => {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const cold: number[] = [];
  const cached: number[] = [];
  const byHand: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = (((i + 0.5) * (seconds - 1)) / count).toFixed(3);
    const url = `${g.url}/medias/${media.id}/thumbnail.jpg?time=${t}&width=640`;
    cold.push(await timed(() => fetchOk(url)));
    cached.push(await timed(() => fetchOk(url)));
    const out = path.join(dir, `by-hand-${i}.jpg`);
    byHand.push(
      await timed(() =>
        execa('ffmpeg', ['-v', 'error', '-y', '-ss', t, '-i', source, '-frames:v', '1', '-vf', 'scale=640:-2', out]),
      ),
    );
  }
  const line = (name: string, xs: number[]) =>
    `${name.padEnd(34)} p50 ${percentile(xs, 50).toFixed(0).padStart(5)} ms, p99 ${percentile(xs, 99).toFixed(0).padStart(5)} ms`;
  console.log(`bench:images: ${count} thumbnails (640 px JPEG) of a ${seconds} s 1080p30 media`);
  console.log(line('cold (rendered from renditions)', cold));
  console.log(line('cached (served from storage)', cached));
  console.log(line('ffmpeg -ss on the source, by hand', byHand));
  console.log(
    `ratios at p50: cold / by hand = ${(percentile(cold, 50) / percentile(byHand, 50)).toFixed(2)}, cached / by hand = ${(percentile(cached, 50) / percentile(byHand, 50)).toFixed(3)}`,
  );
} finally {
  await close();
}
