import path from 'node:path';
import { createGilfoyleClient } from '../../src/client/index.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { waitFor } from '../helpers/services.ts';

/** API keys, private medias with signed playback, CORS and request limits, on a running `gilfoyle all`. */
const dir = scratchDir('gilfoyle-e2e-access');
const key = 'k-test-0123456789abcdef';
let g: RunningGilfoyle;
const auth = { authorization: `Bearer ${key}` };

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_AUTH_API_KEYS: JSON.stringify([
      { name: 'backend', key },
      { name: 'other', key: 'k-other-0123456789abcdef' },
    ]),
    GILFOYLE_AUTH_PUBLIC_METRICS: 'false',
    GILFOYLE_AUTH_UPLOADS_PER_MINUTE: '3',
    GILFOYLE_PLAYBACK_SIGNING_SECRET: 's'.repeat(48),
    GILFOYLE_CORS_ORIGINS: JSON.stringify(['https://app.example.com']),
    GILFOYLE_LIMITS_JSON_BODY: '1KiB',
    GILFOYLE_LIMITS_CONCURRENT_UPLOADS: '1',
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    GILFOYLE_LOG_LEVEL: 'debug',
  });
}, 120_000);
afterAll(() => g?.stop());

const post = (p: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${g.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('API keys', () => {
  it('are required on management routes, and only there', async () => {
    const none = await fetch(`${g.url}/medias`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.json()).toEqual({
      code: 401,
      message: 'an API key is required: send Authorization: Bearer <key>',
    });
    const wrong = await fetch(`${g.url}/medias`, { headers: { authorization: 'Bearer k-wrong-0123456789abcdef' } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).message).toBe('invalid API key');
    expect((await fetch(`${g.url}/medias`, { headers: auth })).status).toBe(200);
    expect(
      (await fetch(`${g.url}/medias`, { headers: { authorization: 'Bearer k-other-0123456789abcdef' } })).status,
    ).toBe(200);
    expect((await post('/medias', { title: 'x' }, {})).status).toBe(401);
    // Public: health, docs, the admin page's files; /metrics was configured private.
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${g.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${g.url}/admin/`)).status).toBe(200);
    expect((await fetch(`${g.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${g.url}/metrics`, { headers: auth })).status).toBe(200);
    // The typed client takes the key like any header.
    const client = createGilfoyleClient(g.url, { headers: auth });
    const { data, response } = await client.POST('/medias', { body: { title: 'typed' } });
    expect(response.status).toBe(200);
    expect(data?.data.private).toBe(false);
  });

  it('never appear in the logs; the key name does', async () => {
    await fetch(`${g.url}/medias`, { headers: auth });
    await waitFor('the request logged', async () => (g.logs().includes('"apiKey":"backend"') ? true : undefined), 5000);
    expect(g.logs()).not.toContain(key);
  });
});

describe('private medias', () => {
  it('stream only with a valid playback token, and their playlists carry it to every file', async () => {
    const created = await post('/medias', { title: 'secret', private: true });
    const media = (await created.json()).data;
    expect(media.private).toBe(true);
    const file = path.join(dir(), 'clip.mp4');
    await makeVideo(file, { seconds: 2 });
    const form = new FormData();
    form.append('file', new Blob([await (await import('node:fs/promises')).readFile(file)]), 'clip.mp4');
    expect(
      (await fetch(`${g.url}/medias/${media.id}/upload/video`, { method: 'POST', headers: auth, body: form })).status,
    ).toBe(200);
    await waitFor(
      'Ready',
      async () => {
        const m = await (await fetch(`${g.url}/medias/${media.id}`, { headers: auth })).json();
        return m.data.status === 'Ready' ? true : undefined;
      },
      60_000,
      300,
    );

    const stream = (name: string, init?: RequestInit) => fetch(`${g.url}/medias/${media.id}/stream/${name}`, init);
    const without = await stream('master.m3u8');
    expect(without.status).toBe(401);
    expect((await without.json()).message).toMatch(/is private: this request needs a playback token/);
    expect((await stream('master.m3u8?token=123.abc')).status).toBe(401);

    const issued = await post(`/medias/${media.id}/playback-token`, { ttl_seconds: 60 });
    expect(issued.status).toBe(200);
    const t = (await issued.json()).data;
    expect(t.links.master).toBe(`/medias/${media.id}/stream/master.m3u8?${t.query}`);
    // Follow the master playlist like a player: every URI it leads to works with the token it carries.
    const master = await (await fetch(`${g.url}${t.links.master}`)).text();
    const uris = [...master.matchAll(/URI="([^"]+)"/g)]
      .map((m) => m[1]!)
      .concat(master.split('\n').filter((l) => l && !l.startsWith('#')));
    expect(uris.length).toBeGreaterThanOrEqual(2);
    for (const uri of uris) {
      expect(uri).toContain(`token=${encodeURIComponent(t.token)}`);
      const playlist = await stream(uri);
      expect(playlist.status).toBe(200);
      const text = await playlist.text();
      const segment = text.split('\n').find((l) => l && !l.startsWith('#'))!;
      expect((await stream(segment)).status).toBe(200);
      expect((await stream(segment.split('?')[0]!)).status).toBe(401);
    }
    // Or as a cookie.
    expect((await stream('master.m3u8', { headers: { cookie: t.cookie } })).status).toBe(200);
    expect((await stream('poster.jpg', { headers: { cookie: t.cookie } })).headers.get('cache-control')).toMatch(
      /^private/,
    );
    // A public media's streams need nothing.
    const open = (await (await post('/medias', { title: 'open' })).json()).data;
    expect((await fetch(`${g.url}/medias/${open.id}/stream/master.m3u8`)).status).toBe(425);
  });
});

describe('CORS and limits', () => {
  it('answers preflights for the configured origin only', async () => {
    const pre = (origin: string) =>
      fetch(`${g.url}/medias`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const ok = await pre('https://app.example.com');
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect((await pre('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses JSON bodies over limits.json_body with 413', async () => {
    const res = await post('/medias', { title: 'x'.repeat(2000) });
    expect(res.status).toBe(413);
    expect((await res.json()).message).toMatch(/larger than the maximum of 1024 bytes \(limits\.json_body\)/);
  });

  it('rate-limits upload starts per key with 429 and Retry-After', async () => {
    // Three a minute; the private-media upload above used one of "backend"'s.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = (await (await post('/medias', { title: `rl${i}` })).json()).data;
      statuses.push((await post(`/medias/${m.id}/upload/url`, { url: 'https://example.com/a.mp4' })).status);
    }
    expect(statuses.slice(0, 2).every((s) => s !== 429)).toBe(true);
    expect(statuses[2]).toBe(429);
    const m = (
      await (await post('/medias', { title: 'other key' }, { authorization: 'Bearer k-other-0123456789abcdef' })).json()
    ).data;
    const other = await post(
      `/medias/${m.id}/upload/url`,
      { url: 'https://example.com/a.mp4' },
      { authorization: 'Bearer k-other-0123456789abcdef' },
    );
    expect(other.status).not.toBe(429);
  });

  it('holds concurrent uploads to limits.concurrent_uploads', async () => {
    const other = { authorization: 'Bearer k-other-0123456789abcdef' };
    const a = (await (await post('/medias', { title: 'slow' }, other)).json()).data;
    const b = (await (await post('/medias', { title: 'second' }, other)).json()).data;
    // A multipart upload whose body trickles in holds the one slot.
    let push: (chunk: Uint8Array) => void = () => undefined;
    let end: () => void = () => undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (c) => controller.enqueue(c);
        end = () => controller.close();
      },
    });
    const boundary = 'xxBOUNDARYxx';
    const slow = fetch(`${g.url}/medias/${a.id}/upload/video`, {
      method: 'POST',
      headers: { ...other, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
    } as RequestInit);
    push(
      new TextEncoder().encode(
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.mp4"\r\n\r\nabc`,
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    const form = new FormData();
    form.append('file', new Blob(['abc']), 'b.mp4');
    const second = await fetch(`${g.url}/medias/${b.id}/upload/video`, { method: 'POST', headers: other, body: form });
    expect(second.status).toBe(429);
    expect((await second.json()).message).toMatch(/too many uploads in progress \(limits\.concurrent_uploads = 1\)/);
    push(new TextEncoder().encode(`\r\n--${boundary}--\r\n`));
    end();
    expect((await slow).status).toBe(200);
  });
});
