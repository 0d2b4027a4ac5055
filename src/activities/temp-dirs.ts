import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A per-attempt temp folder, removed when `use` ends, whatever happens. Its name carries the
 * worker's pid, so that a worker killed outright leaves folders the next one can recognise.
 */
export async function withTempDir<T>(
  parent: string | undefined,
  label: string,
  use: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(path.join(parent ?? os.tmpdir(), `gilfoyle-w${process.pid}-${label}-`));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the attempt folders of workers that died without cleaning up (SIGKILL, OOM, power loss). */
export async function sweepOrphanedTempDirs(parent: string | undefined): Promise<string[]> {
  const root = parent ?? os.tmpdir();
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const pid = Number(/^gilfoyle-w(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
