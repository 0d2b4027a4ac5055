import { mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidKeyError } from '../../../src/storage/driver.ts';
import { createFsDriver } from '../../../src/storage/fs-driver.ts';

describe('fs storage driver keys', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-fs-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it.each(['../outside', 'a/../../outside', '/etc/passwd', 'a/./b', ''])('refuses key %j', async (key) => {
    const driver = createFsDriver(root);
    await expect(driver.put(key, 'x')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('writes, reads a range, lists and deletes by prefix', async () => {
    const driver = createFsDriver(root);
    await driver.put('medias/m1/stream/a.txt', 'hello world');
    await driver.put('medias/m1/source', Buffer.from('src'));
    await driver.put('medias/m2/source', 'other');
    const chunks: Buffer[] = [];
    for await (const c of await driver.get('medias/m1/stream/a.txt', { start: 6, end: 10 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('world');
    expect(await driver.list('medias/m1/')).toEqual(['medias/m1/source', 'medias/m1/stream/a.txt']);
    expect(await driver.deletePrefix('medias/m1/')).toBe(2);
    expect(await driver.stat('medias/m1/source')).toBeNull();
    expect(await readFile(path.join(root, 'medias/m2/source'), 'utf8')).toBe('other');
  });

  it('finishes a folder delete that stopped half-way when it is repeated, and counts what it removed', async () => {
    const driver = createFsDriver(root);
    await driver.put('medias/m3/source', 'src');
    await driver.put('medias/m3/stream/a.m4s', 'a');
    // A delete renamed the folder out of the way, then failed (or its process died) before removing it.
    await rename(path.join(root, 'medias/m3'), path.join(root, 'medias/m3.part-deleting'));
    expect(await driver.list('medias/')).not.toContain('medias/m3/source');
    expect(await driver.deletePrefix('medias/m3/')).toBe(2);
    expect(await readdir(path.join(root, 'medias'))).not.toContain('m3.part-deleting');
    expect(await driver.deletePrefix('medias/m3/')).toBe(0);
  });
});
