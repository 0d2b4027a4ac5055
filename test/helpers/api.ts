import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from './services.ts';

export interface MediaJson {
  id: string;
  title: string;
  status: string;
  playable: boolean;
  progress: number;
  duration: number | null;
  error: string | null;
}
export interface EventJson {
  type: string;
  level: string;
  message: string;
  data: Record<string, unknown>;
}

/** A thin client of Gilfoyle's REST API for tests. */
export function apiClient(base: string) {
  const json = async <T>(res: Response): Promise<{ status: number; body: T }> => ({ status: res.status, body: (await res.json()) as T });
  const api = {
    createMedia: (title: string) =>
      fetch(`${base}/medias`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) }).then((r) =>
        json<{ code: number; data: MediaJson }>(r),
      ),
    getMedia: (id: string) => fetch(`${base}/medias/${id}`).then((r) => json<{ code: number; data: MediaJson; message?: string }>(r)),
    events: (id: string) =>
      fetch(`${base}/medias/${id}/events?limit=500`).then((r) => json<{ code: number; data: EventJson[] }>(r)).then((r) => r.body.data),
    async upload(id: string, kind: 'video' | 'audio', file: string, filename = path.basename(file)) {
      const form = new FormData();
      form.append('file', new Blob([await readFile(file)]), filename);
      return fetch(`${base}/medias/${id}/upload/${kind}`, { method: 'POST', body: form }).then((r) =>
        json<{ code: number; data: MediaJson; message?: string }>(r),
      );
    },
    /** Waits until the media reaches one of `statuses` and returns it. */
    waitForStatus: (id: string, statuses: string[], timeoutMs = 120_000) =>
      waitFor(
        `media ${id} to reach ${statuses.join('|')}`,
        async () => {
          const { body } = await api.getMedia(id);
          return statuses.includes(body.data.status) ? body.data : undefined;
        },
        timeoutMs,
        300,
      ),
    stream: (id: string, file: string, init?: RequestInit) => fetch(`${base}/medias/${id}/stream/${file}`, init),
  };
  return api;
}
