import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { apiClient, type EventJson } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { decodeFully, makeVideo, noise } from '../helpers/media.ts';
import { checkDash, checkDecodeContinuity, checkLadder } from '../helpers/output-checks.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { sleep } from '../helpers/services.ts';

/**
 * A long source through the whole pipeline, encoded in chunks: playable once the first chunk of
 * its smallest rung is stored, that rung's playlist growing (EVENT) as its chunks land, every
 * playlist VOD at Ready, and the output as a player and ffprobe read it.
 */
const dir = scratchDir('gilfoyle-e2e-chunked');
const chunkSeconds = 4;
let g: RunningGilfoyle;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '720p', height: 720, video_bitrate: 2000 },
      { name: '240p', height: 240, video_bitrate: 300 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_ENCODING_CHUNK_SECONDS: String(chunkSeconds),
    GILFOYLE_ENCODING_CHUNK_THRESHOLD_SECONDS: '10',
  });
}, 120_000);
afterAll(() => g?.stop());

it('is playable after its first chunk, grows its playlist chunk by chunk, and ends Ready with every chunk edge invisible', async () => {
  const source = path.join(dir(), 'source.mp4');
  const seconds = 30;
  await makeVideo(source, { seconds, width: 1280, height: 720, fps: 30 });
  const client = apiClient(g.url);
  const media = await client.uploadNew('chunked', 'video', source);

  // The playable rung's playlist, as a player reloads it while the media encodes.
  const snapshots: string[] = [];
  let statusWhenPlayable: string | undefined;
  for (;;) {
    const m = (await client.getMedia(media.id)).body.data;
    if (m.playable) {
      statusWhenPlayable ??= m.status;
      const res = await client.stream(media.id, '240p.m3u8');
      if (res.status === 200) snapshots.push(await res.text());
    }
    if (m.status === 'Ready' || m.status === 'Errored') break;
    await sleep(100);
  }
  expect((await client.getMedia(media.id)).body.data.status).toBe('Ready');
  expect(statusWhenPlayable).toBe('Processing');

  const events = await client.events(media.id);
  const index = (p: (e: EventJson) => boolean) => events.findIndex(p);
  const firstChunk = index(
    (e) => e.type === 'rendition.chunk_ready' && e.data.rendition === '240p' && e.data.chunk === 0,
  );
  const playable = index((e) => e.type === 'media.playable');
  expect(firstChunk).toBeGreaterThanOrEqual(0);
  expect(playable).toBeGreaterThan(firstChunk);
  expect(events[playable]!.data).toMatchObject({ renditions: ['240p', 'audio'], live: true });
  // Not waiting for the rest of its rung, let alone the ladder.
  const lastOf240p = events.findLastIndex((e) => e.type === 'rendition.chunk_ready' && e.data.rendition === '240p');
  expect(playable).toBeLessThan(lastOf240p);
  const chunks = Math.ceil(seconds / chunkSeconds);
  for (const rung of ['720p', '240p']) {
    const ready = events.filter((e) => e.type === 'rendition.chunk_ready' && e.data.rendition === rung);
    expect(ready.map((e) => e.data.chunk).sort((a, b) => Number(a) - Number(b))).toEqual([...Array(chunks).keys()]);
  }

  // While encoding: an EVENT playlist that only ever grows; at Ready, VOD with ENDLIST.
  // Segment URIs, as served (with the run's version query).
  const segmentsIn = (text: string) => text.split('\n').filter((l) => !l.startsWith('#') && /\.m4s(\?|$)/.test(l));
  const during = snapshots.filter((s) => s.includes('#EXT-X-PLAYLIST-TYPE:EVENT') && !s.includes('#EXT-X-ENDLIST'));
  expect(during.length).toBeGreaterThan(0);
  for (let i = 1; i < snapshots.length; i++) {
    const [before, after] = [segmentsIn(snapshots[i - 1]!), segmentsIn(snapshots[i]!)];
    expect(after.slice(0, before.length)).toEqual(before);
  }
  const final = await (await client.stream(media.id, '240p.m3u8')).text();
  expect(final).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
  expect(final).toContain('#EXT-X-ENDLIST');
  expect(segmentsIn(final)).toHaveLength(Math.ceil(seconds / 4));

  // What a player gets: the ladder aligned, every edge continuous, DASH over the same files.
  const streamDir = path.join(g.storageRoot, 'medias', media.id, 'stream');
  const ladder = await checkLadder(streamDir);
  expect(ladder.variants.map((v) => v.uri)).toEqual(['720p.m3u8', '240p.m3u8']);
  for (const v of ladder.variants) {
    // 4 s segments, and what is left (2 s) at the end, as the rung encoded whole would have them.
    expect(v.rendition.segments.map((s) => s.duration)).toEqual([...Array(7).fill(4), 2]);
    await checkDecodeContinuity(streamDir, v.uri, 30);
  }
  const dash = await checkDash(streamDir);
  expect(dash.representations.map((r) => r.id).sort()).toEqual(['240p', '720p', 'audio']);

  // The renditions say how they were encoded; nothing is left in the temp folder.
  const renditions = await client.renditions(media.id);
  for (const r of renditions.filter((x) => x.type === 'video')) {
    expect(r).toMatchObject({ status: 'Ready', progress: 100, attempts: 1, chunks: { total: chunks, done: chunks } });
  }
  expect(renditions.find((r) => r.type === 'audio')?.chunks).toBeNull();
  expect(await readdir(g.tempDir)).toEqual([]);
}, 240_000);

it('publishes a long audio as it lands; a copy that turns out damaged is encoded on the next attempt, and nothing damaged went out', async () => {
  const clean = path.join(dir(), 'clean.m4a');
  const damaged = path.join(dir(), 'damaged.m4a');
  // Mono AAC-LC at 48 kHz and 96 kb/s in an MP4: copied, were it not damaged in the middle.
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:duration=40',
    '-c:a',
    'aac',
    '-b:a',
    '96k',
    clean,
  ]);
  const bytes = await readFile(clean);
  noise(16 * 1024).copy(bytes, Math.floor(bytes.length / 2));
  await writeFile(damaged, bytes);
  const client = apiClient(g.url);
  const media = await client.uploadNew('damaged audio', 'audio', damaged);
  const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 120_000);
  expect(ready.status).toBe('Ready');
  const events = await client.events(media.id);
  expect(events.some((e) => e.type === 'media.playable' && e.data.live === true)).toBe(true);
  expect(events.find((e) => e.type === 'rendition.attempt_failed')?.message).toMatch(
    /copied audio does not decode cleanly/,
  );
  const audio = (await client.renditions(media.id)).find((r) => r.type === 'audio')!;
  expect(audio).toMatchObject({ status: 'Ready', attempts: 2 });
  // Encoded (128 kb/s), not copied (96), and every stored segment decodes.
  expect(audio.bandwidth!).toBeGreaterThan(115_000);
  await decodeFully(path.join(g.storageRoot, 'medias', media.id, 'stream', 'audio.m3u8'));
}, 180_000);
