/** The slice of Gilfoyle's REST API the admin page uses (same origin, v1 JSON envelopes). */
import type { components } from '../../src/client/schema.d.ts';

export const mediaStatuses = ['AwaitingUpload', 'ScheduledProcessing', 'Processing', 'Ready', 'Errored'] as const;
export type MediaStatus = (typeof mediaStatuses)[number];

// The API's own types, generated from its OpenAPI document (npm run gen:client): the page cannot drift from it.
export type Probe = NonNullable<components['schemas']['ProbeSummary']>;
export type Media = components['schemas']['Media'];
export type MediaEvent = components['schemas']['MediaEvent'];
export type Rendition = components['schemas']['Rendition'];
export type Attachment = components['schemas']['Attachment'];

export interface ListMetadata {
  total: number;
  limit: number;
  offset: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** An error as the banner shows it: the server's message, with the HTTP status when there was one. */
export const describeError = (err: unknown) =>
  err instanceof ApiError && err.code
    ? `(HTTP ${err.code}) ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);

export const isProcessing = (s: MediaStatus) => s === 'ScheduledProcessing' || s === 'Processing';
export const isSettled = (s: MediaStatus) => s === 'Ready' || s === 'Errored';

/** Reads a v1 envelope; any non-2xx answer becomes an ApiError carrying the server's message. */
function readEnvelope<T>(status: number, text: string): { data: T; metadata?: ListMetadata } {
  let body: { code?: number; data?: T; metadata?: ListMetadata; message?: string } | undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (status < 200 || status >= 300) {
    throw new ApiError(
      status,
      body?.message ?? (status ? `HTTP ${status}` : 'network error: the server did not answer'),
    );
  }
  if (!body) throw new ApiError(status, 'the server answered without a JSON body');
  return { data: body.data as T, metadata: body.metadata };
}

/** The API key (when the server has auth.api_keys), kept in this browser only. */
const keyItem = 'gilfoyle.apiKey';
const authHeader = (): Record<string, string> => {
  const key = localStorage.getItem(keyItem);
  return key ? { authorization: `Bearer ${key}` } : {};
};
/** Asks for a key after a 401; false when the operator gives none. */
function askForKey(message: string): boolean {
  const key = window.prompt(`${message}\n\nAPI key (kept in this browser):`);
  if (!key) return false;
  localStorage.setItem(keyItem, key.trim());
  return true;
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  asked = false,
): Promise<{ data: T; metadata?: ListMetadata }> {
  let res: Response;
  const usedKey = localStorage.getItem(keyItem);
  try {
    res = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...authHeader(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `network error: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 401 && !asked) {
    let message = 'This Gilfoyle needs an API key.';
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // keep the default message
    }
    // Requests refused at the same time ask once: the others retry with the key given meanwhile.
    if (localStorage.getItem(keyItem) !== usedKey || askForKey(message)) return request<T>(method, path, body, true);
  }
  return readEnvelope<T>(res.status, text);
}

const media = (id: string) => `/medias/${encodeURIComponent(id)}`;

export const api = {
  listMedias: (p: { limit: number; offset: number; q?: string; status?: string }) => {
    const qs = new URLSearchParams({ limit: String(p.limit), offset: String(p.offset) });
    if (p.q) qs.set('q', p.q);
    if (p.status) qs.set('status', p.status);
    return request<Media[]>('GET', `/medias?${qs}`);
  },
  createMedia: async (title: string) => (await request<Media>('POST', '/medias', { title })).data,
  getMedia: async (id: string) => (await request<Media>('GET', media(id))).data,
  events: (id: string, offset: number) =>
    request<MediaEvent[]>('GET', `${media(id)}/events?limit=500&offset=${offset}`),
  renditions: async (id: string) => (await request<Rendition[]>('GET', `${media(id)}/renditions`)).data,
  retry: async (id: string) => (await request<Media>('POST', `${media(id)}/retry`)).data,
  cancel: async (id: string, force = false) =>
    (await request<Media>('POST', `${media(id)}/cancel${force ? '?force=true' : ''}`)).data,
  remove: async (id: string) => (await request<{ id: string }>('DELETE', media(id))).data,
  attachments: async (id: string) => (await request<Attachment[]>('GET', `${media(id)}/attachments`)).data,
  removeAttachment: async (id: string, key: string) =>
    (await request<{ key: string }>('DELETE', `${media(id)}/attachments/${encodeURIComponent(key)}`)).data,
  /** A clip of this media's range: a new media, processed at once. */
  createClip: async (title: string, clip: { media_id: string; start: number; end: number }) =>
    (await request<Media>('POST', '/medias', { title, clip })).data,
  /** Stream URLs of a private media, carrying a fresh playback token. */
  playbackToken: async (id: string) =>
    (await request<{ query: string; links: { master: string } }>('POST', `${media(id)}/playback-token`, {})).data,
};

/** One Server-Sent Event of GET /medias/{id}/events/stream. */
export interface StreamMessage {
  id?: string;
  event: string;
  data: string;
}

/** A `state` event: the media and its renditions as GET shows them. */
export interface StreamState {
  media: Media;
  renditions: Rendition[];
}

/** Splits one SSE block (the lines between blank lines) into its fields; comments (heartbeats) give none. */
function parseEvent(block: string): StreamMessage | null {
  const m: StreamMessage = { event: 'message', data: '' };
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') m.event = value;
    else if (field === 'id') m.id = value;
  }
  if (!data.length) return null;
  m.data = data.join('\n');
  return m;
}

/**
 * Follows one media's event stream (Server-Sent Events) with fetch, which, unlike EventSource,
 * can send the API key. Calls `onMessage` for each event; resolves when the server ends the
 * stream (the media settled, was deleted, or the connection reached its lifetime); rejects with
 * an ApiError when the stream is refused or breaks.
 */
export async function followEvents(
  id: string,
  after: number,
  onMessage: (m: StreamMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${media(id)}/events/stream?after=${after}`, {
      headers: { accept: 'text/event-stream', ...authHeader() },
      signal,
    });
  } catch (err) {
    throw new ApiError(0, `network error: ${(err as Error).message}`);
  }
  if (res.status !== 200 || !res.body) {
    readEnvelope(res.status, await res.text());
    throw new ApiError(res.status, 'the event stream did not open');
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const m = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (m) onMessage(m);
      }
    }
  } catch (err) {
    throw new ApiError(0, `the event stream broke: ${(err as Error).message}`);
  }
}

export interface UploadHandle {
  promise: Promise<Media>;
  abort: () => void;
}

/**
 * Uploads a file as multipart/form-data (field "file") with XMLHttpRequest, which, unlike
 * fetch, reports upload progress. Audio files go to /upload/audio, everything else to /upload/video.
 */
export function uploadSource(
  id: string,
  file: File,
  onProgress: (loaded: number, total: number) => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const kind = file.type.startsWith('audio/') ? 'audio' : 'video';
  const promise = new Promise<Media>((resolve, reject) => {
    xhr.open('POST', `${media(id)}/upload/${kind}`);
    xhr.setRequestHeader('accept', 'application/json');
    for (const [name, value] of Object.entries(authHeader())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      try {
        resolve(readEnvelope<Media>(xhr.status, xhr.responseText).data);
      } catch (err) {
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network error: the upload was interrupted'));
    xhr.onabort = () => reject(new ApiError(0, 'upload cancelled'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Attaches a file (multipart: the file and its fields) to a media. */
export async function addAttachment(id: string, file: File, fields: Record<string, string>): Promise<Attachment> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) if (v) form.append(k, v);
  form.append('file', file, file.name);
  let res: Response;
  try {
    res = await fetch(`${media(id)}/attachments`, {
      method: 'POST',
      headers: { accept: 'application/json', ...authHeader() },
      body: form,
    });
  } catch (err) {
    throw new ApiError(0, `network error: ${(err as Error).message}`);
  }
  return readEnvelope<Attachment>(res.status, await res.text()).data;
}
