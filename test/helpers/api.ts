import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createGilfoyleClient, type Media, type MediaEvent, type Webhook } from '../../src/client/index.ts';
import { waitFor } from './services.ts';

export type MediaJson = Media;
export type EventJson = MediaEvent;

interface Answer<T> {
  status: number;
  body: { code: number; data: T; message?: string };
}

/** openapi-fetch's result as the tests read it: the status and the envelope, success or error. */
const answer = async <T>(p: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<Answer<T>> => {
  const { data, error, response } = await p;
  return { status: response.status, body: (data ?? error) as Answer<T>['body'] };
};

/**
 * Gilfoyle's REST API for tests, through the typed client generated from the OpenAPI
 * document (src/client): a route or field the document lacks does not compile.
 */
export function apiClient(base: string, headers: Record<string, string> = {}) {
  const client = createGilfoyleClient(base, { headers });
  const id = (mediaId: string) => ({ params: { path: { id: mediaId } } });
  const api = {
    client,
    createMedia: (title: string) => answer<Media>(client.POST('/medias', { body: { title } })),
    getMedia: (mediaId: string) => answer<Media>(client.GET('/medias/{id}', id(mediaId))),
    listMedias: (query: { q?: string; status?: Media['status']; limit?: number; offset?: number } = {}) =>
      answer<Media[]>(client.GET('/medias', { params: { query: { limit: 20, offset: 0, ...query } } })),
    events: async (mediaId: string) => {
      const { data } = await client.GET('/medias/{id}/events', {
        params: { path: { id: mediaId }, query: { limit: 500, offset: 0 } },
      });
      return data?.data ?? [];
    },
    renditions: async (mediaId: string) => (await client.GET('/medias/{id}/renditions', id(mediaId))).data?.data ?? [],
    retry: (mediaId: string) => answer<Media>(client.POST('/medias/{id}/retry', id(mediaId))),
    cancel: (mediaId: string, force = false) =>
      answer<Media>(
        client.POST('/medias/{id}/cancel', {
          params: { path: { id: mediaId }, query: force ? { force: 'true' } : {} },
        }),
      ),
    remove: (mediaId: string) => answer<{ id: string }>(client.DELETE('/medias/{id}', id(mediaId))),
    async upload(mediaId: string, kind: 'video' | 'audio', file: string, filename = path.basename(file)) {
      const form = new FormData();
      form.append('file', new Blob([await readFile(file)]), filename);
      const route = kind === 'video' ? '/medias/{id}/upload/video' : '/medias/{id}/upload/audio';
      return answer<Media>(client.POST(route, { ...id(mediaId), body: {} as never, bodySerializer: () => form }));
    },
    /** Creates a media and uploads `file` to it; the upload must be accepted (200). */
    async uploadNew(title: string, kind: 'video' | 'audio', file: string): Promise<Media> {
      const media = (await api.createMedia(title)).body.data;
      const up = await api.upload(media.id, kind, file);
      if (up.status !== 200) throw new Error(`upload of ${file} answered ${up.status}: ${JSON.stringify(up.body)}`);
      return media;
    },
    /** Waits until the media reaches one of `statuses` and returns it. */
    waitForStatus: (mediaId: string, statuses: Media['status'][], timeoutMs = 120_000) =>
      waitFor(
        `media ${mediaId} to reach ${statuses.join('|')}`,
        async () => {
          const { body } = await api.getMedia(mediaId);
          return statuses.includes(body.data.status) ? body.data : undefined;
        },
        timeoutMs,
        300,
      ),
    createWebhook: (body: { url: string; events?: string[]; description?: string; enabled?: boolean }) =>
      answer<Webhook>(client.POST('/webhooks', { body })),
    webhook: (webhookId: string) => answer<Webhook>(client.GET('/webhooks/{id}', id(webhookId))),
    deleteWebhook: (webhookId: string) => answer<{ id: string }>(client.DELETE('/webhooks/{id}', id(webhookId))),
    deliveries: async (webhookId: string) =>
      (
        await client.GET('/webhooks/{id}/deliveries', {
          params: { path: { id: webhookId }, query: { limit: 100, offset: 0 } },
        })
      ).data?.data ?? [],
    stream: (mediaId: string, file: string, init?: RequestInit) =>
      fetch(`${base}/medias/${mediaId}/stream/${file}`, init),
  };
  return api;
}
