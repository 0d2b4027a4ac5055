import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A temp folder for one test file, made before its tests and removed after them. */
export function scratchDir(prefix: string): () => string {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return () => dir;
}
