import { createReadStream, createWriteStream } from 'node:fs';
import { access, copyFile, constants, mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidKeyError, StorageNotFoundError, type ByteRange, type StorageDriver, type StoredObject } from './driver.ts';

/** Stores objects as files under one root folder. */
export function createFsDriver(rootDir: string): StorageDriver {
  const root = path.resolve(rootDir);

  /** The file of a key, refusing anything that would land outside the root. */
  const fileOf = (key: string): string => {
    if (!key || key.includes('\0') || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.')) {
      throw new InvalidKeyError(key);
    }
    const file = path.resolve(root, key);
    if (file !== root && !file.startsWith(root + path.sep)) throw new InvalidKeyError(key);
    return file;
  };

  const tempFileFor = (file: string) => `${file}.part-${randomBytes(6).toString('hex')}`;

  const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

  async function statKey(key: string): Promise<StoredObject | null> {
    try {
      const s = await stat(fileOf(key));
      return s.isFile() ? { size: s.size, modified: s.mtime } : null;
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async function walk(dir: string, rel: string, out: string[]) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), childRel, out);
      else if (e.isFile() && !e.name.includes('.part-')) out.push(childRel);
    }
  }

  return {
    name: 'fs',

    async put(key, body) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      const temp = tempFileFor(file);
      try {
        if (typeof body === 'string' || Buffer.isBuffer(body)) await writeFile(temp, body);
        else await pipeline(body, createWriteStream(temp));
        const { size } = await stat(temp);
        await rename(temp, file);
        return size;
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },

    async putFile(key, localPath) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      const temp = tempFileFor(file);
      try {
        await copyFile(localPath, temp, constants.COPYFILE_FICLONE);
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },

    async get(key, range?: ByteRange) {
      const file = fileOf(key);
      const s = await statKey(key);
      if (!s) throw new StorageNotFoundError(key);
      if (s.size === 0) return Readable.from([]);
      return createReadStream(file, range ? { start: range.start, end: range.end } : {});
    },

    async getToFile(key, localPath) {
      const s = await statKey(key);
      if (!s) throw new StorageNotFoundError(key);
      await copyFile(fileOf(key), localPath, constants.COPYFILE_FICLONE);
    },

    async localFile(key) {
      return (await statKey(key)) ? fileOf(key) : null;
    },

    stat: statKey,

    async list(prefix) {
      // Walk the deepest folder the prefix names, then filter by the full prefix.
      const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const out: string[] = [];
      await walk(dirPart ? fileOf(dirPart) : root, dirPart, out);
      return out.filter((k) => k.startsWith(prefix)).sort();
    },

    async deletePrefix(prefix) {
      const keys = await this.list(prefix);
      for (const key of keys) await unlink(fileOf(key)).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
      // Remove the folder of a whole-folder prefix ("medias/{id}/") with any leftovers (partial writes).
      if (prefix.endsWith('/')) await rm(fileOf(prefix.slice(0, -1)), { recursive: true, force: true });
      return keys.length;
    },

    async check() {
      await mkdir(root, { recursive: true });
      await access(root, constants.W_OK | constants.R_OK);
    },

    // Files are served by the API itself.
    directUrl: async () => null,
    uploadUrl: async () => null,
  };
}
