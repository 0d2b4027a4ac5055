/**
 * The v1 contract: a client written against the original Gilfoyle's swagger (api/docs/swagger.json
 * of dreamvo/gilfoyle, version v1) keeps working. Its routes and field names are copied below, as
 * that document has them; each is checked against this server's OpenAPI document and against what
 * its routes really answer (the app in process, around fakes). Additive only: today's fields stay.
 */
import { MediaStatus } from '../../src/domain/status.ts';
import { streamKey } from '../../src/domain/paths.ts';
import { buildApp } from './fakes.ts';

type V1Type = 'string' | 'boolean' | 'integer' | 'number' | 'object' | 'array';
/** v1's `data` is any JSON: an object, or the list's array. */
type V1Field = V1Type | 'any';

/** v1's definitions, field by field (ent.Media's `edges` is left out: ent's eager-loading, never filled by v1's API). */
const v1 = {
  'util.DataResponse': { code: 'integer', data: 'any' },
  'util.ErrorResponse': { code: 'integer', message: 'string' },
  'api.HealthCheckResponse': {
    commit: 'string',
    database_dialect: 'string',
    debug: 'boolean',
    max_file_size: 'integer',
    storage_driver: 'string',
    tag: 'string',
  },
  'api.MediasMetadata': { limit: 'integer', offset: 'integer', total: 'integer' },
  'api.UploadMediaFileResponse': { success: 'boolean' },
  'ent.Media': {
    created_at: 'string',
    id: 'string',
    message: 'string',
    original_filename: 'string',
    playable: 'boolean',
    status: 'string',
    title: 'string',
    updated_at: 'string',
  },
  'api.CreateMedia': { title: 'string' },
  'api.UpdateMedia': { title: 'string' },
} satisfies Record<string, Record<string, V1Field>>;

/** v1's routes, with its path parameters renamed as this server names them ({media_id} is {id}). */
const v1Routes = [
  ['get', '/healthz'],
  ['get', '/medias'],
  ['post', '/medias'],
  ['get', '/medias/{id}'],
  ['patch', '/medias/{id}'],
  ['delete', '/medias/{id}'],
  ['post', '/medias/{id}/upload/video'],
  ['post', '/medias/{id}/upload/audio'],
  ['get', '/medias/{id}/stream/{path}'],
] as const;
/** v1's attachment routes (deprecated in v1 itself, never implemented there): served now. */
const v1DeprecatedAttachments = [
  ['get', '/medias/{media_id}/attachments'],
  ['post', '/medias/{media_id}/attachments/{key}'],
  ['delete', '/medias/{media_id}/attachments/{key}'],
];

const typeOf = (v: unknown): V1Type =>
  Array.isArray(v)
    ? 'array'
    : typeof v === 'number'
      ? Number.isInteger(v)
        ? 'integer'
        : 'number'
      : (typeof v as V1Type);

/** `value` has every field of the v1 definition, each of its v1 type. */
function expectV1(value: unknown, definition: keyof typeof v1) {
  const fields = v1[definition] as Record<string, V1Field>;
  const record = value as Record<string, unknown>;
  const found = Object.fromEntries(
    Object.entries(fields).map(([f, t]) => [f, !(f in record) ? 'missing' : t === 'any' ? 'any' : typeOf(record[f])]),
  );
  expect({ definition, found }).toEqual({ definition, found: fields });
}

const multipart = (content: string) => {
  const boundary = 'v1-contract';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n${content}\r\n--${boundary}--\r\n`;
  return {
    body,
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(Buffer.byteLength(body)),
    },
  };
};

describe('the v1 contract', () => {
  const { app, medias, storage } = buildApp();
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as { code: number; data: unknown; metadata?: unknown } };
  };

  it('every v1 route is in the OpenAPI document, with the v1 request fields', async () => {
    const doc = (await json('GET', '/openapi.json')).body as unknown as {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> } }>
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    for (const [method, path] of v1Routes) expect({ route: `${method} ${path}`, there: !!doc.paths[path]?.[method] }).toEqual({ route: `${method} ${path}`, there: true }); // prettier-ignore
    for (const [method, path, definition] of [
      ['post', '/medias', 'api.CreateMedia'],
      ['patch', '/medias/{id}', 'api.UpdateMedia'],
    ] as const) {
      const ref = doc.paths[path]![method]!.requestBody!.content['application/json']!.schema.$ref!;
      const properties = doc.components.schemas[ref.split('/').at(-1)!]!.properties!;
      for (const field of Object.keys(v1[definition])) expect(Object.keys(properties)).toContain(field);
    }
    expect(v1DeprecatedAttachments.every(([m, p]) => !!doc.paths[p!.replace('{media_id}', '{id}')]?.[m!])).toBe(true);
  });

  it('answers every v1 route with the v1 fields, alongside its own', async () => {
    const health = await json('GET', '/healthz');
    expectV1(health.body, 'util.DataResponse');
    expectV1(health.body.data, 'api.HealthCheckResponse');
    expect(health.body.data).toMatchObject({ database_dialect: 'postgres', debug: false, tag: 'v0.0.0-test' });

    const created = await json('POST', '/medias', { title: 'v1 client' });
    expectV1(created.body.data, 'ent.Media');
    expect(created.body.data).toMatchObject({ original_filename: '', message: 'waiting for an upload' });
    const id = (created.body.data as { id: string }).id;

    const list = await json('GET', '/medias?limit=10&offset=0');
    expectV1(list.body, 'util.DataResponse');
    expectV1(list.body.metadata, 'api.MediasMetadata');
    for (const m of list.body.data as unknown[]) expectV1(m, 'ent.Media');

    expectV1((await json('GET', `/medias/${id}`)).body.data, 'ent.Media');
    expectV1((await json('PATCH', `/medias/${id}`, { title: 'renamed' })).body.data, 'ent.Media');

    for (const kind of ['video', 'audio'] as const) {
      const target = kind === 'video' ? id : (await json('POST', '/medias', { title: 'audio' })).body.data;
      const targetId = typeof target === 'string' ? target : (target as { id: string }).id;
      const res = await app.request(`/medias/${targetId}/upload/${kind}`, { method: 'POST', ...multipart('bytes') });
      const uploaded = (await res.json()) as { data: unknown; message?: string };
      expect({ status: res.status, message: uploaded.message }).toEqual({ status: 200, message: undefined });
      expectV1(uploaded.data, 'api.UploadMediaFileResponse');
      expectV1(uploaded.data, 'ent.Media');
      expect(uploaded.data).toMatchObject({ success: true, original_filename: 'clip.mp4' });
    }

    const failed = medias.seed({ status: MediaStatus.Errored, error: 'cannot process this file: it is empty' });
    expect((await json('GET', `/medias/${failed.id}`)).body.data).toMatchObject({
      message: 'cannot process this file: it is empty',
    });
    const ready = medias.seed({ status: MediaStatus.Ready, playable: true });
    storage.objects.set(streamKey(ready.id, 'master.m3u8'), { body: Buffer.from('#EXTM3U\n'), modified: new Date() });
    const master = await app.request(`/medias/${ready.id}/stream/master.m3u8`);
    expect(master.status).toBe(200);
    expect(await master.text()).toBe('#EXTM3U\n');

    const missing = await json('GET', '/medias/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expectV1(missing.body, 'util.ErrorResponse');
    const removed = await json('DELETE', `/medias/${id}`);
    expect(removed.status).toBe(200);
    expectV1(removed.body, 'util.DataResponse');
  });
});
