import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { streamKey } from '../../src/domain/paths.ts';
import { apiClient } from '../helpers/api.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { closedRunsOf, ffmpegsIn } from '../helpers/pipeline.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { sleep, temporalAddress, waitFor } from '../helpers/services.ts';

/**
 * A worker SIGKILLed while ffmpeg runs: its ffmpeg dies with it, the encode is retried on a new
 * worker once its heartbeat times out, and the media ends Ready with one workflow run and no
 * duplicate renditions. CHAOS_LOOPS media in a row (3 in `npm test`, 10 in `npm run test:chaos`).
 */
const loops = Number(process.env.CHAOS_LOOPS ?? 3);
const dir = scratchDir('gilfoyle-e2e-kill');
let api: RunningGilfoyle;
let bridge: RunningGilfoyle;
let worker: RunningGilfoyle;
let shared: Record<string, string>;
let temporal: Client;
let connection: Connection;

beforeAll(async () => {
  const env = {
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([
      { name: '480p', height: 480, video_bitrate: 900 },
      { name: '240p', height: 240, video_bitrate: 300 },
    ]),
    GILFOYLE_ENCODING_PRESET: 'medium',
    GILFOYLE_ENCODING_HEARTBEAT_TIMEOUT_SECONDS: '4',
  };
  api = await startGilfoyle(env, { role: 'api' });
  shared = joining(api, env);
  [bridge, worker] = await Promise.all([
    startGilfoyle(shared, { role: 'bridge' }),
    startGilfoyle(shared, { role: 'worker' }),
  ]);
  connection = await Connection.connect({ address: temporalAddress });
  temporal = new Client({ connection });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await Promise.all([worker?.stop(), bridge?.stop()]);
  await api?.stop();
});

it(
  `survives its worker being killed mid-encode, ${loops} times out of ${loops}`,
  async () => {
    const client = apiClient(api.url);
    const source = path.join(dir(), 'source.mp4');
    await makeVideo(source, { seconds: 10, width: 854, height: 480 });
    const survived: string[] = [];
    for (let i = 0; i < loops; i++) {
      const media = await client.uploadNew(`kill ${i}`, 'video', source);
      await waitFor(
        'the 480p encode to run',
        async () => ((await ffmpegsIn(api.tempDir, '480p')).length > 0 ? true : undefined),
        60_000,
        50,
      );
      await sleep(300 + 300 * (i % 3)); // kill at different points of the pipeline
      // ...but always while a rendition's encode runs (not pictures or the download): that encode
      // cannot have finished, and must be retried.
      await waitFor(
        'an encode running at the moment of the kill',
        async () => {
          if ((await ffmpegsIn(api.tempDir, '*')).length === 0) return undefined;
          process.kill(worker.pid, 'SIGKILL');
          return true;
        },
        60_000,
        20,
      );
      // Parent-death signal: no ffmpeg of the dead worker survives it.
      await waitFor(
        'orphaned ffmpeg gone',
        async () => ((await ffmpegsIn(api.tempDir)).length === 0 ? true : undefined),
        5_000,
        50,
      );

      worker = await startGilfoyle(shared, { role: 'worker' });
      const ready = await client.waitForStatus(media.id, ['Ready', 'Errored'], 120_000);
      expect(ready.status).toBe('Ready');

      expect((await closedRunsOf(temporal, media.id)).map((r) => r.status)).toEqual(['COMPLETED']);
      const renditions = await client.renditions(media.id);
      expect(renditions.map((r) => [r.name, r.status])).toEqual([
        ['480p', 'Ready'],
        ['240p', 'Ready'],
        ['audio', 'Ready'],
      ]);
      // The encode that was running when the worker died was retried.
      expect(Math.max(...renditions.map((r) => r.attempts))).toBeGreaterThanOrEqual(2);
      const readyEvents = (await client.events(media.id))
        .filter((e) => e.type === 'rendition.ready')
        .map((e) => e.data.rendition);
      expect(readyEvents.sort()).toEqual(['240p', '480p', 'audio']);
      // Every playlist's segments are in the store, the playlist plays to its end.
      for (const r of renditions) {
        const playlist = await (await client.stream(media.id, r.playlist!)).text();
        // Named as served, with the run's version (?v=).
        const segments = playlist
          .split('\n')
          .filter((l) => l && !l.startsWith('#'))
          .map((l) => l.split('?')[0]!);
        expect(playlist).toContain('#EXT-X-ENDLIST');
        for (const s of segments) expect(await api.storage.stat(streamKey(media.id, s))).not.toBeNull();
      }
      survived.push(media.id);
    }
    expect(survived).toHaveLength(loops);
    // The killed workers' attempt folders were swept by the workers that replaced them.
    await waitFor(
      'temp folders removed',
      async () => ((await readdir(api.tempDir)).length === 0 ? true : undefined),
      15_000,
    );
  },
  120_000 + loops * 90_000,
);
