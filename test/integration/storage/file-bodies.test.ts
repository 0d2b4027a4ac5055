import { randomBytes, createHash } from 'node:crypto';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { fileBodyHeader, withFileBodies, type FileBodies } from '../../../src/api/file-bodies.ts';
import { createFsDriver } from '../../../src/storage/fs-driver.ts';
import { scratchDir } from '../../helpers/scratch.ts';

/**
 * The fast path of stored files (src/api/file-bodies.ts) on a real Node server and real files:
 * many answers at once, whole and ranged, each exactly the file's bytes (its read buffers are
 * reused between answers), and no file left open by a viewer who hangs up mid-file.
 */
const dir = scratchDir('gilfoyle-file-bodies');
const sizes = { small: 1000, segment: 1_400_000, big: 3 * 1024 * 1024 + 12_345, empty: 0 };
const contents: Record<string, Buffer> = {};
let server: ServerType;
let base: string;

beforeAll(async () => {
  const root = dir();
  for (const [name, size] of Object.entries(sizes)) {
    contents[name] = randomBytes(size);
    await writeFile(path.join(root, name), contents[name]!);
  }
  const storage = createFsDriver(root);
  const app = new Hono<{ Bindings: FileBodies }>();
  app.get('/f/:name', async (c) => {
    const name = c.req.param('name');
    const size = sizes[name as keyof typeof sizes];
    const m = /^bytes=(\d+)-(\d+)$/.exec(c.req.header('range') ?? '');
    const range = m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
    const body = await storage.get(name, range);
    const length = range ? range.end - range.start + 1 : size;
    return c.body(null, range ? 206 : 200, {
      'Content-Length': String(length),
      [fileBodyHeader]: c.env.sendFile(body),
    });
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: withFileBodies(app.fetch), hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server?.close(resolve)));

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** This process's descriptors open on the test's files. */
async function openFiles() {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith(dir())).length;
}

it('sends 120 answers at once, whole and ranged, each exactly its bytes', async () => {
  const asks = Array.from({ length: 120 }, (_, i) => {
    const name = (['small', 'segment', 'big', 'empty'] as const)[i % 4]!;
    const size = sizes[name];
    if (i % 3 === 0 && size > 10) {
      const start = (i * 7919) % (size - 10);
      const end = Math.min(size - 1, start + ((i * 104_729) % (2 * 1024 * 1024)));
      return { name, range: { start, end } };
    }
    return { name, range: undefined };
  });
  const answers = await Promise.all(
    asks.map(async ({ name, range }) => {
      const res = await fetch(
        `${base}/f/${name}`,
        range ? { headers: { range: `bytes=${range.start}-${range.end}` } } : {},
      );
      return { name, range, status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    }),
  );
  for (const a of answers) {
    const want = a.range ? contents[a.name]!.subarray(a.range.start, a.range.end + 1) : contents[a.name]!;
    expect({
      ask: `${a.name} ${JSON.stringify(a.range)}`,
      status: a.status,
      length: a.body.length,
      sha: digest(a.body),
    }).toEqual({
      ask: `${a.name} ${JSON.stringify(a.range)}`,
      status: a.range ? 206 : 200,
      length: want.length,
      sha: digest(want),
    });
  }
  expect(await openFiles()).toBe(0);
});

it('closes the file when the viewer hangs up mid-file', async () => {
  const hangUps = Array.from(
    { length: 10 },
    () =>
      new Promise<void>((resolve, reject) => {
        const req = http.get(`${base}/f/big`, (res) => {
          res.on('error', () => undefined);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
      }),
  );
  await Promise.all(hangUps);
  for (let i = 0; i < 50 && (await openFiles()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await openFiles()).toBe(0);
  // And the server still answers whole.
  const res = await fetch(`${base}/f/big`);
  expect(digest(Buffer.from(await res.arrayBuffer()))).toBe(digest(contents['big']!));
});
