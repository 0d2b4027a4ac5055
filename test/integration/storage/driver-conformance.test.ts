import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  InvalidKeyError,
  StorageChangedError,
  StorageNotFoundError,
  type StorageDriver,
} from '../../../src/storage/driver.ts';
import { createFsDriver } from '../../../src/storage/fs-driver.ts';
import { createS3Driver } from '../../../src/storage/s3-driver.ts';
import { createTestBucket, minio, removeTestBucket } from '../../helpers/minio.ts';

/** One suite, every driver: the filesystem, and S3 on a real MinIO server. */
interface Subject {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

const subjects: [string, () => Promise<Subject>][] = [
  [
    'fs',
    async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-conformance-'));
      return { driver: createFsDriver(root), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  ],
  [
    's3 (MinIO)',
    async () => {
      const bucket = await createTestBucket();
      // A small part size, so that the multipart path is exercised with a few MiB.
      return {
        driver: createS3Driver({ ...minio, bucket, forcePathStyle: true, partSize: 5 * 1024 * 1024 }),
        cleanup: () => removeTestBucket(bucket),
      };
    },
  ],
];

const text = async (s: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(subjects)('storage driver: %s', (_name, make) => {
  let subject: Subject;
  let d: StorageDriver;
  let tmp: string;
  beforeAll(async () => {
    subject = await make();
    d = subject.driver;
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-conformance-files-'));
  });
  afterAll(async () => {
    await subject?.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  it('puts strings, buffers and streams, and reads them back whole', async () => {
    expect(await d.put('a/string.txt', 'hello')).toBe(5);
    expect(await d.put('a/buffer.bin', Buffer.from([1, 2, 3]))).toBe(3);
    expect(await d.put('a/stream.txt', Readable.from([Buffer.from('str'), Buffer.from('eam')]))).toBe(6);
    expect((await text(await d.get('a/string.txt'))).toString()).toBe('hello');
    expect([...(await text(await d.get('a/buffer.bin')))]).toEqual([1, 2, 3]);
    expect((await text(await d.get('a/stream.txt'))).toString()).toBe('stream');
  });

  it('reads byte ranges', async () => {
    await d.put('range/r.txt', '0123456789');
    expect((await text(await d.get('range/r.txt', { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await text(await d.get('range/r.txt', { start: 9, end: 9 }))).toString()).toBe('9');
  });

  it('stats objects, and says null for missing ones', async () => {
    await d.put('stat/x', 'abc');
    const s = await d.stat('stat/x');
    expect(s?.size).toBe(3);
    expect(s?.modified.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await d.stat('stat/missing')).toBeNull();
  });

  it('throws StorageNotFoundError for a missing key', async () => {
    await expect(d.get('nope/missing')).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(d.getToFile('nope/missing', path.join(tmp, 'x'))).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it('overwrites', async () => {
    await d.put('over/w', 'first version');
    await d.put('over/w', 'second');
    expect((await text(await d.get('over/w'))).toString()).toBe('second');
    expect((await d.stat('over/w'))?.size).toBe(6);
  });

  it('reads the version a stat saw, or says it changed (a playlist replaced between the two)', async () => {
    await d.put('pinned/p.m3u8', '#EXTM3U\n');
    const seen = (await d.stat('pinned/p.m3u8'))!;
    expect((await text(await d.get('pinned/p.m3u8', { start: 0, end: 3 }, seen))).toString()).toBe('#EXT');
    await d.put('pinned/p.m3u8', '#EXTM3U\n#EXTINF:4,\n0.m4s\n');
    await expect(d.get('pinned/p.m3u8', undefined, seen)).rejects.toBeInstanceOf(StorageChangedError);
    const now = (await d.stat('pinned/p.m3u8'))!;
    expect((await text(await d.get('pinned/p.m3u8', undefined, now))).length).toBe(now.size);
  });

  it('keeps keys with spaces and unicode', async () => {
    const key = 'odd keys/été ünïcødé 🎬 #1?.txt';
    await d.put(key, 'ok');
    expect((await text(await d.get(key))).toString()).toBe('ok');
    expect(await d.list('odd keys/')).toEqual([key]);
  });

  it('lists by prefix, sorted, and deletes a whole prefix', async () => {
    await d.put('medias/m1/source', 's');
    await d.put('medias/m1/stream/b.m4s', 'b');
    await d.put('medias/m1/stream/a.m3u8', 'a');
    await d.put('medias/m10/source', 'other media');
    expect(await d.list('medias/m1/')).toEqual([
      'medias/m1/source',
      'medias/m1/stream/a.m3u8',
      'medias/m1/stream/b.m4s',
    ]);
    expect(await d.deletePrefix('medias/m1/')).toBe(3);
    expect(await d.list('medias/m1/')).toEqual([]);
    expect(await d.list('medias/m10/')).toEqual(['medias/m10/source']);
    expect(await d.deletePrefix('medias/none/')).toBe(0);
  });

  it('deletes a prefix while files are still being written into it', async () => {
    // An encode still storing segments when the media is deleted: the delete must not fail.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) await d.put(`medias/busy/r${i % 3}/seg-${i}.m4s`, 'x');
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) await d.put(`medias/busy/r${i % 3}/late-${i}.m4s`, 'y');
      })();
      try {
        for (let i = 0; i < 5; i++) await d.deletePrefix('medias/busy/');
      } finally {
        writing = false;
        await writer;
      }
      await d.deletePrefix('medias/busy/');
      expect(await d.list('medias/busy/')).toEqual([]);
    }
  });

  it('copies local files in and out', async () => {
    const src = path.join(tmp, 'in.bin');
    const content = randomBytes(300_000);
    await writeFile(src, content);
    await d.putFile('files/in.bin', src);
    const out = path.join(tmp, 'out.bin');
    await d.getToFile('files/in.bin', out);
    expect(sha(await readFile(out))).toBe(sha(content));
  });

  it('gives the local file of an object only when the store is a local folder', async () => {
    await d.put('local/x.bin', 'in place');
    const file = await d.localFile('local/x.bin');
    if (d.name === 'fs') expect((await readFile(file!)).toString()).toBe('in place');
    else expect(file).toBeNull();
    expect(await d.localFile('local/missing')).toBeNull();
  });

  it('streams a large body (multipart on S3) without changing a byte', async () => {
    const chunk = randomBytes(1024 * 1024);
    const chunks = Array.from({ length: 12 }, (_, i) => Buffer.concat([chunk.subarray(i), chunk.subarray(0, i)]));
    const expected = sha(Buffer.concat(chunks));
    expect(await d.put('big/12mib.bin', Readable.from(chunks))).toBe(12 * 1024 * 1024);
    expect(sha(await text(await d.get('big/12mib.bin')))).toBe(expected);
  });

  it('takes concurrent writes: different keys all land, the same key ends whole', async () => {
    await Promise.all(Array.from({ length: 16 }, (_, i) => d.put(`conc/k${String(i).padStart(2, '0')}`, `value ${i}`)));
    expect(await d.list('conc/')).toHaveLength(16);
    const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(100_000 + i, i));
    await Promise.all(versions.map((v) => d.put('conc/same', v)));
    const got = await text(await d.get('conc/same'));
    expect(versions.some((v) => v.equals(got))).toBe(true);
  });

  it('refuses keys that climb out', async () => {
    for (const key of ['../x', 'a/../../x', '/abs', ''])
      await expect(d.put(key, 'x')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('passes its health check', async () => {
    await expect(d.check()).resolves.toBeUndefined();
  });
});

describe('s3 driver specifics', () => {
  let bucket: string;
  beforeAll(async () => {
    bucket = await createTestBucket();
  });
  afterAll(() => removeTestBucket(bucket));

  it('presigns GETs that serve the object, ranges included', async () => {
    const d = createS3Driver({ ...minio, bucket, forcePathStyle: true });
    await d.put('p/file.txt', 'presigned content');
    const url = await d.directUrl('p/file.txt', 60);
    expect(url).toMatch(/X-Amz-Signature=/);
    expect(await (await fetch(url!)).text()).toBe('presigned content');
    const part = await fetch(url!, { headers: { range: 'bytes=0-8' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('presigned');
  });

  it('points at the CDN base when one is configured', async () => {
    const d = createS3Driver({ ...minio, bucket, forcePathStyle: true, publicUrl: 'https://cdn.example.com/media/' });
    expect(await d.directUrl('medias/x/stream/a b.m4s', 60)).toBe(
      'https://cdn.example.com/media/medias/x/stream/a%20b.m4s',
    );
  });

  it('presigns PUTs for exactly the announced size', async () => {
    const d = createS3Driver({ ...minio, bucket, forcePathStyle: true });
    const url = await d.uploadUrl('up/direct.bin', 5, 60);
    const headers = { 'If-None-Match': '*' };
    // The signed headers are required: without If-None-Match the store refuses the PUT (MinIO: 400).
    expect((await fetch(url!, { method: 'PUT', body: 'hello' })).status).toBe(400);
    expect((await fetch(url!, { method: 'PUT', body: 'hello', headers })).status).toBe(200);
    expect((await d.stat('up/direct.bin'))?.size).toBe(5);
    const refused = await fetch(url!, { method: 'PUT', body: 'longer body', headers });
    expect(refused.status).toBe(403);
    // The URL creates the object and never replaces it.
    expect((await fetch(url!, { method: 'PUT', body: 'again', headers })).status).toBe(412);
    expect(String(await text(await d.get('up/direct.bin')))).toBe('hello');
  });

  it('reports a missing bucket and wrong credentials as unavailable, and only an unreachable store as an outage to wait out', async () => {
    const { StorageUnavailableError } = await import('../../../src/storage/driver.ts');
    const transient = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageUnavailableError);
      return (err as InstanceType<typeof StorageUnavailableError>).transient;
    };
    expect(
      await transient(createS3Driver({ ...minio, bucket: 'no-such-bucket-here', forcePathStyle: true }).check()),
    ).toBe(false);
    expect(
      await transient(createS3Driver({ ...minio, bucket, secretAccessKey: 'wrong', forcePathStyle: true }).check()),
    ).toBe(false);
    expect(
      await transient(
        createS3Driver({ ...minio, endpoint: 'http://127.0.0.1:9', bucket, forcePathStyle: true }).check(),
      ),
    ).toBe(true);
    // A local file missing on the way is no outage of the store either.
    expect(
      await transient(
        createS3Driver({ ...minio, bucket, forcePathStyle: true }).putFile(
          'local/missing',
          path.join(os.tmpdir(), 'no-such-file-here'),
        ),
      ),
    ).toBe(false);
  });
});
