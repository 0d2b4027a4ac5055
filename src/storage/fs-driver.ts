import { createWriteStream } from 'node:fs';
import {
  access,
  copyFile,
  constants,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  fileSource,
  InvalidKeyError,
  StorageChangedError,
  type FileSource,
  isRepeatableBody,
  StorageNotFoundError,
  type ByteRange,
  type StorageDriver,
  type StoredObject,
} from './driver.ts';

/** Bytes per read of a stored file that is streamed out. */
const readChunkBytes = 512 * 1024;

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

  const exists = (p: string) =>
    access(p).then(
      () => true,
      () => false,
    );

  async function statKey(key: string): Promise<StoredObject | null> {
    try {
      const s = await stat(fileOf(key));
      return s.isFile() ? { size: s.size, modified: s.mtime } : null;
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
  }

  /**
   * Writes a file through a temporary name and renames it into place, so that readers see it
   * whole or not at all. A concurrent deletePrefix may remove the folder between the mkdir and
   * the rename (ENOENT): a repeatable write then makes the folder again (a few times at most).
   */
  async function writeAtomically(
    file: string,
    write: (temp: string) => Promise<unknown>,
    repeatable: boolean,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const temp = tempFileFor(file);
      try {
        await mkdir(path.dirname(file), { recursive: true });
        await write(temp);
        const { size } = await stat(temp);
        await rename(temp, file);
        return size;
      } catch (err) {
        await rm(temp, { force: true });
        // Only when the folder is what went missing (not, say, the local file of a putFile).
        if (!(repeatable && attempt < 5 && isMissing(err) && !(await exists(path.dirname(file))))) throw err;
      }
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
      if (e.name.includes('.part-')) continue; // a file being written, or a folder being deleted
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), childRel, out);
      else if (e.isFile()) out.push(childRel);
    }
  }

  return {
    name: 'fs',

    async put(key, body) {
      const file = fileOf(key);
      // Only a buffer or text is written again if the folder vanished meanwhile.
      const repeatable = isRepeatableBody(body);
      return writeAtomically(
        file,
        (temp) => (repeatable ? writeFile(temp, body) : pipeline(body, createWriteStream(temp))),
        repeatable,
      );
    },

    async putFile(key, localPath) {
      await writeAtomically(fileOf(key), (temp) => copyFile(localPath, temp, constants.COPYFILE_FICLONE), true);
    },

    async get(key, range?: ByteRange, expected?: StoredObject) {
      // Opened here, so that a missing file is this call's error, not the stream's; read in large
      // chunks (a segment in a few reads, fewer trips through the HTTP response's stream).
      let handle;
      try {
        handle = await open(fileOf(key), 'r');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (isMissing(err) || code === 'ENOTDIR' || code === 'EISDIR') throw new StorageNotFoundError(key);
        throw err;
      }
      // The open file stays the one read, even if a write renames another into its place.
      const s = await handle.stat();
      const changed = expected && (s.size !== expected.size || s.mtime.getTime() !== expected.modified.getTime());
      if (!s.isFile() || changed) {
        await handle.close();
        throw s.isFile() ? new StorageChangedError(key) : new StorageNotFoundError(key);
      }
      const stream = handle.createReadStream({
        highWaterMark: readChunkBytes,
        ...(range ? { start: range.start, end: range.end } : {}),
      });
      const source: FileSource = { handle, start: range?.start ?? 0, end: range ? range.end : s.size - 1 };
      return Object.assign(stream, { [fileSource]: source });
    },

    async getToFile(key, localPath) {
      const s = await statKey(key);
      if (!s) throw new StorageNotFoundError(key);
      await copyFile(fileOf(key), localPath, constants.COPYFILE_FICLONE);
    },

    async readUrl() {
      return null;
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
      if (!prefix.endsWith('/')) {
        for (const key of keys)
          await unlink(fileOf(key)).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
        return keys.length;
      }
      // A whole folder ("medias/{id}/") is first renamed out of the way, then removed with any
      // leftovers (partial writes). Removing it in place could fail (ENOTEMPTY) while a writer
      // (an encode finishing) keeps storing into it; after the rename, writers make a new folder.
      // What an earlier delete renamed and could not remove (it failed, or the process died) is
      // removed first, and counted: a DELETE whose file step failed can be repeated.
      const dir = fileOf(prefix.slice(0, -1));
      const doomed = `${dir}.part-deleting`;
      const leftovers: string[] = [];
      await walk(doomed, '', leftovers);
      await rm(doomed, { recursive: true, force: true });
      for (let attempt = 1; ; attempt++) {
        try {
          await rename(dir, doomed);
          break;
        } catch (err) {
          if (isMissing(err)) break;
          // Another delete of the same folder is still removing its renamed copy.
          const code = (err as NodeJS.ErrnoException).code;
          if (attempt >= 3 || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw err;
          await rm(doomed, { recursive: true, force: true });
        }
      }
      await rm(doomed, { recursive: true, force: true });
      return keys.length + leftovers.length;
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
