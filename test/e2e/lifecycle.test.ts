import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'node:http';
import amqp from 'amqplib';
import { Client, Connection } from '@temporalio/client';
import { apiClient } from '../helpers/api.ts';
import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { startGilfoyle, storedSourceKey, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { decodeFully, makeAudio, makeVideo, probeDuration, probeStreams } from '../helpers/media.ts';
import { ffmpegsIn } from '../helpers/pipeline.ts';
import { rabbitUrl, sleep, temporalAddress, waitFor } from '../helpers/services.ts';

/** A small ladder keeps the suite fast; planning itself is unit-tested against the default ladder. */
const ladder = [
  { name: '360p', height: 360, video_bitrate: 500 },
  { name: '240p', height: 240, video_bitrate: 250 },
];
const maxFileSize = 32 * 1024 * 1024;

/** A storage driver the lifecycle runs on, and the environment that selects it. */
const drivers: [string, () => Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>][] = [
  ['fs', async () => ({ env: {}, cleanup: async () => undefined })],
  // Sources and renditions go through the S3 API of MinIO; segments are served by 302 to presigned
  // MinIO URLs, playlists by Gilfoyle.
  [
    's3',
    async () => {
      const bucket = await createTestBucket('gilfoyle-e2e');
      return { env: minioEnv(bucket), cleanup: () => removeTestBucket(bucket) };
    },
  ],
];

/** The whole lifecycle against a running `gilfoyle all`, once per storage driver. */
describe.each(drivers)('on the %s storage driver', (driver, storageEnv) => {
  let g: RunningGilfoyle;
  let api: ReturnType<typeof apiClient>;
  let dir: string;
  let storageCleanup: () => Promise<void> = async () => undefined;

  async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** GET with the path sent exactly as written. */
  function rawGet(pathAndQuery: string): Promise<{ status: number; body: string }> {
    const { hostname, port } = new URL(g.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port, path: pathAndQuery, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-e2e-media-'));
    const storage = await storageEnv();
    storageCleanup = storage.cleanup;
    g = await startGilfoyle({
      ...storage.env,
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify(ladder),
      GILFOYLE_SETTINGS_MAX_FILE_SIZE: String(maxFileSize),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
    });
    api = apiClient(g.url);
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await storageCleanup();
    await rm(dir, { recursive: true, force: true });
  });

  describe('a video, from creation to HLS and deletion', () => {
    let id: string;
    const source = () => path.join(dir, 'clip.mp4');

    it('is created AwaitingUpload and refuses to stream', async () => {
      await makeVideo(source(), { seconds: 5, width: 640, height: 360 });
      const { status, body } = await api.createMedia('my clip');
      expect(status).toBe(200);
      expect(body).toMatchObject({ code: 200, data: { title: 'my clip', status: 'AwaitingUpload', playable: false } });
      id = body.data.id;
      expect((await api.stream(id, 'master.m3u8')).status).toBe(425);
    });

    it('is uploaded, ScheduledProcessing, and becomes Ready with events for each step', async () => {
      const up = await api.upload(id, 'video', source());
      expect(up.status).toBe(200);
      expect(up.body.data.status).toBe('ScheduledProcessing');
      const ready = await api.waitForStatus(id, ['Ready', 'Errored']);
      expect(ready).toMatchObject({ status: 'Ready', playable: true, progress: 100, error: null });
      expect(ready.duration).toBeCloseTo(5, 0);
      const types = (await api.events(id)).map((e) => e.type);
      expect(types).toEqual(
        expect.arrayContaining([
          'media.created',
          'media.uploaded',
          'media.probed',
          'media.processing',
          'rendition.ready',
          'media.ready',
        ]),
      );
      expect(types.indexOf('media.uploaded')).toBeLessThan(types.indexOf('media.probed'));
      expect(types.indexOf('media.processing')).toBeLessThan(types.indexOf('media.ready'));
    });

    it('streams a master playlist whose every variant decodes with the source duration', async () => {
      const res = await api.stream(id, 'master.m3u8');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
      const master = await res.text();
      expect(master).toMatch(/RESOLUTION=640x360/);
      expect(master).toMatch(/RESOLUTION=426x240/);
      expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO/);
      const playlists = master.split('\n').filter((l) => !l.startsWith('#') && /\.m3u8(\?|$)/.test(l));
      const audioUri = /URI="([^"]+)"/.exec(master)?.[1];
      // Each named with the version of the run that made it (a CDN keeps them under it).
      expect(playlists.map((p) => p.split('?')[0])).toEqual(['360p.m3u8', '240p.m3u8']);
      const versions = [...playlists, audioUri!].map((p) => new URL(p, g.url).searchParams.get('v'));
      expect(versions[0]).toMatch(/^[\w-]{10}$/);
      expect(new Set(versions).size).toBe(1);
      for (const p of [...playlists, audioUri!]) {
        const url = `${g.url}/medias/${id}/stream/${p}`;
        const text = await (await fetch(url)).text();
        expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
        expect(text).toContain('#EXT-X-ENDLIST');
        await decodeFully(url);
        expect(Math.abs((await probeDuration(url)) - 5)).toBeLessThanOrEqual(0.5);
      }
      const streams = await probeStreams(`${g.url}/medias/${id}/stream/master.m3u8`);
      expect(streams.filter((s) => s.codec_type === 'video').map((s) => s.codec_name)).toContain('h264');
      expect(streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac')).toBe(true);
    });

    it('serves playlists itself and, from an object store, segments by redirect', async () => {
      expect((await api.stream(id, 'master.m3u8', { redirect: 'manual' })).status).toBe(200);
      const segment = await api.stream(id, '360p_00000.m4s', { redirect: 'manual' });
      if (driver === 's3') {
        expect(segment.status).toBe(302);
        expect(segment.headers.get('location')).toMatch(
          /^http:\/\/127\.0\.0\.1:9000\/.*360p_00000\.m4s\?.*X-Amz-Signature=/,
        );
      } else {
        expect(segment.status).toBe(200);
      }
    });

    it('serves segments with Range support and the right content type', async () => {
      const whole = await api.stream(id, '360p_00000.m4s');
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe('video/iso.segment');
      const bytes = Buffer.from(await whole.arrayBuffer());
      const part = await api.stream(id, '360p_00000.m4s', { headers: { range: 'bytes=100-199' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
      const beyond = await api.stream(id, '360p_00000.m4s', { headers: { range: `bytes=${bytes.length + 10}-` } });
      expect(beyond.status).toBe(416);
      expect((await api.stream(id, 'init.mp4')).status).toBe(404);
    });

    it.each([
      ['..%2F..%2Fpackage.json'],
      ['%2e%2e'],
      ['%2e%2e%2f%2e%2e%2fsource'],
      ['..%5Csource'],
      ['%2Fetc%2Fpasswd'],
      ['.%2E%2Fsource'],
      ['../../../package.json'],
      ['/etc/passwd'],
      ['..'],
    ])('never serves a file outside the media folder: %s', async (p) => {
      // A raw request: fetch would normalise "..", "%2e%2e" away before sending.
      const res = await rawGet(`/medias/${id}/stream/${p}`);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ code: 404 });
    });

    it('does not serve the source file stored beside the renditions', async () => {
      expect((await rawGet(`/medias/${id}/stream/..%2Fsource`)).status).toBe(404);
      expect((await rawGet(`/medias/${id}/stream/source`)).status).toBe(404);
    });

    it('is deleted with every stored file', async () => {
      expect((await g.storage.list(`medias/${id}/stream/`)).length).toBeGreaterThan(4);
      const res = await fetch(`${g.url}/medias/${id}`, { method: 'DELETE' });
      expect(res.status).toBe(200);
      expect((await api.getMedia(id)).status).toBe(404);
      expect(await g.storage.list(`medias/${id}/`)).toEqual([]);
      expect((await api.stream(id, 'master.m3u8')).status).toBe(404);
      expect((await fetch(`${g.url}/medias/${id}`, { method: 'DELETE' })).status).toBe(404);
      // Files left behind (a DELETE whose file step failed, a late writer): repeating it removes them.
      await g.storage.put(`medias/${id}/stream/late.m4s`, 'late');
      expect((await fetch(`${g.url}/medias/${id}`, { method: 'DELETE' })).status).toBe(200);
      expect(await g.storage.list(`medias/${id}/`)).toEqual([]);
      expect((await fetch(`${g.url}/medias/${id}`, { method: 'DELETE' })).status).toBe(404);
    });
  });

  describe('operations', () => {
    it('/healthz reports version, storage, max file size and every dependency up', async () => {
      const res = await fetch(`${g.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        code: 200,
        data: {
          status: 'up',
          version: expect.stringMatching(/^\d+\.\d+\.\d+/),
          storage_driver: driver,
          max_file_size: maxFileSize,
          dependencies: { database: 'up', rabbitmq: 'up', temporal: 'up', storage: 'up' },
          // The v1 contract's fields: this checkout's commit, the release tag.
          commit: expect.stringMatching(/^[0-9a-f]{40}$/),
          tag: expect.stringMatching(/^v\d+\.\d+\.\d+/),
          database_dialect: 'postgres',
          debug: false,
        },
      });
    });

    it('/openapi.json documents every route', async () => {
      const doc = (await (await fetch(`${g.url}/openapi.json`)).json()) as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/healthz',
        '/medias',
        '/medias/{id}',
        '/medias/{id}/animated.gif',
        '/medias/{id}/animated.webp',
        '/medias/{id}/attachments',
        '/medias/{id}/attachments/{key}',
        '/medias/{id}/cancel',
        '/medias/{id}/events',
        '/medias/{id}/events/stream',
        '/medias/{id}/playback-token',
        '/medias/{id}/renditions',
        '/medias/{id}/retry',
        '/medias/{id}/source',
        '/medias/{id}/stream/{path}',
        '/medias/{id}/thumbnail.jpg',
        '/medias/{id}/thumbnail.png',
        '/medias/{id}/thumbnail.webp',
        '/medias/{id}/tus',
        '/medias/{id}/upload-url',
        '/medias/{id}/upload/audio',
        '/medias/{id}/upload/complete',
        '/medias/{id}/upload/url',
        '/medias/{id}/upload/video',
        '/metrics',
        '/readyz',
        '/webhooks',
        '/webhooks/{id}',
        '/webhooks/{id}/deliveries',
        '/webhooks/{id}/deliveries/{delivery_id}/redeliver',
        '/webhooks/{id}/rotate-secret',
      ]);
    });

    it('lists medias newest first with a total, and renames one', async () => {
      const a = (await api.createMedia('first')).body.data;
      const b = (await api.createMedia('second')).body.data;
      const page = (await (await fetch(`${g.url}/medias?limit=2&offset=0`)).json()) as {
        data: { id: string }[];
        metadata: { total: number; limit: number };
      };
      expect(page.data.map((m) => m.id)).toEqual([b.id, a.id]);
      expect(page.metadata).toMatchObject({ limit: 2, offset: 0 });
      expect(page.metadata.total).toBeGreaterThanOrEqual(2);
      expect((await fetch(`${g.url}/medias?limit=1000`)).status).toBe(400);
      const patched = await fetch(`${g.url}/medias/${a.id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'renamed' }),
      });
      expect(await patched.json()).toMatchObject({ code: 200, data: { id: a.id, title: 'renamed' } });
    });

    it('DELETE during encoding stops the workflow and leaves no files', async () => {
      const file = path.join(dir, 'long.mp4');
      await makeVideo(file, { seconds: 60, width: 1280, height: 720, crf: 35 }); // under max_file_size
      const { body } = await api.createMedia('deleted while encoding');
      const id = body.data.id;
      expect((await api.upload(id, 'video', file)).status).toBe(200);
      // Deleted while the 360p encode runs (a few seconds here): it stores its segments afterwards.
      await waitFor(
        'the 360p encode to run',
        async () => ((await ffmpegsIn(g.tempDir, '360p')).length > 0 ? true : undefined),
        60_000,
        50,
      );
      const deleted = await fetch(`${g.url}/medias/${id}`, { method: 'DELETE' });
      expect({ status: deleted.status, body: await deleted.json() }).toMatchObject({ status: 200 }); // the body says why if not
      const temporal = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
      try {
        const description = await temporal.workflow.getHandle(`media-${id}`).describe();
        expect(description.status.name).toBe('TERMINATED');
      } finally {
        await temporal.connection.close();
      }
      expect((await api.getMedia(id)).status).toBe(404);
      // Once every activity in flight has ended (no ffmpeg, temp folders removed), no file came back.
      await waitFor(
        'the activities in flight to end',
        async () =>
          (await ffmpegsIn(g.tempDir)).length === 0 && (await readdir(g.tempDir)).length === 0 ? true : undefined,
        60_000,
        100,
      );
      expect(await g.storage.list(`medias/${id}/`)).toEqual([]);
    });
  });

  describe('audio-only sources', () => {
    it('become an AAC HLS rendition', async () => {
      const file = path.join(dir, 'voice.mp3');
      await makeAudio(file, { seconds: 4 });
      const { body } = await api.createMedia('voice note');
      expect((await api.upload(body.data.id, 'audio', file)).status).toBe(200);
      const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
      expect(media.status).toBe('Ready');
      const master = await (await api.stream(body.data.id, 'master.m3u8')).text();
      expect(master).toContain('CODECS="mp4a.40.2"');
      expect(master).not.toContain('RESOLUTION');
      const url = `${g.url}/medias/${body.data.id}/stream/audio.m3u8`;
      await decodeFully(url);
      expect(Math.abs((await probeDuration(url)) - 4)).toBeLessThanOrEqual(0.5);
      expect((await probeStreams(url)).map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['audio:aac']);
    });
  });

  describe('bad input gets a clear answer and loses nothing', () => {
    it.each([
      [
        'a text file named .mp4',
        'notes.mp4',
        Buffer.from('this is not a video, just some text\n'.repeat(50)),
        /not a media file|cannot process/,
      ],
      ['a zero-byte file', 'empty.mp4', Buffer.alloc(0), /empty/],
    ])('%s ends Errored at once with an event naming the cause', async (_label, name, content, reason) => {
      const file = path.join(dir, name);
      await writeFile(file, content);
      const { body } = await api.createMedia(name);
      expect((await api.upload(body.data.id, 'video', file)).status).toBe(200);
      const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
      expect(media.status).toBe('Errored');
      expect(media.error).toMatch(reason);
      const events = await api.events(body.data.id);
      const errored = events.find((e) => e.type === 'media.errored');
      expect(errored).toMatchObject({ level: 'error' });
      expect(errored!.message).toMatch(reason);
      // Non-retryable: the worker did not try again, nor try to encode.
      expect(events.filter((e) => e.type === 'media.probed' || e.type === 'rendition.attempt_failed')).toEqual([]);
      expect((await api.stream(body.data.id, 'master.m3u8')).status).toBe(425);
    });

    it('a truncated MP4 ends Errored', async () => {
      const full = path.join(dir, 'full.mp4');
      await makeVideo(full, { seconds: 2 });
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(full);
      const file = path.join(dir, 'truncated.mp4');
      // The moov atom of a non-faststart MP4 is at the end: cutting the tail loses it.
      await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const { body } = await api.createMedia('truncated');
      await api.upload(body.data.id, 'video', file);
      const media = await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
      expect(media.status).toBe('Errored');
      expect(media.error).toMatch(/not a media file|cannot process/);
    });

    it('answers 400 naming the field, 404 for unknown ids and 400 for malformed ones', async () => {
      const post = (body: string) =>
        fetch(`${g.url}/medias`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const bad = await post('{"title": ');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: 400, message: expect.stringMatching(/JSON/i) });
      const missing = await post('{}');
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { message: string }).message).toMatch(/title/);
      const empty = await post('{"title": "  "}');
      expect(empty.status).toBe(400);
      // Control characters are refused wherever they are, trailing ones too (before any trimming),
      // as the document's pattern says; in a search as in a title.
      for (const title of ['a\u0000b', 'title\f', '\u000btitle']) {
        const res = await post(JSON.stringify({ title }));
        expect({ title, status: res.status, body: await res.json() }).toMatchObject({
          status: 400,
          body: { message: expect.stringMatching(/control characters/) },
        });
      }
      expect((await fetch(`${g.url}/medias?q=${encodeURIComponent('launch\f')}`)).status).toBe(400);
      expect((await fetch(`${g.url}/medias?q=${encodeURIComponent(' launch\n')}`)).status).toBe(200);
      const unknown = await fetch(`${g.url}/medias/7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ code: 404, message: expect.stringMatching(/not found/) });
      const malformed = await fetch(`${g.url}/medias/not-a-uuid`);
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { message: string }).message).toMatch(/id/);
      const patch = await fetch(`${g.url}/medias/not-a-uuid/upload/video`, { method: 'POST' });
      expect(patch.status).toBe(400);
    });

    it('refuses a file over max_file_size with 413 and keeps nothing of it', async () => {
      const file = path.join(dir, 'big.bin');
      await writeFile(file, Buffer.alloc(maxFileSize + 1024 * 1024, 7));
      const { body } = await api.createMedia('too big');
      const res = await api.upload(body.data.id, 'video', file);
      expect(res.status).toBe(413);
      expect(res.body.message).toMatch(/max_file_size/);
      expect((await api.getMedia(body.data.id)).body.data.status).toBe('AwaitingUpload');
      expect(await g.storage.list(`medias/${body.data.id}/`)).toEqual([]);
    });

    it('refuses a form with a field besides "file" (400), keeps nothing, and stays up', async () => {
      const { body } = await api.createMedia('extra field');
      // The extra field after the file: the file is already being stored when it is refused.
      for (const order of [
        ['file', 'extra'],
        ['extra', 'file'],
      ]) {
        const form = new FormData();
        for (const name of order) {
          if (name === 'file') form.append('file', new Blob(['not much']), 'a.mp4');
          else form.append('extra', '42');
        }
        const res = await fetch(`${g.url}/medias/${body.data.id}/upload/video`, { method: 'POST', body: form });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { message: string }).message).toBe(
          'unexpected form field "extra": only the field "file" is taken',
        );
      }
      expect((await api.getMedia(body.data.id)).body.data.status).toBe('AwaitingUpload');
      await waitFor(
        'nothing stored',
        async () => ((await g.storage.list(`medias/${body.data.id}/`)).length === 0 ? true : undefined),
        5000,
      );
      expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    });

    it('two uploads racing for one media: one is scheduled, the other gets 409, and only the winner is kept', async () => {
      const { body } = await api.createMedia('race');
      const id = body.data.id;
      const files = [path.join(dir, 'race-a.mp4'), path.join(dir, 'race-b.mp4')];
      await makeVideo(files[0]!, { seconds: 1, width: 320, height: 240 });
      await makeVideo(files[1]!, { seconds: 2, width: 320, height: 240 });
      // Both start while the media is AwaitingUpload; their bodies arrive interleaved.
      const boundary = 'raceBOUNDARY';
      const uploads = await Promise.all(
        files.map(async (file) => {
          const bytes = await readFile(file);
          let push: (b: Uint8Array) => void = () => undefined;
          let end: () => void = () => undefined;
          const stream = new ReadableStream<Uint8Array>({
            start: (c) => ((push = (b) => c.enqueue(b)), (end = () => c.close())),
          });
          const response = fetch(`${g.url}/medias/${id}/upload/video`, {
            method: 'POST',
            headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
            body: stream,
            duplex: 'half',
          } as RequestInit);
          push(
            Buffer.concat([
              Buffer.from(
                `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${path.basename(file)}"\r\n\r\n`,
              ),
              bytes.subarray(0, 2000),
            ]),
          );
          return { bytes, push, end, response };
        }),
      );
      await sleep(300);
      for (const u of uploads) {
        u.push(Buffer.concat([u.bytes.subarray(2000), Buffer.from(`\r\n--${boundary}--\r\n`)]));
        u.end();
      }
      const statuses = await Promise.all(uploads.map(async (u) => (await u.response).status));
      expect([...statuses].sort()).toEqual([200, 409]);
      const winner = files[statuses.indexOf(200)]!;
      const ready = await api.waitForStatus(id, ['Ready', 'Errored']);
      expect(ready.status).toBe('Ready');
      // The media is the winner's file, whole: its duration, not a mix of both.
      expect(ready.duration).toBeCloseTo(await probeDuration(winner), 1);
      const key = await storedSourceKey(g, id);
      expect(await streamToBuffer(await g.storage.get(key))).toEqual(await readFile(winner));
    });

    it('refuses a second upload while the first is being processed (409)', async () => {
      const file = path.join(dir, 'again.mp4');
      await makeVideo(file, { seconds: 1 });
      const { body } = await api.createMedia('twice');
      expect((await api.upload(body.data.id, 'video', file)).status).toBe(200);
      const again = await api.upload(body.data.id, 'video', file);
      expect(again.status).toBe(409);
      await api.waitForStatus(body.data.id, ['Ready', 'Errored']);
    });
  });

  describe('messaging', () => {
    let temporal: Client;
    let conn: amqp.ChannelModel;
    beforeAll(async () => {
      temporal = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
      conn = await amqp.connect(rabbitUrl);
    });
    afterAll(async () => {
      await conn?.close();
      await temporal?.connection.close();
    });

    it('the same upload message delivered five more times yields one workflow', async () => {
      const file = path.join(dir, 'dup.mp4');
      await makeVideo(file, { seconds: 1 });
      const { body } = await api.createMedia('duplicate');
      const id = body.data.id;
      await api.upload(id, 'video', file);
      const ch = await conn.createConfirmChannel();
      const msg = Buffer.from(JSON.stringify({ mediaId: id, sourceKey: await storedSourceKey(g, id), kind: 'video' }));
      for (let i = 0; i < 5; i++) ch.sendToQueue(g.queue, msg, { persistent: true });
      await ch.waitForConfirms();
      expect((await api.waitForStatus(id, ['Ready', 'Errored'])).status).toBe('Ready');
      // Wait until the bridge has taken every message, then count the runs of media-{id}.
      await waitFor('queue drained', async () =>
        (await ch.checkQueue(g.queue)).messageCount === 0 ? true : undefined,
      );
      await sleep(1000);
      const runs = [];
      for await (const w of temporal.workflow.list({ query: `WorkflowId = 'media-${id}'` })) runs.push(w);
      expect(runs).toHaveLength(1);
      await ch.close();
    });

    it('an unparseable message goes to the dead-letter queue, not into a loop', async () => {
      const ch = await conn.createConfirmChannel();
      const dead = `${g.queue}.dead`;
      await ch.purgeQueue(dead);
      ch.sendToQueue(g.queue, Buffer.from('{"mediaId": "nope"'), { persistent: true });
      await ch.waitForConfirms();
      const got = await waitFor('dead-lettered message', async () => {
        const m = await ch.get(dead, { noAck: true });
        return m ? m : undefined;
      });
      expect(got.content.toString()).toBe('{"mediaId": "nope"');
      expect((await ch.checkQueue(g.queue)).messageCount).toBe(0);
      await ch.close();
    });
  });
});
