import { readdir } from 'node:fs/promises';
import { execa } from 'execa';
import path from 'node:path';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { repoRoot, sleep, waitFor } from '../helpers/services.ts';
import { percentile } from '../helpers/stats.ts';

/**
 * Many viewers at once, bounded: VIEWERS (200) simulated players, each fetching the master and
 * a rendition playlist, then one segment per segment of playback (4 s), for VIEWERS_SECONDS
 * (20 here, 60 in npm run test:chaos), on keep-alive connections as players keep them. Meanwhile
 * the management API stays responsive (GET /medias/{id} p99 under 50 ms), every answer is whole,
 * and once the viewers are gone the server holds no more file descriptors than before.
 */
const viewers = Number(process.env.VIEWERS ?? 200);
const seconds = Number(process.env.VIEWERS_SECONDS ?? 20);
const dir = scratchDir('gilfoyle-e2e-viewers');
const loadScript = path.join(repoRoot, 'test/helpers/viewers-load.ts');
let g: RunningGilfoyle;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '360p', height: 360, video_bitrate: 800 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_LOG_LEVEL: 'warn',
  });
}, 120_000);
afterAll(() => g?.stop());

const fds = async (pid: number) => (await readdir(`/proc/${pid}/fd`)).length;

it(`serves ${viewers} viewers for ${seconds} s while GET /medias/{id} stays under 50 ms at p99, leaking no descriptor`, async () => {
  const client = apiClient(g.url);
  const file = path.join(dir(), 'watched.mp4');
  await makeVideo(file, { seconds: 24, width: 640, height: 360 });
  const media = await client.uploadNew('watched', 'video', file);
  expect((await client.waitForStatus(media.id, ['Ready', 'Errored'], 120_000)).status).toBe('Ready');
  const base = `${g.url}/medias/${media.id}/stream`;
  // Warm: the descriptors of a server at rest, with the media known.
  expect((await fetch(`${g.url}/medias/${media.id}`)).status).toBe(200);
  await sleep(500);
  const before = await fds(g.pid);

  // The viewers and the probe are processes of their own (test/helpers/viewers-load.ts).
  const load = (...args: string[]) =>
    execa('node', [loadScript, ...args], { cwd: repoRoot }).then((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
  const running = Promise.all([
    load('viewers', base, String(viewers), String(seconds)) as Promise<{
      segments: number;
      bytes: number;
      failures: string[];
    }>,
    load('probe', `${g.url}/medias/${media.id}`, String(seconds)) as Promise<{ ms: number[]; failures: string[] }>,
  ]);
  await sleep((seconds * 1000) / 2);
  const during = await fds(g.pid);
  const [watching, probing] = await running;
  const failures = [...watching.failures, ...probing.failures];
  const probes = probing.ms;
  const segmentsServed = watching.segments;
  const bytesServed = watching.bytes;

  const p99 = percentile(probes, 99);
  process.stdout.write(
    `viewers: ${viewers} for ${seconds} s, ${segmentsServed} segments (${(bytesServed / 1e6).toFixed(0)} MB); ` +
      `GET /medias/{id} p50 ${percentile(probes, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${probes.length}; ` +
      `descriptors ${before} before, ${during} with the viewers connected\n`,
  );
  expect(failures).toEqual([]);
  expect(segmentsServed).toBeGreaterThanOrEqual(viewers * Math.floor((seconds - 4) / 4));
  expect(p99).toBeLessThan(50);
  // Once the viewers hang up, their sockets (and every file opened for them) are closed.
  const after = await waitFor(
    'the descriptors to come back to their number at rest',
    async () => {
      const n = await fds(g.pid);
      return n <= before + 2 ? n : undefined;
    },
    10_000,
    200,
  );
  expect(after).toBeLessThanOrEqual(before + 2);
}, 240_000);
