/**
 * The stream routes in process, as a player embedded in another site reaches them: CORS on every
 * answer (4xx too), the preflight a ranged request needs, and a private media that says nothing
 * before its token is checked. The players themselves are in test/browser/players.test.ts.
 */
import { issuePlaybackToken } from '../../src/api/security/playback-token.ts';
import { fileEtag } from '../../src/api/routes/stream/caching.ts';
import { streamKey } from '../../src/domain/paths.ts';
import { MediaStatus } from '../../src/domain/status.ts';
import { createS3Driver } from '../../src/storage/s3-driver.ts';
import { buildApp } from './fakes.ts';

const site = 'https://customer.example';
const secret = 's'.repeat(32);
const playlist = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n360p/index.m3u8\n';

function world(config: Record<string, unknown> = {}) {
  const built = buildApp({ config: { playback: { signing_secret: secret }, ...config } });
  const ready = (partial = {}) => {
    const m = built.medias.seed({ status: MediaStatus.Ready, playable: true, ...partial });
    built.storage.objects.set(streamKey(m.id, 'master.m3u8'), { body: Buffer.from(playlist), modified: new Date() });
    built.storage.objects.set(streamKey(m.id, 'seg.m4s'), { body: Buffer.alloc(1000, 7), modified: new Date() });
    return m;
  };
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    built.app.request(path, { method, headers: { origin: site, ...headers } });
  return { ...built, ready, get };
}

describe('CORS on the streams', () => {
  it('lets a page on any site read every answer by default: 200, 206, 404, 425, 401', async () => {
    const { ready, get, medias } = world();
    const m = ready();
    const early = medias.seed({ status: MediaStatus.Processing });
    const closed = ready({ private: true });
    const answers = [
      [await get(`/medias/${m.id}/stream/master.m3u8`), 200],
      [await get(`/medias/${m.id}/stream/seg.m4s`, { range: 'bytes=10-19' }), 206],
      [await get(`/medias/${m.id}/stream/nope.m4s`), 404],
      [await get(`/medias/${early.id}/stream/master.m3u8`), 425],
      [await get(`/medias/${closed.id}/stream/master.m3u8`), 401],
      [await get(`/medias/${m.id}/stream/..%2fsource`), 404],
    ] as const;
    for (const [res, status] of answers) {
      expect(res.status).toBe(status);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')?.split(',')).toEqual(
        expect.arrayContaining(['Content-Range', 'Content-Length', 'Accept-Ranges']),
      );
    }
    const ranged = answers[1][0];
    expect(ranged.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect((await ranged.arrayBuffer()).byteLength).toBe(10);
  });

  it('answers the preflight of a ranged GET with 204, allowing GET, HEAD and Range', async () => {
    const { ready, get } = world();
    const m = ready();
    const res = await get(
      `/medias/${m.id}/stream/seg.m4s`,
      { 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
      'OPTIONS',
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toEqual(
      expect.arrayContaining(['GET', 'HEAD']),
    );
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toContain('range');
  });

  it('cors.stream_origins restricts the streams to the sites named; cors.origins stays the management API’s', async () => {
    const { ready, get } = world({
      cors: { origins: ['https://admin.example'], stream_origins: [site, 'https://other.example'] },
    });
    const m = ready();
    const mine = await get(`/medias/${m.id}/stream/master.m3u8`);
    expect(mine.headers.get('access-control-allow-origin')).toBe(site);
    const stranger = await get(`/medias/${m.id}/stream/master.m3u8`, { origin: 'https://stranger.example' });
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    // The management API answers the admin's origin only, and the site's page not at all.
    const admin = await get(`/medias/${m.id}`, { origin: 'https://admin.example' });
    expect(admin.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    expect((await get(`/medias/${m.id}`)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('gives the management API no CORS unless cors.origins allows it', async () => {
    const { ready, get } = world();
    const m = ready();
    const res = await get(`/medias/${m.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await get(`/medias/${m.id}`, { 'access-control-request-method': 'PATCH' }, 'OPTIONS');
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses an empty cors.stream_origins (no origin at all would break every embedded player)', () => {
    expect(() => world({ cors: { stream_origins: [] } })).toThrow(/stream_origins needs at least one origin/);
  });
});

describe('a private media on the streams', () => {
  it('checks the token before it tells anything: not its status, not which files it has', async () => {
    const { medias, get, ready } = world();
    const processing = medias.seed({ status: MediaStatus.Processing, private: true });
    const withoutToken = await get(`/medias/${processing.id}/stream/master.m3u8`);
    expect(withoutToken.status).toBe(401);
    const body = (await withoutToken.json()) as { message: string };
    expect(body.message).toMatch(/is private: this request needs a playback token/);
    expect(body.message).not.toMatch(/Processing|playable/);
    const ready_ = ready({ private: true });
    expect((await get(`/medias/${ready_.id}/stream/nope.m4s`)).status).toBe(401);

    // With its token, it is the status (425) or the file (200) as for any media.
    const token = (id: string) => encodeURIComponent(issuePlaybackToken(secret, id, 60).token);
    expect((await get(`/medias/${processing.id}/stream/master.m3u8?token=${token(processing.id)}`)).status).toBe(425);
    const ok = await get(`/medias/${ready_.id}/stream/master.m3u8?token=${token(ready_.id)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(await ok.text()).toContain(`360p/index.m3u8?token=`);
  });
});

describe('segments answered by a redirect to the object store (storage.delivery: redirect)', () => {
  /** The URLs as the S3 driver makes them with a CDN base (signing needs no network); the files themselves in the fake. */
  function redirecting(presignExpiry: number) {
    const built = world({ storage: { delivery: 'redirect', presign_expiry_seconds: presignExpiry } });
    const s3 = createS3Driver({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      bucket: 'media',
      accessKeyId: 'AKIATEST',
      secretAccessKey: 'secret-for-signing-only',
      forcePathStyle: true,
      publicUrl: 'https://cdn.example.com/',
    });
    Object.assign(built.storage, {
      directUrl: (key: string, seconds: number) => s3.directUrl(key, seconds),
      readUrl: (key: string, seconds: number) => s3.readUrl(key, seconds),
    });
    return built;
  }

  it("sends a public media's segment to the CDN", async () => {
    const { ready, get } = redirecting(3600);
    const m = ready();
    const res = await get(`/medias/${m.id}/stream/seg.m4s`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`https://cdn.example.com/medias/${m.id}/stream/seg.m4s`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it("never sends a private media's segment to the unsigned CDN URL; its presigned URL does not outlive the token", async () => {
    const { ready, get } = redirecting(3600);
    const m = ready({ private: true });
    const token = issuePlaybackToken(secret, m.id, 90).token;
    const res = await get(`/medias/${m.id}/stream/seg.m4s?token=${encodeURIComponent(token)}`);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).toBe('http://127.0.0.1:9');
    expect(location.pathname).toBe(`/media/medias/${m.id}/stream/seg.m4s`);
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const expires = Number(location.searchParams.get('X-Amz-Expires'));
    expect(expires).toBeGreaterThan(80);
    expect(expires).toBeLessThanOrEqual(90);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    // A token that outlives the store's presign expiry gets the store's expiry.
    const long = issuePlaybackToken(secret, m.id, 7 * 24 * 3600).token;
    const capped = await get(`/medias/${m.id}/stream/seg.m4s?token=${encodeURIComponent(long)}`);
    expect(new URL(capped.headers.get('location')!).searchParams.get('X-Amz-Expires')).toBe('3600');
    // Playlists are always served here, with the token written into them.
    const master = await get(`/medias/${m.id}/stream/master.m3u8?token=${encodeURIComponent(token)}`);
    expect(master.status).toBe(200);
  });
});

describe('headers a CDN can trust', () => {
  const rendition = (ended: boolean) =>
    `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="360p_init.mp4"\n#EXTINF:4.0,\nseg.m4s\n${ended ? '#EXT-X-ENDLIST\n' : ''}`;
  const withRun = (w: ReturnType<typeof world>, partial: Record<string, unknown> = {}) => {
    const m = w.ready({ workflow_run_id: 'run-1', ...partial });
    w.storage.objects.set(streamKey(m.id, '360p.m3u8'), {
      body: Buffer.from(rendition(m.status === MediaStatus.Ready)),
      modified: new Date(),
    });
    return m;
  };
  const versionIn = (text: string) => /\?v=([A-Za-z0-9_-]+)/.exec(text)?.[1];

  it('versions every file a playlist names by its run, and keeps what that version names a year, immutable', async () => {
    const w = world();
    const m = withRun(w);
    const master = await w.get(`/medias/${m.id}/stream/master.m3u8`);
    const text = await master.text();
    const v = versionIn(text)!;
    expect(text).toContain(`360p/index.m3u8?v=${v}`);
    expect(master.headers.get('cache-control')).toBe('public, max-age=300');
    const list = await w.get(`/medias/${m.id}/stream/360p.m3u8?v=${v}`);
    expect(await list.text()).toContain(`URI="360p_init.mp4?v=${v}"`);
    expect(list.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    const seg = await w.get(`/medias/${m.id}/stream/seg.m4s?v=${v}`);
    expect(seg.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = seg.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    // Without a version (a link from the media's JSON) an hour; with another run's, revalidated.
    expect((await w.get(`/medias/${m.id}/stream/seg.m4s`)).headers.get('cache-control')).toBe('public, max-age=3600');
    expect((await w.get(`/medias/${m.id}/stream/seg.m4s?v=older`)).headers.get('cache-control')).toBe(
      'public, no-cache',
    );
    // Revalidation: 304 without a body, for files and for playlists.
    const again = await w.get(`/medias/${m.id}/stream/seg.m4s?v=${v}`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const masterAgain = await w.get(`/medias/${m.id}/stream/master.m3u8`, {
      'if-none-match': master.headers.get('etag')!,
    });
    expect(masterAgain.status).toBe(304);
    expect((await w.get(`/medias/${m.id}/stream/seg.m4s`, { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('answers with the bytes it read when a file is replaced between its stat and its read', async () => {
    const w = world();
    const m = withRun(w);
    const key = streamKey(m.id, 'seg.m4s');
    let replaced = false;
    const modified = new Date(Date.now() + 1000);
    w.storage.beforeGet = (k) => {
      if (k !== key || replaced) return;
      replaced = true;
      w.storage.objects.set(k, { body: Buffer.alloc(1500, 9), modified });
    };
    const res = await w.get(`/medias/${m.id}/stream/seg.m4s`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1500');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(Buffer.alloc(1500, 9))).toBe(true);
    // Its validators are the new file's too.
    expect(res.headers.get('etag')).toBe(fileEtag({ size: 1500, modified }));
    expect(res.headers.get('last-modified')).toBe(modified.toUTCString());
  });

  it('gives the media’s download link its run’s version, and the download under it is kept a year', async () => {
    const w = world();
    const m = withRun(w);
    const { links } = ((await (await w.get(`/medias/${m.id}`)).json()) as { data: { links: { download: string } } })
      .data;
    const v = versionIn(await (await w.get(`/medias/${m.id}/stream/master.m3u8`)).text());
    expect(links.download).toMatch(new RegExp(`\\?v=${v}$`));
    const file = links.download.split('/stream/')[1]!.split('?')[0]!;
    w.storage.objects.set(streamKey(m.id, file), { body: Buffer.alloc(300, 1), modified: new Date() });
    const res = await w.get(links.download);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
  });

  it('a retry is a new run: the versions in the playlists change with it', async () => {
    const w = world();
    const first = withRun(w);
    const second = withRun(w, { workflow_run_id: 'run-2' });
    const v1 = versionIn(await (await w.get(`/medias/${first.id}/stream/master.m3u8`)).text());
    const v2 = versionIn(await (await w.get(`/medias/${second.id}/stream/master.m3u8`)).text());
    expect(v1).toBeDefined();
    expect(v2).toBeDefined();
    expect(v1).not.toBe(v2);
  });

  it('keeps a growing playlist half its target duration, and a private media’s answers private', async () => {
    const w = world();
    const growing = withRun(w, { status: MediaStatus.Processing });
    const list = await w.get(`/medias/${growing.id}/stream/360p.m3u8`);
    expect(list.headers.get('cache-control')).toBe('public, max-age=2');
    expect((await w.get(`/medias/${growing.id}/stream/master.m3u8`)).headers.get('cache-control')).toBe(
      'public, max-age=2',
    );

    const closed = withRun(w, { private: true });
    const token = issuePlaybackToken(secret, closed.id, 600).token;
    const master = await (await w.get(`/medias/${closed.id}/stream/master.m3u8?token=${token}`)).text();
    const v = versionIn(master)!;
    expect(master).toContain(`360p/index.m3u8?v=${v}&token=${encodeURIComponent(token)}`);
    const seg = await w.get(`/medias/${closed.id}/stream/seg.m4s?v=${v}&token=${encodeURIComponent(token)}`);
    expect(seg.status).toBe(200);
    expect(seg.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
  });
});
