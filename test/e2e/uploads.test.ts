import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { apiClient } from '../helpers/api.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { startGilfoyle, storedSourceKey, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { waitFor } from '../helpers/services.ts';

/** Ways in beyond the multipart POST: resumable (tus), straight to the object store (presigned PUT). */
const smallLadder = JSON.stringify([
  { name: '240p', height: 240, video_bitrate: 300 },
  { name: '144p', height: 144, video_bitrate: 150 },
]);

const dir = scratchDir('gilfoyle-uploads');

describe('resumable uploads (tus)', () => {
  let g: RunningGilfoyle;
  beforeAll(async () => {
    g = await startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: smallLadder,
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_TUS_EXPIRY_SECONDS: '4',
      GILFOYLE_TUS_CLEANUP_INTERVAL_SECONDS: '1',
      // The test's HTTP server is on loopback.
      GILFOYLE_SETTINGS_URL_FETCH_ALLOW_PRIVATE_ADDRESSES: 'true',
    });
  }, 120_000);
  afterAll(() => g?.stop());

  /** Starts a tus upload; resolves with the upload once `stopAt` bytes went through, or when it completes. */
  function send(
    file: Buffer,
    endpoint: string,
    opts: { uploadUrl?: string; stopAt?: number; onStart?: (offset: number) => void } = {},
  ) {
    return new Promise<{ upload: tus.Upload; url: string; completed: boolean }>((resolve, reject) => {
      let first = true;
      const upload: tus.Upload = new tus.Upload(file, {
        endpoint,
        uploadUrl: opts.uploadUrl,
        chunkSize: 256 * 1024,
        retryDelays: [],
        metadata: { filename: 'clip.mp4', filetype: 'video/mp4', kind: 'video' },
        onProgress: (sent) => {
          if (first) {
            first = false;
            opts.onStart?.(sent);
          }
          if (opts.stopAt !== undefined && sent >= opts.stopAt) {
            void upload.abort().then(() => resolve({ upload, url: upload.url!, completed: false }));
          }
        },
        onSuccess: () => resolve({ upload, url: upload.url!, completed: true }),
        onError: reject,
      });
      upload.start();
    });
  }

  it('resumes an interrupted upload from its last offset, then processes it', async () => {
    const file = path.join(dir(), 'resumable.mp4');
    await makeVideo(file, { seconds: 4, width: 1280, height: 720 });
    const bytes = await readFile(file);
    const api = apiClient(g.url);
    const { body } = await api.createMedia('resumable');
    const id = body.data.id;
    const endpoint = `${g.url}/medias/${id}/tus`;

    const half = await send(bytes, endpoint, { stopAt: Math.floor(bytes.length / 2) });
    expect(half.completed).toBe(false);
    expect(half.url).toMatch(new RegExp(`/medias/${id}/tus/${id}_[0-9a-f]+$`));
    // The server kept what arrived: HEAD tells the offset to resume from.
    const head = await fetch(half.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(Math.floor(bytes.length / 2) - 256 * 1024);
    expect(offset).toBeLessThan(bytes.length);
    expect((await api.getMedia(id)).body.data.status).toBe('AwaitingUpload');

    let resumedFrom = -1;
    const rest = await send(bytes, endpoint, { uploadUrl: half.url, onStart: (sent) => (resumedFrom = sent) });
    expect(rest.completed).toBe(true);
    expect(resumedFrom).toBeGreaterThanOrEqual(offset);
    const media = await api.waitForStatus(id, ['Ready', 'Errored']);
    expect(media).toMatchObject({ status: 'Ready' });
    expect((await api.getMedia(id)).body.data).toMatchObject({ source: { size: bytes.length, filename: 'clip.mp4' } });
    // The stored source is the very file sent, and the parts are gone from the tus folder.
    const stored = path.join(dir(), 'stored.mp4');
    await g.storage.getToFile(await storedSourceKey(g, id), stored);
    expect((await readFile(stored)).equals(bytes)).toBe(true);
    expect((await readdir(g.tusDir)).filter((f) => f.startsWith(id))).toEqual([]);
  });

  it('expires an abandoned upload and deletes its parts', async () => {
    const api = apiClient(g.url);
    const { body } = await api.createMedia('abandoned');
    const bytes = Buffer.alloc(2 * 1024 * 1024, 1);
    const half = await send(bytes, `${g.url}/medias/${body.data.id}/tus`, { stopAt: 512 * 1024 });
    expect((await readdir(g.tusDir)).some((f) => f.startsWith(body.data.id))).toBe(true);
    await waitFor(
      'expiry',
      async () => ((await readdir(g.tusDir)).some((f) => f.startsWith(body.data.id)) ? undefined : true),
      20_000,
      500,
    );
    const head = await fetch(half.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect([404, 410]).toContain(head.status);
  });

  it('refuses uploads for unknown media, too-large files, and media already processing', async () => {
    const create = (id: string, length: number) =>
      fetch(`${g.url}/medias/${id}/tus`, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(length) },
      });
    expect((await create('7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10', 10)).status).toBe(404);
    expect((await create('not-a-uuid', 10)).status).toBe(400);
    const api = apiClient(g.url);
    const { body } = await api.createMedia('too big');
    expect((await create(body.data.id, 3 * 1024 ** 3)).status).toBe(413);
    const file = path.join(dir(), 'busy.mp4');
    await makeVideo(file, { seconds: 1 });
    const busy = (await api.createMedia('busy')).body.data.id;
    expect((await api.upload(busy, 'video', file)).status).toBe(200);
    const refused = await create(busy, 10);
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toBe('application/json');
    expect(((await refused.json()) as { message: string }).message).toMatch(/ScheduledProcessing|Processing|Ready/);
    // tus's own refusals get the same envelope.
    const malformed = await fetch(`${g.url}/medias/${busy}/tus`, {
      method: 'POST',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '-1' },
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ code: 400, message: 'Invalid upload-length' });
    await api.waitForStatus(busy, ['Ready', 'Errored']);
  });
});

describe('upload from URL', () => {
  let g: RunningGilfoyle;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const file = path.join(dir(), 'remote.mp4');
    await makeVideo(file, { seconds: 2 });
    const bytes = await readFile(file);
    server = createServer((req, res) => (req.url === '/videos/remote.mp4' ? res.end(bytes) : res.writeHead(404).end()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    g = await startGilfoyle({
      GILFOYLE_ENCODING_RENDITIONS: smallLadder,
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_SETTINGS_URL_FETCH_ALLOW_PRIVATE_ADDRESSES: 'true',
    });
  }, 120_000);
  afterAll(async () => {
    await g?.stop();
    server?.close();
  });
  const fromUrl = (id: string, body: unknown) =>
    fetch(`${g.url}/medias/${id}/upload/url`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('fetches the file in the pipeline and processes it', async () => {
    const api = apiClient(g.url);
    const { body } = await api.createMedia('from url');
    const res = await fromUrl(body.data.id, { url: `${base}/videos/remote.mp4` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      data: { status: 'ScheduledProcessing', source: { filename: 'remote.mp4' } },
    });
    expect((await api.waitForStatus(body.data.id, ['Ready', 'Errored'])).status).toBe('Ready');
    const events = (await api.events(body.data.id)).map((e) => e.type);
    expect(events.indexOf('media.fetched')).toBeLessThan(events.indexOf('media.probed'));
  });

  it('ends Errored, without retries, when the URL answers 404', async () => {
    const api = apiClient(g.url);
    const { body } = await api.createMedia('missing url');
    await fromUrl(body.data.id, { url: `${base}/videos/nothing.mp4` });
    const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
    expect(media.status).toBe('Errored');
    expect(media.error).toMatch(/answered 404/);
  });

  it('answers 400 for a URL that is not http(s)', async () => {
    const { body } = await apiClient(g.url).createMedia('ftp');
    const res = await fromUrl(body.data.id, { url: 'ftp://example.com/x.mp4' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/url/);
  });
});

describe('direct uploads to the object store', () => {
  let g: RunningGilfoyle;
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket('gilfoyle-direct');
    g = await startGilfoyle({
      ...minioEnv(bucket),
      GILFOYLE_ENCODING_RENDITIONS: smallLadder,
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_SETTINGS_MAX_FILE_SIZE: String(16 * 1024 * 1024),
    });
  }, 120_000);
  afterAll(async () => {
    await g?.stop();
    await removeTestBucket(bucket);
  });

  const post = (url: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('PUTs to a presigned URL, completes, and processes', async () => {
    const file = path.join(dir(), 'direct.mp4');
    await makeVideo(file, { seconds: 2 });
    const bytes = await readFile(file);
    const api = apiClient(g.url);
    const { body } = await api.createMedia('direct');
    const id = body.data.id;
    expect((await post(`${g.url}/medias/${id}/upload/complete?upload=${randomUUID()}`, {})).status).toBe(409);
    const res = await post(`${g.url}/medias/${id}/upload-url`, { size: bytes.length, content_type: 'video/mp4' });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: { url: string; method: string; headers: Record<string, string>; complete: string };
    };
    expect(data.url).toMatch(/^http:\/\/127\.0\.0\.1:9000\/.*X-Amz-Signature=/);
    expect(data.headers).toEqual({
      'Content-Length': String(bytes.length),
      'Content-Type': 'video/mp4',
      'If-None-Match': '*',
    });
    const { 'Content-Length': _length, ...headers } = data.headers;
    // The store refuses a body of another size than the one signed, and a PUT without the headers signed.
    expect((await fetch(data.url, { method: 'PUT', body: bytes.subarray(1), headers })).status).toBe(403);
    // (MinIO answers 400 for a signed header left out.)
    expect((await fetch(data.url, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'video/mp4' } })).status).toBe(400); // prettier-ignore
    expect((await fetch(data.url, { method: 'PUT', body: bytes, headers })).status).toBe(200);
    const done = await post(`${g.url}${data.complete}`, { kind: 'video' });
    expect(done.status).toBe(200);
    expect(((await done.json()) as { data: { status: string } }).data.status).toBe('ScheduledProcessing');
    expect((await api.waitForStatus(id, ['Ready', 'Errored'])).status).toBe('Ready');
    // The URL cannot replace the source it uploaded, however long it stays valid.
    const other = Buffer.alloc(bytes.length, 1);
    expect((await fetch(data.url, { method: 'PUT', body: other, headers })).status).toBe(412);
    const stored = path.join(dir(), 'stored.mp4');
    await g.storage.getToFile(await storedSourceKey(g, id), stored);
    expect((await readFile(stored)).equals(bytes)).toBe(true);
    // The original, from the API: a presigned redirect whose answer names the file and its type.
    const source = await fetch(`${g.url}/medias/${id}/source`, { redirect: 'manual' });
    expect(source.status).toBe(302);
    expect(source.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:9000\/.*X-Amz-Signature=/);
    const fromStore = await fetch(source.headers.get('location')!);
    expect(fromStore.headers.get('content-type')).toBe('video/mp4');
    expect(fromStore.headers.get('content-disposition')).toBe(
      `attachment; filename="${id}-source"; filename*=UTF-8''${id}-source`,
    );
    expect(Buffer.from(await fromStore.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('refuses a presigned upload larger than max_file_size', async () => {
    const { body } = await apiClient(g.url).createMedia('too big');
    const res = await post(`${g.url}/medias/${body.data.id}/upload-url`, { size: 17 * 1024 * 1024 });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toMatch(/max_file_size/);
  });
});
