import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apiClient } from '../test/helpers/api.ts';
import { prepareTemplateDatabase } from '../test/helpers/database.ts';
import { startGilfoyle, type RunningGilfoyle } from '../test/helpers/gilfoyle.ts';

export interface UploadTiming {
  /** Seconds the upload request took (the client sending the file, Gilfoyle storing it). */
  uploaded: number;
  /** Seconds from the start of the upload until the media reported playable. */
  playable: number;
  /** Seconds from the start of the upload until Ready. */
  ready: number;
}

/**
 * Uploads `file` to a fresh media and times it to playable and to Ready. The times are those of
 * the `media.playable` and `media.ready` events, which Gilfoyle writes in the same transaction
 * as the state the API then answers: exact to the millisecond, and the benchmark need not poll
 * the API often enough to disturb the encodes it measures (it polls every 250 ms to know when to
 * stop).
 */
export async function timeUpload(
  g: RunningGilfoyle,
  file: string,
  /** `playable`: stop there, and delete the media (its encode need not finish); `ready` is then NaN. */
  until: 'ready' | 'playable' = 'ready',
): Promise<UploadTiming> {
  const api = apiClient(g.url);
  const { body } = await api.createMedia(`bench ${path.basename(file)}`);
  const startedAt = Date.now();
  const started = performance.now();
  const up = await api.upload(body.data.id, 'video', file);
  if (up.status !== 200) throw new Error(`upload failed: ${JSON.stringify(up.body)}`);
  const uploaded = (performance.now() - started) / 1000;
  for (;;) {
    const m = (await api.getMedia(body.data.id)).body.data;
    if (m.status === 'Errored') throw new Error(`media errored: ${m.error}`);
    if (m.status === 'Ready' || (until === 'playable' && m.playable)) break;
    if (performance.now() - started > 1_800_000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
  const events = await api.events(body.data.id);
  if (until === 'playable') await api.remove(body.data.id);
  const at = (type: string) => {
    const e = events.find((ev) => ev.type === type);
    return e ? (new Date(e.created_at).getTime() - startedAt) / 1000 : null;
  };
  const ready = at('media.ready') ?? NaN;
  // A media whose ladder is one rung (and its audio) is playable when it is Ready.
  return { uploaded, playable: at('media.playable') ?? ready, ready };
}

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** A scratch folder and a running `gilfoyle all` for the benchmark, both removed by `close`. */
export async function benchSetup(env: Record<string, string> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-bench-'));
  // Each Gilfoyle gets a database copied from the migrated template (as in the tests).
  await prepareTemplateDatabase();
  const g = await startGilfoyle({ GILFOYLE_LOG_LEVEL: 'error', ...env });
  return {
    dir,
    g,
    async close() {
      await g.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export const fmt = (s: number) => `${s.toFixed(2)} s`;
