import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { scratchDir } from '../helpers/scratch.ts';
import { waitFor } from '../helpers/services.ts';

/**
 * The SSRF guard of upload-from-URL, end to end, with private addresses refused (the default): a
 * "public" web server (on an internet address, inside a network namespace this test makes) answers
 * with a redirect to this machine's loopback, where something private is served. The running
 * Gilfoyle must refuse to follow it, end the media Errored saying why, and fetch nothing private.
 */
const dir = scratchDir('gilfoyle-e2e-ssrf');
const ns = 'gfy-pub';
const [hostEnd, nsEnd] = ['gfy-hpub', 'gfy-npub'];
/** An internet (unicast) address, reachable here only through the namespace's link. */
const publicAddress = '45.33.32.156';
const ip = (...args: string[]) => execa('ip', args);

let g: RunningGilfoyle;
let secret: Server;
let secretHits = 0;
let secretPort = 0;
let site: ResultPromise | null = null;

async function removeNamespace() {
  await ip('netns', 'del', ns).catch(() => undefined);
  await ip('link', 'del', hostEnd).catch(() => undefined);
}

beforeAll(async () => {
  // Something private on this machine's loopback: a video only the local network should read.
  const file = path.join(dir(), 'private.mp4');
  await makeVideo(file, { seconds: 1 });
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(file);
  secret = createServer((_req, res) => {
    secretHits++;
    res.end(bytes);
  });
  await new Promise<void>((r) => secret.listen(0, '127.0.0.1', r));
  secretPort = (secret.address() as { port: number }).port;

  await removeNamespace();
  await ip('netns', 'add', ns);
  await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd);
  await ip('link', 'set', nsEnd, 'netns', ns);
  await ip('addr', 'add', '10.231.250.1/32', 'dev', hostEnd);
  await ip('link', 'set', hostEnd, 'up');
  await ip('route', 'add', `${publicAddress}/32`, 'dev', hostEnd);
  const inside = (...args: string[]) => ip('netns', 'exec', ns, 'ip', ...args);
  await inside('addr', 'add', `${publicAddress}/32`, 'dev', nsEnd);
  await inside('link', 'set', nsEnd, 'up');
  await inside('link', 'set', 'lo', 'up');
  await inside('route', 'add', 'default', 'dev', nsEnd);
  // The public site: /ok.mp4 is a video of its own; every other path redirects to the private
  // server on the fetcher's own loopback.
  const okFile = path.join(dir(), 'public.mp4');
  await makeVideo(okFile, { seconds: 1 });
  const code = `const fs = require('node:fs'); require('node:http').createServer((q, s) => q.url === '/ok.mp4' ? s.end(fs.readFileSync(${JSON.stringify(okFile)})) : s.writeHead(302, { location: 'http://127.0.0.1:${secretPort}/private.mp4' }).end()).listen(8080, '${publicAddress}')`;
  site = execa('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { reject: false });
  await waitFor(
    'the public site to answer',
    async () => {
      const res = await fetch(`http://${publicAddress}:8080/clip.mp4`, { redirect: 'manual' }).catch(() => null);
      return res?.status === 302 ? true : undefined;
    },
    15_000,
  );
  g = await startGilfoyle({
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 250 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
  });
}, 120_000);

afterAll(async () => {
  await g?.stop();
  site?.kill();
  await removeNamespace();
  secret?.close();
});

it('refuses a public URL that redirects to the loopback, ending Errored with the reason, and reads nothing private', async () => {
  const api = apiClient(g.url);
  /** A new media, uploaded from `file` of the public site (the upload is accepted: the fetch is the pipeline's). */
  const fromSite = async (title: string, file: string) => {
    const media = (await api.createMedia(title)).body.data;
    const res = await fetch(`${g.url}/medias/${media.id}/upload/url`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://${publicAddress}:8080/${file}` }),
    });
    expect(res.status).toBe(200);
    return media;
  };
  const media = await fromSite('redirected inward', 'clip.mp4');
  const errored = await api.waitForStatus(media.id, ['Ready', 'Errored'], 60_000);
  expect(errored).toMatchObject({
    status: 'Errored',
    error: expect.stringMatching(/refused to fetch http:\/\/127\.0\.0\.1:\d+: 127\.0\.0\.1 is a loopback address/),
  });
  const events = await api.events(media.id);
  expect(events.filter((e) => e.type === 'media.errored')).toEqual([
    expect.objectContaining({ level: 'error', message: errored.error }),
  ]);
  expect(secretHits).toBe(0);
  expect(await g.storage.list(`medias/${media.id}/`)).toEqual([]);

  // The guard is no blanket refusal: the same public site's own file is fetched and processed.
  const ok = await fromSite('public file', 'ok.mp4');
  expect((await api.waitForStatus(ok.id, ['Ready', 'Errored'], 90_000)).status).toBe('Ready');
  expect(secretHits).toBe(0);
}, 120_000);
