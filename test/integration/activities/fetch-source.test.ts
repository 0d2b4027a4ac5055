import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { fetchUrlToStorage } from '../../../src/activities/fetch-source.ts';
import { forbiddenAddress } from '../../../src/domain/addresses.ts';
import { createFsDriver } from '../../../src/storage/fs-driver.ts';

/** Upload from URL against a real local HTTP server, with the SSRF guard on and off. */
let server: Server;
let base: string;
let root: string;
const body = Buffer.alloc(200_000, 7);

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-url-'));
  server = createServer((req, res) => {
    if (req.url === '/clip.mp4') return res.end(body);
    if (req.url === '/redirect') return res.writeHead(302, { location: '/clip.mp4' }).end();
    if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (req.url === '/broken') return res.writeHead(503).end();
    if (req.url === '/chunked-big') {
      res.writeHead(200);
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(100_000));
      return res.end();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.close();
  await rm(root, { recursive: true, force: true });
});

const open = { maxBytes: 1_000_000, timeoutMs: 10_000, allowPrivateAddresses: true };
const guarded = { ...open, allowPrivateAddresses: false };

describe('forbiddenAddress', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['10.1.2.3', /private/],
    ['192.168.0.10', /private/],
    ['169.254.169.254', /linkLocal/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /loopback/],
    ['fd00::1', /uniqueLocal/],
    ['0.0.0.0', /unspecified/],
  ])('refuses %s', (ip, why) => {
    expect(forbiddenAddress(ip)).toMatch(why);
  });
  it.each(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'])('allows public %s', (ip) => {
    expect(forbiddenAddress(ip)).toBeNull();
  });
});

describe('fetchUrlToStorage', () => {
  const driver = () => createFsDriver(root);

  it('streams a file into storage, following redirects', async () => {
    expect(await fetchUrlToStorage(`${base}/redirect`, 'm/source', driver(), open)).toBe(body.length);
    expect((await driver().stat('m/source'))?.size).toBe(body.length);
  });

  it('refuses loopback addresses, by literal and by name, unless allowed', async () => {
    await expect(fetchUrlToStorage(`${base}/clip.mp4`, 'x', driver(), guarded)).rejects.toThrow(
      /127\.0\.0\.1 is a loopback address/,
    );
    const byName = base.replace('127.0.0.1', 'localhost');
    await expect(fetchUrlToStorage(`${byName}/clip.mp4`, 'x', driver(), guarded)).rejects.toThrow(
      /refused to connect to localhost: .* is a loopback address/,
    );
    expect(await driver().stat('x')).toBeNull();
  });

  it('fails for good on client errors, schemes other than http(s), and redirect loops', async () => {
    const err = await fetchUrlToStorage(`${base}/missing`, 'x', driver(), open).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/answered 404/);
    await expect(fetchUrlToStorage('ftp://example.com/x', 'x', driver(), open)).rejects.toThrow(/only http and https/);
    await expect(fetchUrlToStorage(`${base}/loop`, 'x', driver(), open)).rejects.toThrow(/more than 5 times/);
  });

  it('leaves server errors retryable', async () => {
    const err = await fetchUrlToStorage(`${base}/broken`, 'x', driver(), open).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as Error).message).toMatch(/answered 503/);
  });

  it('caps the size while streaming, and keeps nothing of a file too large', async () => {
    await expect(
      fetchUrlToStorage(`${base}/chunked-big`, 'big', driver(), { ...open, maxBytes: 500_000 }),
    ).rejects.toThrow(/larger than the maximum of 500000 bytes/);
    await expect(fetchUrlToStorage(`${base}/clip.mp4`, 'big', driver(), { ...open, maxBytes: 1000 })).rejects.toThrow(
      /200000 bytes, larger than the maximum of 1000/,
    );
    expect(await driver().list('big')).toEqual([]);
  });
});
