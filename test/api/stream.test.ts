/**
 * The stream routes in process, as a player embedded in another site reaches them: CORS on every
 * answer (4xx too), the preflight a ranged request needs, and a private media that says nothing
 * before its token is checked. The players themselves are in test/browser/players.test.ts.
 */
import { issuePlaybackToken } from '../../src/api/security/playback-token.ts';
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
