/**
 * The media and upload routes in process: the real app (createApp) around fakes of the
 * repository, the storage and the workflow control (fakes.ts). What a client would notice:
 * status codes, the {code, message} envelope naming the problem, and what was changed or not.
 */
import { randomUUID } from 'node:crypto';
import type { MediaJson } from '../../src/api/routes/medias/medias.schemas.ts';
import { checkPlaybackToken, playbackCookieName } from '../../src/api/security/playback-token.ts';
import { MediaStatus, mediaStatuses } from '../../src/domain/status.ts';
import { buildApp, temporalDown } from './fakes.ts';

type App = ReturnType<typeof buildApp>['app'];

interface Answer<D> {
  status: number;
  headers: Headers;
  body: { code: number; message: string; data: D; metadata?: { total: number; limit: number; offset: number } };
}

interface SendOptions {
  json?: unknown;
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
  /** The client address the request comes from (the socket's). */
  from?: string;
}

async function send<D = MediaJson>(app: App, method: string, path: string, o: SendOptions = {}): Promise<Answer<D>> {
  const headers: Record<string, string> = {
    ...(o.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...o.headers,
  };
  const body = o.json !== undefined ? JSON.stringify(o.json) : o.body;
  // The client's address as @hono/node-server hands it over (the socket), when the test gives one.
  const env = o.from ? { incoming: { socket: { remoteAddress: o.from } } } : undefined;
  const res = await app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) }, env);
  const text = await res.text();
  let parsed: Answer<D>['body'];
  try {
    parsed = JSON.parse(text) as Answer<D>['body'];
  } catch {
    throw new Error(`${method} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The v1 error envelope, exactly: {code, message}, the code the status, the message as given. */
function expectError(res: Answer<unknown>, status: number, message: string | RegExp) {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { code: status, message: expect.any(String) },
  });
  if (typeof message === 'string') expect(res.body.message).toBe(message);
  else expect(res.body.message).toMatch(message);
}

const unknownId = '00000000-0000-4000-8000-000000000000';
const secret = 's'.repeat(32);

/** Waits until `check` holds (the handlers clean some things up after answering). */
async function eventually(check: () => boolean, what: string) {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function multipart(parts: { name: string; filename?: string; type?: string; content: string | Buffer }[]) {
  const boundary = `----gilfoyle-test-${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`,
      ),
    );
    chunks.push(Buffer.from(p.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const body = new Uint8Array(Buffer.concat(chunks));
  return {
    body,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) },
  };
}

describe('request validation', () => {
  const { app } = buildApp({ config: { playback: { signing_secret: secret } } });

  it.each([
    ['GET', '/medias/nope'],
    ['PATCH', '/medias/nope'],
    ['DELETE', '/medias/nope'],
    ['GET', '/medias/nope/events'],
    ['GET', '/medias/nope/renditions'],
    ['POST', '/medias/nope/retry'],
    ['POST', '/medias/nope/cancel'],
    ['POST', '/medias/nope/playback-token'],
    ['POST', '/medias/nope/upload-url'],
    ['POST', '/medias/nope/upload/complete?upload=00000000-0000-4000-8000-000000000000'],
    ['POST', '/medias/nope/upload/url'],
  ])('%s %s: a malformed id is a 400 naming id', async (method, path) => {
    const res = await send(app, method, path, method === 'PATCH' ? { json: { title: 'x' } } : {});
    expectError(res, 400, /^invalid param: id: /);
  });

  it.each(['/medias/nope/upload/video', '/medias/nope/upload/audio'])(
    '%s (handled without the validator): the same 400 naming id',
    async (path) => {
      const res = await send(app, 'POST', path, multipart([{ name: 'file', filename: 'a.mp4', content: 'x' }]));
      expectError(res, 400, 'invalid param: id: "nope" is not a UUID');
    },
  );

  it.each([
    ['GET', `/medias/${unknownId}`, {}],
    ['PATCH', `/medias/${unknownId}`, { json: { title: 'x' } }],
    ['GET', `/medias/${unknownId}/events`, {}],
    ['GET', `/medias/${unknownId}/renditions`, {}],
    ['POST', `/medias/${unknownId}/retry`, {}],
    ['POST', `/medias/${unknownId}/cancel`, {}],
    ['POST', `/medias/${unknownId}/playback-token`, {}],
  ] as [string, string, SendOptions][])('%s %s: an unknown id is a 404 naming the media', async (method, path, o) => {
    expectError(await send(app, method, path, o), 404, `media ${unknownId} not found`);
  });

  it.each([
    ['missing', {}, /^invalid json: title: /],
    ['empty', { title: '' }, 'invalid json: title: title must not be empty'],
    ['only spaces (trimmed to empty)', { title: '   ' }, 'invalid json: title: title must not be empty'],
    ['256 characters', { title: 'a'.repeat(256) }, /^invalid json: title: /],
    ['with a NUL', { title: 'a\u0000b' }, 'invalid json: title: must not contain control characters'],
    ['with a BEL', { title: 'bell\u0007' }, 'invalid json: title: must not contain control characters'],
    ['not a string', { title: 42 }, /^invalid json: title: /],
  ])('POST /medias with a title %s: 400 naming title', async (_what, json, message) => {
    const { app, medias } = buildApp();
    expectError(await send(app, 'POST', '/medias', { json }), 400, message);
    expect(medias.rows.size).toBe(0);
  });

  it("the document's title pattern agrees with what the server accepts (a schema-valid title is never refused)", async () => {
    const { app } = buildApp();
    const doc = (await (await app.request('/openapi.json')).json()) as {
      components: { schemas: { CreateMedia: { properties: { title: { pattern: string } } } } };
    };
    const pattern = new RegExp(doc.components.schemas.CreateMedia.properties.title.pattern, 'u');
    const titles = ['\r', '\t\n', '\uFEFF', '\u00A0x', ' \u3000 ', 'a\u0007', ' é ', 'a\u2028b', '\u180E', '\u0085'];
    for (const title of titles) {
      const res = await send(app, 'POST', '/medias', { json: { title } });
      expect({ title, accepted: res.status === 200 }).toEqual({ title, accepted: pattern.test(title) });
    }
    // maxLength counts the title as sent, before trimming.
    const padded = await send(app, 'POST', '/medias', { json: { title: ` ${'a'.repeat(255)}` } });
    expect(padded.status).toBe(400);
  });

  it('POST /medias takes 255 characters, trims the title and keeps a tab inside it', async () => {
    const { app, medias } = buildApp();
    const long = await send(app, 'POST', '/medias', { json: { title: 'a'.repeat(255) } });
    expect(long.status).toBe(200);
    expect(long.body.data.title).toHaveLength(255);
    const trimmed = await send(app, 'POST', '/medias', { json: { title: '  Launch\tkeynote  ' } });
    expect(trimmed.status).toBe(200);
    expect(trimmed.body.data.title).toBe('Launch\tkeynote');
    expect(medias.rows.get(trimmed.body.data.id)?.title).toBe('Launch\tkeynote');
  });

  it('POST /medias with private not a boolean: 400 naming private', async () => {
    expectError(
      await send(app, 'POST', '/medias', { json: { title: 'x', private: 'yes' } }),
      400,
      /^invalid json: private: /,
    );
  });

  it('POST /medias ignores fields the schema does not name (status, id): the new media is AwaitingUpload with its own id', async () => {
    const { app, medias } = buildApp();
    const res = await send(app, 'POST', '/medias', {
      json: { title: 'extra', status: 'Ready', id: unknownId, playable: true },
    });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(200);
    expect(res.body.data).toMatchObject({
      title: 'extra',
      status: 'AwaitingUpload',
      playable: false,
      private: false,
      workflow: null,
    });
    expect(res.body.data.id).not.toBe(unknownId);
    expect([...medias.rows.keys()]).toEqual([res.body.data.id]);
    expect(medias.eventsOf(res.body.data.id).map((e) => e.type)).toEqual(['media.created']);
  });

  it('invalid JSON is a 400 that says so', async () => {
    const res = await send(app, 'POST', '/medias', {
      body: '{"title": ',
      headers: { 'content-type': 'application/json' },
    });
    expectError(res, 400, 'invalid JSON body: Malformed JSON in request body');
  });

  it('a body that is not JSON is a 415', async () => {
    const res = await send(app, 'POST', '/medias', { body: 'title=x', headers: { 'content-type': 'text/plain' } });
    expectError(res, 415, 'Unsupported Media Type');
  });

  it('a JSON body over limits.json_body is a 413 naming the limit', async () => {
    const { app, medias } = buildApp({ config: { limits: { json_body: 1024 } } });
    const res = await send(app, 'POST', '/medias', { json: { title: 'x', padding: 'p'.repeat(2000) } });
    expectError(res, 413, 'the JSON body is larger than the maximum of 1024 bytes (limits.json_body)');
    expect(medias.rows.size).toBe(0);
  });

  it.each([
    ['limit=0', /^invalid query: limit: /],
    ['limit=', /^invalid query: limit: /],
    ['limit=101', /^invalid query: limit: /],
    ['limit=1.5', /^invalid query: limit: /],
    ['limit=ten', /^invalid query: limit: /],
    ['offset=-1', /^invalid query: offset: /],
    ['offset=', /^invalid query: offset: /],
    ['status=Nope', /^invalid query: status: /],
    [`q=a${encodeURIComponent('\u0000')}b`, 'invalid query: q: must not contain control characters'],
  ])('GET /medias?%s: 400 naming the parameter', async (query, message) => {
    expectError(await send(app, 'GET', `/medias?${query}`), 400, message);
  });

  it('GET /medias/{id}/events takes a limit up to 500, not more', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    expect((await send(app, 'GET', `/medias/${m.id}/events?limit=500`)).status).toBe(200);
    expectError(await send(app, 'GET', `/medias/${m.id}/events?limit=501`), 400, /^invalid query: limit: /);
    expectError(await send(app, 'GET', `/medias/${m.id}/events?offset=`), 400, /^invalid query: offset: /);
  });

  it('PATCH with nothing to change (or only fields the schema does not name) is a 400 saying what to give', async () => {
    const { app, medias, journal } = buildApp();
    const m = medias.seed();
    expectError(
      await send(app, 'PATCH', `/medias/${m.id}`, { json: {} }),
      400,
      'invalid json: give title, private, or both',
    );
    expectError(
      await send(app, 'PATCH', `/medias/${m.id}`, { json: { status: 'Ready' } }),
      400,
      'invalid json: give title, private, or both',
    );
    expectError(
      await send(app, 'PATCH', `/medias/${m.id}`, { json: { title: '' } }),
      400,
      'invalid json: title: title must not be empty',
    );
    expect(journal).toEqual([]);
  });

  it('a method a path does not take is a 405 with Allow', async () => {
    const res = await send(app, 'PUT', `/medias/${unknownId}`, { json: { title: 'x' } });
    expectError(res, 405, `PUT is not allowed on /medias/${unknownId}: GET, PATCH, DELETE, HEAD`);
    expect(res.headers.get('allow')).toBe('GET, PATCH, DELETE, HEAD');
    expectError(await send(app, 'GET', '/nowhere'), 404, 'no route for GET /nowhere');
  });
});

describe('get, list, patch', () => {
  it('GET /medias/{id} answers the media in the v1 envelope', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({
      title: 'one',
      status: MediaStatus.Processing,
      workflow_run_id: 'run-1',
      progress: 40,
      playable: true,
    });
    const res = await send(app, 'GET', `/medias/${m.id}`);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(200);
    expect(res.body.data).toMatchObject({
      id: m.id,
      title: 'one',
      status: 'Processing',
      progress: 40,
      playable: true,
      workflow: {
        id: `media-${m.id}`,
        run_id: 'run-1',
        url: `http://127.0.0.1:8233/namespaces/default/workflows/media-${m.id}/run-1/history`,
        trace_url: null,
      },
      links: {
        master: `/medias/${m.id}/stream/master.m3u8`,
        dash: null,
        events: `/medias/${m.id}/events`,
        renditions: `/medias/${m.id}/renditions`,
      },
      created_at: m.created_at.toISOString(),
    });
  });

  it('links a traced media to its trace in the tracing UI (tracing.ui_url)', async () => {
    const { app, medias } = buildApp({ config: { tracing: { ui_url: 'http://jaeger.example:16686/' } } });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const traced = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-1', trace_id: traceId });
    const untraced = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-2' });
    const res = await send(app, 'GET', `/medias/${traced.id}`);
    expect(res.body.data.workflow?.trace_url).toBe(`http://jaeger.example:16686/trace/${traceId}`);
    expect((await send(app, 'GET', `/medias/${untraced.id}`)).body.data.workflow?.trace_url).toBeNull();
  });

  it('GET /medias pages newest first, passes q and status on, and says the total', async () => {
    const { app, medias } = buildApp();
    const a = medias.seed({ title: 'Alpha launch' });
    const b = medias.seed({ title: 'beta LAUNCH', status: MediaStatus.Errored });
    const c = medias.seed({ title: 'gamma' });
    const all = await send<MediaJson[]>(app, 'GET', '/medias');
    expect(all.status).toBe(200);
    expect(all.body.data.map((m) => m.id)).toEqual([c.id, b.id, a.id]);
    expect(all.body.metadata).toEqual({ total: 3, limit: 20, offset: 0 });
    const page = await send<MediaJson[]>(app, 'GET', '/medias?limit=1&offset=1');
    expect(page.body.data.map((m) => m.id)).toEqual([b.id]);
    expect(page.body.metadata).toEqual({ total: 3, limit: 1, offset: 1 });
    const found = await send<MediaJson[]>(app, 'GET', '/medias?q=%20launch%20');
    expect(found.body.data.map((m) => m.id)).toEqual([b.id, a.id]);
    const errored = await send<MediaJson[]>(app, 'GET', '/medias?q=launch&status=Errored');
    expect(errored.body.data.map((m) => m.id)).toEqual([b.id]);
    expect(errored.body.metadata?.total).toBe(1);
  });

  it('GET events and renditions answer the rows in the envelope, without internal columns', async () => {
    const { app, medias } = buildApp();
    const m = await medias.create(randomUUID(), 'with rows');
    await medias.addEvent(m.id, { type: 'media.probed', message: 'probed', data: { duration: 3 } });
    medias.seedRendition(m.id, {
      name: '720p',
      type: 'video',
      height: 720,
      width: 1280,
      status: 'Ready',
      progress: 100,
      playlist: '720p.m3u8',
    });
    const events = await send<{ id: number; type: string; data: unknown }[]>(
      app,
      'GET',
      `/medias/${m.id}/events?limit=1&offset=1`,
    );
    expect(events.status).toBe(200);
    expect(events.body.data).toEqual([
      {
        id: 2,
        type: 'media.probed',
        level: 'info',
        message: 'probed',
        data: { duration: 3 },
        created_at: expect.any(String),
      },
    ]);
    expect(events.body.metadata).toEqual({ total: 2, limit: 1, offset: 1 });
    const renditions = await send<Record<string, unknown>[]>(app, 'GET', `/medias/${m.id}/renditions`);
    expect(renditions.status).toBe(200);
    expect(renditions.body.data).toEqual([
      {
        name: '720p',
        type: 'video',
        status: 'Ready',
        width: 1280,
        height: 720,
        frame_rate: null,
        bandwidth: null,
        codecs: null,
        progress: 100,
        attempts: 0,
        playlist: '720p.m3u8',
        chunks: null,
      },
    ]);
  });

  it('PATCH changes the title (trimmed) and leaves the rest', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({ title: 'old', status: MediaStatus.Ready });
    const res = await send(app, 'PATCH', `/medias/${m.id}`, { json: { title: '  new  ' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: m.id, title: 'new', status: 'Ready', private: false });
    expect(medias.rows.get(m.id)?.title).toBe('new');
  });

  it('making a media private without playback.signing_secret is a 409 naming the setting, and changes nothing', async () => {
    const { app, medias, journal } = buildApp();
    const m = medias.seed({ title: 'public' });
    const message =
      'private medias need playback.signing_secret in the configuration (GILFOYLE_PLAYBACK_SIGNING_SECRET)';
    expectError(
      await send(app, 'PATCH', `/medias/${m.id}`, { json: { private: true, title: 'renamed' } }),
      409,
      message,
    );
    expect(medias.rows.get(m.id)).toMatchObject({ private: false, title: 'public' });
    expectError(await send(app, 'POST', '/medias', { json: { title: 'secret', private: true } }), 409, message);
    expect(medias.rows.size).toBe(1);
    expect(journal).toEqual([]);
    // Making it public needs no secret.
    const res = await send(app, 'PATCH', `/medias/${m.id}`, { json: { private: false } });
    expect(res.status).toBe(200);
    expect(res.body.data.private).toBe(false);
  });

  it('without API keys private: true is a 400 naming auth.api_keys (anyone could mint its tokens), and changes nothing', async () => {
    const { app, medias, journal } = buildApp({ config: { playback: { signing_secret: secret } } });
    const m = medias.seed({ title: 'public' });
    const message = /^private: true needs auth\.api_keys in the configuration \(GILFOYLE_AUTH_API_KEYS\)/;
    expectError(await send(app, 'POST', '/medias', { json: { title: 'secret', private: true } }), 400, message);
    expectError(await send(app, 'PATCH', `/medias/${m.id}`, { json: { private: true } }), 400, message);
    expect([...medias.rows.values()].map((r) => r.private)).toEqual([false]);
    expect(journal).toEqual([]);
    expect((await send(app, 'POST', '/medias', { json: { title: 'open', private: false } })).status).toBe(200);
  });

  it('with a signing secret and API keys a media can be created private and made public again', async () => {
    const key = 'k'.repeat(16);
    const { app, medias } = buildApp({
      config: { playback: { signing_secret: secret }, auth: { api_keys: [{ name: 'ci', key }] } },
    });
    const headers = { authorization: `Bearer ${key}` };
    const created = await send(app, 'POST', '/medias', { json: { title: 'secret', private: true }, headers });
    expect(created.status).toBe(200);
    expect(created.body.data.private).toBe(true);
    const patched = await send(app, 'PATCH', `/medias/${created.body.data.id}`, { json: { private: false }, headers });
    expect(patched.body.data).toMatchObject({ private: false, title: 'secret' });
    expect(medias.rows.get(created.body.data.id)?.private).toBe(false);
  });

  it('a database that cannot be reached is a 503 with Retry-After, not a 500', async () => {
    const { app, medias } = buildApp();
    medias.failure = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const res = await send(app, 'GET', '/medias');
    expectError(res, 503, 'the database is unavailable: try again shortly');
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('an unexpected error is a 500 that tells nothing of it', async () => {
    const { app, medias } = buildApp();
    medias.failure = new Error('relation "medias" does not exist');
    expectError(await send(app, 'GET', `/medias/${unknownId}`), 500, 'internal error');
  });
});

describe('POST /medias/{id}/playback-token', () => {
  it('is a 409 without playback.signing_secret', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({ private: true });
    expectError(
      await send(app, 'POST', `/medias/${m.id}/playback-token`),
      409,
      'private medias need playback.signing_secret in the configuration (GILFOYLE_PLAYBACK_SIGNING_SECRET)',
    );
  });

  it('issues a token valid for the media, with the default ttl and the links that carry it', async () => {
    const { app, medias } = buildApp({ config: { playback: { signing_secret: secret } } });
    const m = medias.seed({ private: true });
    const before = Date.now();
    const res = await send<{
      token: string;
      expires_at: string;
      query: string;
      cookie: string;
      links: { master: string; dash: string };
    }>(app, 'POST', `/medias/${m.id}/playback-token`);
    const after = Date.now();
    expect(res.status).toBe(200);
    const { token, expires_at, query, cookie, links } = res.body.data;
    expect(checkPlaybackToken(secret, m.id, token)).toBe('valid');
    expect(checkPlaybackToken(secret, randomUUID(), token)).toBe('invalid');
    // An hour from the second the token was issued in (its expiry is in whole seconds).
    const second = (t: number) => Math.floor(t / 1000) * 1000;
    expect(Date.parse(expires_at)).toBeGreaterThanOrEqual(second(before) + 3600_000);
    expect(Date.parse(expires_at)).toBeLessThanOrEqual(second(after) + 3600_000);
    expect(query).toBe(`token=${encodeURIComponent(token)}`);
    expect(cookie).toBe(`${playbackCookieName(m.id)}=${token}`);
    expect(links).toEqual({
      master: `/medias/${m.id}/stream/master.m3u8?${query}`,
      dash: `/medias/${m.id}/stream/manifest.mpd?${query}`,
    });
  });

  it('takes ttl_seconds within 10 s and 7 days', async () => {
    const { app, medias } = buildApp({ config: { playback: { signing_secret: secret } } });
    const m = medias.seed();
    const short = await send<{ expires_at: string }>(app, 'POST', `/medias/${m.id}/playback-token`, {
      json: { ttl_seconds: 60 },
    });
    expect(short.status).toBe(200);
    expect(Date.parse(short.body.data.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    expectError(
      await send(app, 'POST', `/medias/${m.id}/playback-token`, { json: { ttl_seconds: 5 } }),
      400,
      /^invalid json: ttl_seconds: /,
    );
    expectError(
      await send(app, 'POST', `/medias/${m.id}/playback-token`, { json: { ttl_seconds: 8 * 24 * 3600 } }),
      400,
      /^invalid json: ttl_seconds: /,
    );
  });
});

describe('POST /medias/{id}/retry', () => {
  it.each([MediaStatus.AwaitingUpload, MediaStatus.ScheduledProcessing, MediaStatus.Processing, MediaStatus.Ready])(
    'a media %s is a 409: only an Errored media can be retried; nothing is asked of the workflow',
    async (status) => {
      const { app, medias, workflows, journal } = buildApp();
      const m = medias.seed({ status, source_key: `medias/x/source` });
      expectError(
        await send(app, 'POST', `/medias/${m.id}/retry`),
        409,
        `media ${m.id} is ${status}: only an Errored media can be retried`,
      );
      expect(workflows.calls).toEqual([]);
      expect(journal).toEqual([]);
      expect(medias.rows.get(m.id)?.status).toBe(status);
    },
  );

  it('an Errored media without a source is a 409 that says to upload one', async () => {
    const { app, medias, workflows } = buildApp();
    const m = medias.seed({ status: MediaStatus.Errored, error: 'fetch failed' });
    expectError(
      await send(app, 'POST', `/medias/${m.id}/retry`),
      409,
      `media ${m.id} has no source to process: upload one`,
    );
    expect(workflows.calls).toEqual([]);
  });

  it('is a 409 "still closing" while the failed run is still open, and the media stays Errored', async () => {
    const { app, medias, workflows, journal } = buildApp();
    const m = medias.seed({ status: MediaStatus.Errored, source_key: `medias/x/source`, error: 'boom' });
    workflows.running.add(m.id);
    expectError(
      await send(app, 'POST', `/medias/${m.id}/retry`),
      409,
      `media ${m.id}: its last run is still closing, retry in a moment`,
    );
    expect(workflows.callsOf('workflowRunning')).toEqual([{ fn: 'workflowRunning', mediaId: m.id }]);
    expect(medias.rows.get(m.id)).toMatchObject({ status: 'Errored', error: 'boom' });
    expect(journal).toEqual([]);
  });

  it('is a 503 with a message and no stack when the workflow service does not answer, and changes nothing', async () => {
    const { app, medias, workflows } = buildApp();
    const m = medias.seed({ status: MediaStatus.Errored, source_key: `medias/x/source`, error: 'boom' });
    workflows.down = temporalDown();
    const res = await send(app, 'POST', `/medias/${m.id}/retry`);
    expectError(res, 503, `could not retry now, the workflow service did not answer: ${temporalDown().message}`);
    expect(res.body.message).not.toMatch(/\n\s*at /);
    expect(medias.rows.get(m.id)).toMatchObject({ status: 'Errored', error: 'boom' });
    expect(medias.outbox).toEqual([]);
    // Once Temporal is back, the same retry goes through.
    workflows.down = null;
    expect((await send(app, 'POST', `/medias/${m.id}/retry`)).status).toBe(202);
  });

  it('schedules an Errored media again (202, ScheduledProcessing, a media.retry event, one message); a second retry is a 409', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({
      status: MediaStatus.Errored,
      source_kind: 'video',
      source_key: `medias/x/source`,
      error: 'boom',
      workflow_run_id: 'run-1',
    });
    const res = await send(app, 'POST', `/medias/${m.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body.code).toBe(202);
    expect(res.body.data).toMatchObject({
      id: m.id,
      status: 'ScheduledProcessing',
      error: null,
      progress: 0,
      playable: false,
      workflow: {
        id: `media-${m.id}`,
        run_id: null,
        url: `http://127.0.0.1:8233/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId="media-${m.id}"`)}`,
      },
    });
    expect(medias.eventsOf(m.id).map((e) => [e.type, e.message])).toEqual([
      ['media.retry', 'retry requested: requested through the API'],
    ]);
    expect(medias.outbox).toEqual([{ mediaId: m.id, sourceKey: 'medias/x/source', kind: 'video' }]);
    expectError(
      await send(app, 'POST', `/medias/${m.id}/retry`),
      409,
      `media ${m.id} is ScheduledProcessing: only an Errored media can be retried`,
    );
    expect(medias.outbox).toHaveLength(1);
  });

  it('is a 409 when the media changed between the check and the retry', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({ status: MediaStatus.Errored, source_key: `medias/x/source` });
    medias.retry = async () => null;
    expectError(
      await send(app, 'POST', `/medias/${m.id}/retry`),
      409,
      `media ${m.id} is no longer Errored: it was retried or changed meanwhile`,
    );
  });
});

describe('POST /medias/{id}/cancel', () => {
  it.each([MediaStatus.AwaitingUpload, MediaStatus.Ready, MediaStatus.Errored])(
    'a media %s is a 409: only a media being processed can be cancelled; nothing is asked of the workflow',
    async (status) => {
      const { app, medias, workflows, journal } = buildApp();
      const m = medias.seed({ status });
      expectError(
        await send(app, 'POST', `/medias/${m.id}/cancel`),
        409,
        `media ${m.id} is ${status}: only a media being processed (ScheduledProcessing or Processing) can be cancelled`,
      );
      expectError(
        await send(app, 'POST', `/medias/${m.id}/cancel?force=true`),
        409,
        new RegExp(`^media ${m.id} is ${status}: `),
      );
      expect(workflows.calls).toEqual([]);
      expect(journal).toEqual([]);
    },
  );

  it('asks an open run to cancel (202, the media as it is, a media.cancel_requested event); the media is not marked here', async () => {
    const { app, medias, workflows, journal } = buildApp();
    const m = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-1', source_key: 'medias/x/source' });
    workflows.running.add(m.id);
    const res = await send(app, 'POST', `/medias/${m.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ id: m.id, status: 'Processing', error: null });
    expect(workflows.calls).toEqual([{ fn: 'cancelWorkflow', mediaId: m.id }]);
    expect(journal).toEqual([`workflow.cancel ${m.id}`]);
    expect(medias.rows.get(m.id)?.status).toBe('Processing');
    const events = medias.eventsOf(m.id);
    expect(events.map((e) => e.type)).toEqual(['media.cancel_requested']);
    expect(events[0]!.message).toMatch(/^cancellation requested through the API/);
  });

  it.each([
    ['not taken by a run yet', MediaStatus.ScheduledProcessing, null, 'before a run took it'],
    [
      'whose run ended without finishing it',
      MediaStatus.Processing,
      'run-1',
      'after its run had ended without finishing it',
    ],
  ])(
    'marks a media %s cancelled at once when no run is open (Errored, error "cancelled")',
    async (_what, status, runId, how) => {
      const { app, medias, workflows } = buildApp();
      const m = medias.seed({ status, workflow_run_id: runId, playable: status === MediaStatus.Processing });
      const res = await send(app, 'POST', `/medias/${m.id}/cancel`);
      expect(res.status).toBe(202);
      expect(res.body.data).toMatchObject({ status: 'Errored', error: 'cancelled', playable: false });
      expect(medias.rows.get(m.id)).toMatchObject({ status: 'Errored', error: 'cancelled' });
      expect(workflows.calls.map((c) => c.fn)).toEqual(['cancelWorkflow']);
      const events = medias.eventsOf(m.id);
      expect(events.map((e) => [e.type, e.level])).toEqual([['media.cancelled', 'warn']]);
      expect(events[0]!.message).toContain(`processing cancelled through the API ${how};`);
      // Cancelled, it cannot be cancelled again, and it can be retried.
      expectError(
        await send(app, 'POST', `/medias/${m.id}/cancel`),
        409,
        new RegExp(`is Errored: only a media being processed`),
      );
    },
  );

  it('?force=true terminates the run (stopWorkflow), asks it nothing, and marks the media Errored at once', async () => {
    const { app, medias, workflows, journal } = buildApp();
    const m = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-1' });
    workflows.running.add(m.id);
    const res = await send(app, 'POST', `/medias/${m.id}/cancel?force=true`);
    expect(res.status).toBe(202);
    expect(res.body.data).toMatchObject({ status: 'Errored', error: 'cancelled' });
    expect(workflows.calls).toEqual([
      { fn: 'stopWorkflow', mediaId: m.id, reason: 'cancelled by force through the API' },
    ]);
    expect(journal).toEqual([`workflow.stop ${m.id}`, `medias.cancel ${m.id}`]);
    expect(workflows.running.has(m.id)).toBe(false);
    expect(medias.eventsOf(m.id).map((e) => e.message)).toEqual([
      'processing cancelled through the API by force (its run was terminated); POST /medias/{id}/retry processes it again',
    ]);
  });

  it('?force=false is an ordinary cancel; any other value is a 400 naming force', async () => {
    const { app, medias, workflows } = buildApp();
    const m = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-1' });
    workflows.running.add(m.id);
    expect((await send(app, 'POST', `/medias/${m.id}/cancel?force=false`)).status).toBe(202);
    expect(workflows.calls.map((c) => c.fn)).toEqual(['cancelWorkflow']);
    expectError(await send(app, 'POST', `/medias/${m.id}/cancel?force=yes`), 400, /^invalid query: force: /);
    expect(workflows.calls).toHaveLength(1);
  });

  it.each(['', '?force=true'])(
    'is a 503 when the workflow service does not answer (%s), and the media stays as it was',
    async (query) => {
      const { app, medias, workflows, journal } = buildApp();
      const m = medias.seed({ status: MediaStatus.Processing, workflow_run_id: 'run-1' });
      workflows.down = temporalDown();
      const res = await send(app, 'POST', `/medias/${m.id}/cancel${query}`);
      expectError(res, 503, `could not cancel now, the workflow service did not answer: ${temporalDown().message}`);
      expect(medias.rows.get(m.id)).toMatchObject({ status: 'Processing', error: null });
      expect(medias.eventsOf(m.id)).toEqual([]);
      expect(journal).toEqual([]);
    },
  );

  it('is a 409 when the media changed while it was being cancelled', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed({ status: MediaStatus.ScheduledProcessing });
    medias.cancel = async () => null;
    expectError(
      await send(app, 'POST', `/medias/${m.id}/cancel`),
      409,
      `media ${m.id} changed while it was being cancelled`,
    );
  });
});

describe('DELETE /medias/{id}', () => {
  function world() {
    const built = buildApp();
    const m = built.medias.seed({ status: MediaStatus.Ready, source_key: 'x' });
    const other = built.medias.seed({ status: MediaStatus.Ready });
    for (const id of [m.id, other.id]) {
      for (const file of ['source', 'stream/master.m3u8', 'stream/720p/seg-0.m4s', 'uploads/abc'])
        built.storage.seed(`medias/${id}/${file}`);
    }
    return { ...built, m, other };
  }

  it("stops the workflow, removes the rows, then every stored file of the media, and keeps the other media's", async () => {
    const { app, medias, storage, workflows, journal, m, other } = world();
    const res = await send<{ id: string }>(app, 'DELETE', `/medias/${m.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 200, data: { id: m.id } });
    expect(journal).toEqual([`workflow.stop ${m.id}`, `medias.delete ${m.id}`, `storage.deletePrefix medias/${m.id}/`]);
    expect(workflows.calls).toEqual([{ fn: 'stopWorkflow', mediaId: m.id, reason: 'media deleted through the API' }]);
    expect(storage.keys(`medias/${m.id}/`)).toEqual([]);
    expect(storage.keys(`medias/${other.id}/`)).toHaveLength(4);
    expect(medias.rows.has(m.id)).toBe(false);
    expect(medias.rows.has(other.id)).toBe(true);
    expectError(await send(app, 'GET', `/medias/${m.id}`), 404, `media ${m.id} not found`);
    expectError(await send(app, 'DELETE', `/medias/${m.id}`), 404, `media ${m.id} not found`);
  });

  it('is a 404 for an unknown id with nothing stored, and asks nothing of the workflow', async () => {
    const { app, workflows, journal } = buildApp();
    expectError(await send(app, 'DELETE', `/medias/${unknownId}`), 404, `media ${unknownId} not found`);
    expect(workflows.calls).toEqual([]);
    expect(journal).toEqual([`storage.deletePrefix medias/${unknownId}/`]);
  });

  it('deletes a media that has no files (200)', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    expect((await send(app, 'DELETE', `/medias/${m.id}`)).status).toBe(200);
    expect(medias.rows.size).toBe(0);
  });

  it('is a 503 when the workflow cannot be stopped, and keeps the rows and files for a repeated DELETE', async () => {
    const { app, medias, storage, workflows, journal, m } = world();
    workflows.down = temporalDown();
    const res = await send(app, 'DELETE', `/medias/${m.id}`);
    expectError(res, 503, `could not delete media ${m.id} now (repeat the DELETE): ${temporalDown().message}`);
    expect(journal).toEqual([]);
    expect(medias.rows.has(m.id)).toBe(true);
    expect(storage.keys(`medias/${m.id}/`)).toHaveLength(4);
    workflows.down = null;
    expect((await send(app, 'DELETE', `/medias/${m.id}`)).status).toBe(200);
    expect(storage.keys(`medias/${m.id}/`)).toEqual([]);
  });

  it('is a 503 (again and again) while the storage cannot delete; a repeated DELETE then removes the files (200), then 404', async () => {
    const { app, medias, storage, m, other } = world();
    storage.fail('deletePrefix');
    const first = await send(app, 'DELETE', `/medias/${m.id}`);
    expectError(
      first,
      503,
      `could not delete media ${m.id} now (repeat the DELETE): connect ECONNREFUSED 127.0.0.1:9000`,
    );
    expect(first.body.message).not.toMatch(/\n\s*at /);
    // The rows are gone already; the files wait for the repeat.
    expect(medias.rows.has(m.id)).toBe(false);
    expect(storage.keys(`medias/${m.id}/`)).toHaveLength(4);
    expectError(await send(app, 'DELETE', `/medias/${m.id}`), 503, /^could not delete media .* \(repeat the DELETE\)/);
    storage.heal();
    const repeated = await send<{ id: string }>(app, 'DELETE', `/medias/${m.id}`);
    expect(repeated.status).toBe(200);
    expect(repeated.body.data).toEqual({ id: m.id });
    expect(storage.keys(`medias/${m.id}/`)).toEqual([]);
    expect(storage.keys(`medias/${other.id}/`)).toHaveLength(4);
    expectError(await send(app, 'DELETE', `/medias/${m.id}`), 404, `media ${m.id} not found`);
  });
});

describe('uploads', () => {
  const upload = (
    app: App,
    id: string,
    file: string | Buffer = 'not really a video',
    kind: 'video' | 'audio' = 'video',
  ) =>
    send(
      app,
      'POST',
      `/medias/${id}/upload/${kind}`,
      multipart([{ name: 'file', filename: 'clip.mp4', type: 'video/mp4', content: file }]),
    );

  it('stores a multipart file under its own key and schedules it (200, ScheduledProcessing)', async () => {
    const { app, medias, storage } = buildApp();
    const m = medias.seed();
    const res = await upload(app, m.id, 'twelve bytes', 'audio');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: 'ScheduledProcessing',
      source: { kind: 'audio', size: 12, filename: 'clip.mp4', content_type: 'video/mp4' },
    });
    const keys = storage.keys(`medias/${m.id}/`);
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^medias/${m.id}/uploads/[0-9a-f-]{36}$`))]);
    expect(storage.objects.get(keys[0]!)?.body.toString()).toBe('twelve bytes');
    expect(medias.rows.get(m.id)?.source_key).toBe(keys[0]);
    expect(medias.outbox).toEqual([{ mediaId: m.id, sourceKey: keys[0], kind: 'audio' }]);
  });

  it('a new file for an Errored media replaces the old one', async () => {
    const { app, medias, storage } = buildApp();
    const m = medias.seed({ status: MediaStatus.Errored, source_kind: 'video', source_key: 'PLACEHOLDER' });
    const old = `medias/${m.id}/uploads/old`;
    medias.rows.get(m.id)!.source_key = old;
    storage.seed(old, 'old file');
    const res = await upload(app, m.id);
    expect(res.status).toBe(200);
    const keys = storage.keys(`medias/${m.id}/`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(old);
    expect(medias.rows.get(m.id)?.source_key).toBe(keys[0]);
  });

  it.each(mediaStatuses.filter((s) => s !== MediaStatus.AwaitingUpload && s !== MediaStatus.Errored))(
    'a media %s takes no upload (409), and nothing is stored',
    async (status) => {
      const { app, medias, storage } = buildApp();
      const m = medias.seed({ status });
      expectError(
        await upload(app, m.id),
        409,
        `media ${m.id} is ${status}: an upload is accepted only while AwaitingUpload or Errored`,
      );
      expect(storage.keys()).toEqual([]);
    },
  );

  it('an unknown media is a 404', async () => {
    const { app, storage } = buildApp();
    expectError(await upload(app, unknownId), 404, `media ${unknownId} not found`);
    expect(storage.keys()).toEqual([]);
  });

  it('a body that is not multipart is a 415', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    const res = await send(app, 'POST', `/medias/${m.id}/upload/video`, { json: { file: 'x' } });
    expectError(res, 415, 'expected multipart/form-data with the file in a field named "file"');
  });

  it('a declared length over max_file_size is a 413 before anything is read', async () => {
    const { app, medias, journal } = buildApp({ config: { settings: { max_file_size: 1000 } } });
    const m = medias.seed();
    const form = multipart([{ name: 'file', filename: 'a.mp4', content: 'x' }]);
    const res = await send(app, 'POST', `/medias/${m.id}/upload/video`, {
      ...form,
      headers: { ...form.headers, 'content-length': String(1000 + 64 * 1024 + 1) },
    });
    expectError(res, 413, 'the file is larger than the maximum of 1000 bytes (max_file_size)');
    expect(journal).toEqual([]);
  });

  it('a file that grows past max_file_size while it streams is a 413; its partial object is removed and the media stays', async () => {
    const { app, medias, storage, journal } = buildApp({ config: { settings: { max_file_size: 100 } } });
    const m = medias.seed();
    expectError(
      await upload(app, m.id, Buffer.alloc(5000, 1)),
      413,
      'the file is larger than the maximum of 100 bytes (max_file_size)',
    );
    await eventually(
      () => journal.some((l) => l.startsWith(`storage.deletePrefix medias/${m.id}/uploads/`)),
      'the partial upload to be removed',
    );
    expect(storage.keys()).toEqual([]);
    expect(medias.rows.get(m.id)?.status).toBe('AwaitingUpload');
  });

  it.each([
    [
      'a field other than file',
      [{ name: 'title', content: 'x' }],
      'unexpected form field "title": only the field "file" is taken',
    ],
    [
      'the file in another field',
      [{ name: 'upload', filename: 'a.mp4', content: 'x' }],
      'unexpected form field "upload": only the field "file" is taken',
    ],
    ['no part at all', [], 'multipart field "file" is missing'],
    [
      'two files',
      [
        { name: 'file', filename: 'a.mp4', content: 'first' },
        { name: 'file', filename: 'b.mp4', content: 'second' },
      ],
      'only one file is taken',
    ],
  ])('multipart with %s is a 400', async (_what, parts, message) => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    expectError(await send(app, 'POST', `/medias/${m.id}/upload/video`, multipart(parts)), 400, message);
    expect(medias.rows.get(m.id)?.status).toBe('AwaitingUpload');
  });

  it('an upload that loses to another one scheduled first is a 409, and its file goes', async () => {
    const { app, medias, storage } = buildApp();
    const m = medias.seed();
    const winner = `medias/${m.id}/uploads/winner`;
    storage.seed(winner, 'first');
    medias.scheduleProcessing = async () => {
      Object.assign(medias.rows.get(m.id)!, { status: MediaStatus.ScheduledProcessing, source_key: winner });
      return null;
    };
    expectError(
      await upload(app, m.id),
      409,
      `media ${m.id} became ScheduledProcessing during the upload: another upload was scheduled first`,
    );
    expect(storage.keys(`medias/${m.id}/`)).toEqual([winner]);
  });

  it('an upload to a media deleted meanwhile is a 404, and its file goes', async () => {
    const { app, medias, storage } = buildApp();
    const m = medias.seed();
    medias.scheduleProcessing = async (id) => {
      medias.rows.delete(id);
      return null;
    };
    expectError(await upload(app, m.id), 404, `media ${m.id} was deleted during the upload`);
    expect(storage.keys()).toEqual([]);
  });

  it('upload-url: a 409 when the driver takes no direct uploads, a 413 over max_file_size, else the PUT to make', async () => {
    const { app, medias, storage } = buildApp({ config: { settings: { max_file_size: 1000 } } });
    const m = medias.seed();
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload-url`, { json: { size: 10 } }),
      409,
      `the fake storage driver takes no direct uploads: use POST /medias/${m.id}/upload/video or /upload/audio`,
    );
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload-url`, { json: { size: 1001 } }),
      413,
      'the file is larger than the maximum of 1000 bytes (max_file_size)',
    );
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload-url`, { json: { size: 0 } }),
      400,
      /^invalid json: size: /,
    );
    storage.uploadUrlBase = 'https://bucket.example';
    const res = await send<{ url: string; method: string; headers: Record<string, string>; complete: string }>(
      app,
      'POST',
      `/medias/${m.id}/upload-url`,
      { json: { size: 10, content_type: 'video/mp4' } },
    );
    expect(res.status).toBe(200);
    // A key of its own per upload, which the URL may create but not replace (If-None-Match: *).
    const upload = /\/uploads\/([0-9a-f-]{36})\?/.exec(res.body.data.url)?.[1];
    expect(res.body.data).toMatchObject({
      url: `https://bucket.example/medias/${m.id}/uploads/${upload}?size=10`,
      method: 'PUT',
      headers: { 'Content-Length': '10', 'Content-Type': 'video/mp4', 'If-None-Match': '*' },
      complete: `/medias/${m.id}/upload/complete?upload=${upload}`,
    });
    const again = await send<{ url: string }>(app, 'POST', `/medias/${m.id}/upload-url`, { json: { size: 10 } });
    expect(again.body.data.url).not.toContain(upload);
    const ready = medias.seed({ status: MediaStatus.Ready });
    expectError(
      await send(app, 'POST', `/medias/${ready.id}/upload-url`, { json: { size: 10 } }),
      409,
      /is Ready: an upload is accepted only while/,
    );
  });

  it('upload/complete: a 400 without its upload id, a 409 with no stored file, a 413 (and the file removed) when it is too large, else scheduled', async () => {
    const { app, medias, storage } = buildApp({ config: { settings: { max_file_size: 10 } } });
    const m = medias.seed();
    const upload = randomUUID();
    const complete = `/medias/${m.id}/upload/complete?upload=${upload}`;
    expectError(await send(app, 'POST', `/medias/${m.id}/upload/complete`), 400, /upload: the upload id of POST/);
    expectError(
      await send(app, 'POST', complete),
      409,
      `no uploaded file found for media ${m.id}: PUT it to the URL from POST /medias/${m.id}/upload-url first`,
    );
    const key = `medias/${m.id}/uploads/${upload}`;
    storage.seed(key, 'eleven byte');
    expectError(
      await send(app, 'POST', complete),
      413,
      'the file is larger than the maximum of 10 bytes (max_file_size)',
    );
    expect(storage.keys()).toEqual([]);
    storage.seed(key, 'ten bytes!');
    const res = await send(app, 'POST', complete, { json: { kind: 'audio' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: 'ScheduledProcessing',
      source: { kind: 'audio', size: 10, filename: null },
    });
    expect(medias.outbox).toEqual([{ mediaId: m.id, sourceKey: key, kind: 'audio' }]);
  });

  it('a storage that cannot be reached is a 503 naming it', async () => {
    const { app, medias, storage } = buildApp();
    const m = medias.seed();
    storage.fail('stat');
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload/complete?upload=${randomUUID()}`),
      503,
      'storage is unavailable: connect ECONNREFUSED 127.0.0.1:9000',
    );
  });

  it('upload/url: an http(s) URL is scheduled with the name from its path; anything else is a 400 naming url', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload/url`, { json: { url: 'ftp://example.com/a.mp4' } }),
      400,
      /^invalid json: url: /,
    );
    expectError(
      await send(app, 'POST', `/medias/${m.id}/upload/url`, { json: { url: 'not a url' } }),
      400,
      /^invalid json: url: /,
    );
    expect(medias.rows.get(m.id)?.status).toBe('AwaitingUpload');
    const res = await send(app, 'POST', `/medias/${m.id}/upload/url`, {
      json: { url: 'https://example.com/media/My%20clip.mp4?x=1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: 'ScheduledProcessing',
      source: { kind: 'video', size: 0, filename: 'My clip.mp4' },
    });
    expect(medias.outbox).toEqual([
      {
        mediaId: m.id,
        sourceKey: `medias/${m.id}/source`,
        kind: 'video',
        url: 'https://example.com/media/My%20clip.mp4?x=1',
      },
    ]);
  });

  it('tus: a missing Tus-Resumable or malformed metadata is a 400, an unknown media a 404, in the JSON envelope', async () => {
    const { app, medias } = buildApp();
    const m = medias.seed();
    expectError(
      await send(app, 'POST', `/medias/${m.id}/tus`, { headers: { 'upload-length': '10' } }),
      400,
      'missing header Tus-Resumable: 1.0.0 (a tus client sends it)',
    );
    expectError(
      await send(app, 'POST', `/medias/${m.id}/tus`, {
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'kind not*base64' },
      }),
      400,
      'invalid Upload-Metadata: comma-separated "key base64-value" pairs (kind, filename)',
    );
    expectError(
      await send(app, 'POST', `/medias/${unknownId}/tus`, {
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' },
      }),
      404,
      `media ${unknownId} not found`,
    );
  });

  const fromUrl = { url: 'https://example.com/a.mp4' };

  it('uploads a key starts beyond auth.uploads_per_minute are a 429 with Retry-After; other keys are not held back', async () => {
    const keys = [
      { name: 'backend', key: 'b'.repeat(16) },
      { name: 'other', key: 'o'.repeat(16) },
    ];
    const { app, medias } = buildApp({ config: { auth: { api_keys: keys, uploads_per_minute: 1 } } });
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const m = medias.seed();
    expect(
      (await send(app, 'POST', `/medias/${m.id}/upload/url`, { json: fromUrl, headers: as(keys[0]!.key) })).status,
    ).toBe(200);
    const res = await send(app, 'POST', `/medias/${medias.seed().id}/upload/url`, {
      json: fromUrl,
      headers: as(keys[0]!.key),
    });
    expectError(res, 429, /^too many uploads: at most 1 a minute \(auth.uploads_per_minute\); retry in \d+ s$/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (await send(app, 'POST', `/medias/${medias.seed().id}/upload/url`, { json: fromUrl, headers: as(keys[1]!.key) }))
        .status,
    ).toBe(200);
  });

  it('without keys, a client on the internet is held to auth.anonymous_uploads_per_minute, one on a private network is not', async () => {
    const { app, medias } = buildApp({ config: { auth: { anonymous_uploads_per_minute: 2 } } });
    const upload = (from: string) =>
      send(app, 'POST', `/medias/${medias.seed().id}/upload/url`, { json: fromUrl, from });
    const publicClient = [await upload('8.8.4.4'), await upload('8.8.4.4'), await upload('8.8.4.4')];
    expect(publicClient.map((r) => r.status)).toEqual([200, 200, 429]);
    expectError(
      publicClient[2]!,
      429,
      /^too many uploads: at most 2 a minute \(auth.anonymous_uploads_per_minute\); retry in \d+ s$/,
    );
    // The user's own backend, beside Gilfoyle: an import of a whole library is not refused.
    for (const from of ['10.1.2.3', '192.168.0.9', '127.0.0.1', '::1', 'fd00::5']) {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await upload(from)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
    }
  });

  it('believes X-Forwarded-For only from a trusted proxy (server.trusted_proxies), reading it from the nearest hop', async () => {
    const { app, medias } = buildApp({
      config: { auth: { anonymous_uploads_per_minute: 1 }, server: { trusted_proxies: ['10.0.0.0/8'] } },
    });
    const upload = (from: string, forwardedFor?: string) =>
      send(app, 'POST', `/medias/${medias.seed().id}/upload/url`, {
        json: fromUrl,
        from,
        ...(forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {}),
      });
    // Behind the proxy: each internet client is held to its own limit, not the proxy's private address.
    expect((await upload('10.0.0.2', '8.8.8.8')).status).toBe(200);
    expect((await upload('10.0.0.2', '8.8.8.8')).status).toBe(429);
    expect((await upload('10.0.0.3', '1.1.1.1')).status).toBe(200);
    // A client cannot pass itself off as another, or as the private network, by sending the header:
    // the hops the trusted proxies added are read from the right, and the first untrusted one counts.
    expect((await upload('10.0.0.2', '10.9.9.9, 8.8.8.8')).status).toBe(429);
    expect((await upload('10.0.0.2', '127.0.0.1, 9.9.9.9')).status).toBe(200);
    expect((await upload('10.0.0.2', '127.0.0.1, 9.9.9.9')).status).toBe(429);
    // From anyone else the header is not believed: the socket's address counts.
    expect((await upload('4.4.4.4', '10.1.1.1')).status).toBe(200);
    expect((await upload('4.4.4.4', '10.1.1.1')).status).toBe(429);
  });

  it('without trusted proxies X-Forwarded-For is ignored, and a trusted proxy must be an address or a CIDR range', async () => {
    const { app, medias } = buildApp({ config: { auth: { anonymous_uploads_per_minute: 1 } } });
    const upload = (forwardedFor: string) =>
      send(app, 'POST', `/medias/${medias.seed().id}/upload/url`, {
        json: fromUrl,
        from: '8.8.4.4',
        headers: { 'x-forwarded-for': forwardedFor },
      });
    expect((await upload('127.0.0.1')).status).toBe(200);
    expect((await upload('10.0.0.1')).status).toBe(429);
    expect(() => buildApp({ config: { server: { trusted_proxies: ['not-an-address'] } } })).toThrow(
      /a trusted proxy is an IP address or a CIDR range/,
    );
  });

  it('the defaults leave a backend room: 600 a minute per key, 60 per internet address without keys', () => {
    const { config } = buildApp();
    expect([config.auth.uploads_per_minute, config.auth.anonymous_uploads_per_minute]).toEqual([600, 60]);
  });
});

describe('API keys', () => {
  const { app, medias } = buildApp({ config: { auth: { api_keys: [{ name: 'ci', key: 'k'.repeat(16) }] } } });

  it('every media route needs the key; a wrong key is refused; the right one passes', async () => {
    const m = medias.seed();
    const none = await send(app, 'GET', `/medias/${m.id}`);
    expectError(none, 401, 'an API key is required: send Authorization: Bearer <key>');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="gilfoyle"');
    expectError(
      await send(app, 'DELETE', `/medias/${m.id}`, { headers: { authorization: `Bearer ${'x'.repeat(16)}` } }),
      401,
      'invalid API key',
    );
    expect(medias.rows.has(m.id)).toBe(true);
    expect(
      (await send(app, 'GET', `/medias/${m.id}`, { headers: { authorization: `Bearer ${'k'.repeat(16)}` } })).status,
    ).toBe(200);
  });
});
