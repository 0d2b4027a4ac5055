import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apiClient } from '../test/helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../test/helpers/gilfoyle.ts';

export interface UploadTiming {
  /** Seconds the upload request took (the client sending the file, Gilfoyle storing it). */
  uploaded: number;
  /** Seconds from the start of the upload until the media reported playable. */
  playable: number;
  /** Seconds from the start of the upload until Ready. */
  ready: number;
}

/** Uploads `file` to a fresh media and times it to playable and to Ready (polling every 50 ms). */
export async function timeUpload(g: RunningGilfoyle, file: string): Promise<UploadTiming> {
  const api = apiClient(g.url);
  const { body } = await api.createMedia(`bench ${path.basename(file)}`);
  const started = performance.now();
  const up = await api.upload(body.data.id, 'video', file);
  if (up.status !== 200) throw new Error(`upload failed: ${JSON.stringify(up.body)}`);
  const uploaded = (performance.now() - started) / 1000;
  let playable = 0;
  for (;;) {
    const m = (await api.getMedia(body.data.id)).body.data;
    const t = (performance.now() - started) / 1000;
    if (m.playable && !playable) playable = t;
    if (m.status === 'Ready') return { uploaded, playable: playable || t, ready: t };
    if (m.status === 'Errored') throw new Error(`media errored: ${m.error}`);
    if (t > 1800) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** A scratch folder and a running `gilfoyle all` for the benchmark, both removed by `close`. */
export async function benchSetup(env: Record<string, string> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-bench-'));
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

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
export const fmt = (s: number) => `${s.toFixed(2)} s`;
