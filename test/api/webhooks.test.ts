/**
 * The webhook routes' refusals, in process (createApp around fakes): what is refused is refused
 * before anything is stored, with a 400 that names the problem. What is stored and delivered is
 * tested against the real services in test/e2e/webhooks.test.ts.
 */
import { buildApp } from './fakes.ts';

type App = ReturnType<typeof buildApp>['app'];

async function post(app: App, path: string, json: unknown) {
  const res = await app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return { status: res.status, body: (await res.json()) as { code: number; message: string } };
}

describe('POST /webhooks refuses', () => {
  it.each([
    ['a ftp URL', { url: 'ftp://example.com/hook' }, /^invalid json: url: url: an http or https URL/],
    ['not a URL', { url: 'hook' }, /^invalid json: url: /],
    [
      'loopback by address',
      { url: 'http://127.0.0.1:9000/hook' },
      /^url: 127\.0\.0\.1 is a loopback address; webhooks to such addresses need settings\.url_fetch\.allow_private_addresses$/,
    ],
    ['loopback v6', { url: 'http://[::1]/hook' }, /^url: ::1 is a loopback address; /],
    ['a private network', { url: 'https://10.20.30.40/hook' }, /^url: 10\.20\.30\.40 is a private address; /],
    [
      'link-local (cloud metadata)',
      { url: 'http://169.254.169.254/latest' },
      /^url: 169\.254\.169\.254 is a linkLocal address; /,
    ],
    [
      'a name that resolves to loopback',
      { url: 'http://localhost:8080/hook' },
      /^url: localhost resolves to (127\.0\.0\.1|::1) is a loopback address; /,
    ],
    [
      'an unknown event type',
      { url: 'https://example.com/h', events: ['media.exploded'] },
      /^invalid json: events\.0: an event type/,
    ],
    ['a prefix of nothing', { url: 'https://example.com/h', events: ['nope.*'] }, /^invalid json: events\.0: /],
    ['an empty event list', { url: 'https://example.com/h', events: [] }, /^invalid json: events: /],
  ])('%s', async (_what, body, message) => {
    const { app } = buildApp();
    const res = await post(app, '/webhooks', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });
});

it('a redelivery names a delivery id of the right form', async () => {
  const { app } = buildApp();
  const res = await post(app, '/webhooks/0b8f6f3e-8d7c-4a43-9a59-6f1f2c3d4e5f/deliveries/../redeliver', {});
  expect(res.status).toBe(404);
  const bad = await post(app, '/webhooks/0b8f6f3e-8d7c-4a43-9a59-6f1f2c3d4e5f/deliveries/evil%20id/redeliver', {});
  expect(bad.status).toBe(400);
  expect(bad.body.message).toMatch(/delivery_id: a delivery id/);
});

it('the event stream of an unknown media is a 404, of a malformed Last-Event-ID a 400', async () => {
  const { app, medias } = buildApp();
  const missing = await app.request('/medias/0b8f6f3e-8d7c-4a43-9a59-6f1f2c3d4e5f/events/stream');
  expect(missing.status).toBe(404);
  const m = await medias.create('0b8f6f3e-8d7c-4a43-9a59-6f1f2c3d4e50', 'x');
  const bad = await app.request(`/medias/${m.id}/events/stream`, { headers: { 'last-event-id': 'yesterday' } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toMatch(/last-event-id/);
});
