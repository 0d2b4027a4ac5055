/**
 * One media across many machines: a 60 s 720p30 upload to Ready with K = 1, 2 and 4 workers, each
 * standing for a small machine (its own cgroup held to half a core, encoding.concurrency 1,
 * threads 1), the API and the bridge apart. Run twice in one session: encoded in chunks
 * (encoding.chunk_seconds) and, as the baseline, each rendition whole (chunk_seconds 0). Prints
 * upload→Ready for each K and the speed-ups over K = 1.
 * Targets (issue "One media across many machines"): chunked K=2 ≥ 1.7×, K=4 ≥ 3.2× K=1.
 *
 *   npm run bench:scale [-- --seconds 60 --chunk 12 --workers 1,2,4 --quota 0.5]
 *
 * Needs a writable cgroup v1 cpu controller (/sys/fs/cgroup/cpu), as root.
 */
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareTemplateDatabase } from '../test/helpers/database.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../test/helpers/gilfoyle.ts';
import { makeVideo } from '../test/helpers/media.ts';
import { fmt, timeUpload } from './common.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    chunk: { type: 'string', default: '' },
    workers: { type: 'string', default: '1,2,4' },
    quota: { type: 'string', default: '0.5' },
  },
});
const seconds = Number(values.seconds);
const ks = values.workers.split(',').map(Number);
const quota = Number(values.quota);
const cgroupRoot = '/sys/fs/cgroup/cpu';

/** A cgroup holding its processes to `cores` of CPU (cfs quota over a 100 ms period). */
async function cpuLimit(name: string, cores: number) {
  const dir = path.join(cgroupRoot, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'cpu.cfs_period_us'), '100000');
  await writeFile(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * 100_000)));
  return {
    /** Moves a process (every thread of it; its children inherit the group) into the cgroup. */
    add: (pid: number) => writeFile(path.join(dir, 'cgroup.procs'), String(pid)),
    async remove() {
      // Processes still listed (none once the workers are stopped) would keep the folder busy.
      await rmdir(dir).catch(() => undefined);
    },
  };
}

await prepareTemplateDatabase();
const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-bench-scale-'));
const source = path.join(dir, `source-720p30-${seconds}s.mp4`);
await makeVideo(source, { seconds, width: 1280, height: 720, fps: 30 });
const warmup = path.join(dir, 'warmup.mp4');
await makeVideo(warmup, { seconds: 2, width: 640, height: 360 });

/** upload→Ready for each K, with `chunkSeconds` (0: whole renditions). */
async function measure(chunkSeconds: string): Promise<Map<number, number>> {
  const env = {
    GILFOYLE_ENCODING_PRESET: 'veryfast',
    GILFOYLE_LOG_LEVEL: 'error',
    GILFOYLE_ENCODING_CHUNK_SECONDS: chunkSeconds,
  };
  const api = await startGilfoyle(env, { role: 'api' });
  const shared = joining(api, env);
  const bridge = await startGilfoyle(shared, { role: 'bridge' });
  const results = new Map<number, number>();
  try {
    for (const k of ks) {
      const workers: RunningGilfoyle[] = [];
      const groups: Awaited<ReturnType<typeof cpuLimit>>[] = [];
      try {
        for (let i = 0; i < k; i++) {
          const w = await startGilfoyle(
            { ...shared, GILFOYLE_ENCODING_CONCURRENCY: '1', GILFOYLE_ENCODING_THREADS: '1' },
            { role: 'worker' },
          );
          const group = await cpuLimit(`gilfoyle-bench-w${i}`, quota);
          await group.add(w.pid);
          workers.push(w);
          groups.push(group);
        }
        await timeUpload(api, warmup); // not counted: the workers' sandboxes and connections warm
        const { ready } = await timeUpload(api, source);
        results.set(k, ready);
        console.log(
          `  ${chunkSeconds !== '0' ? `chunks of ${chunkSeconds} s` : 'whole renditions'}, K=${k}: upload→Ready ${fmt(ready)}`,
        );
      } finally {
        for (const w of workers) await w.stop();
        for (const g of groups) await g.remove();
      }
    }
  } finally {
    await bridge.stop();
    await api.stop();
  }
  return results;
}

try {
  const config = (await import('../src/config/load.ts')).loadConfig({ env: {}, defaultFile: '/nonexistent' });
  const chunk = values.chunk || String(config.encoding.chunk_seconds);
  console.log(
    `bench:scale: ${seconds} s 720p30, default ladder, veryfast; workers each ${quota} core, concurrency 1, threads 1`,
  );
  const chunked = await measure(chunk);
  const whole = await measure('0');
  const speedup = (r: Map<number, number>, k: number) => (r.get(ks[0]!)! / r.get(k)!).toFixed(2);
  console.log(`\n  K | chunks of ${chunk} s          | whole renditions (baseline)`);
  for (const k of ks) {
    console.log(
      `  ${k} | ${fmt(chunked.get(k)!).padStart(8)}  ×${speedup(chunked, k).padEnd(5)}       | ${fmt(whole.get(k)!).padStart(8)}  ×${speedup(whole, k)}`,
    );
  }
  console.log(
    `  targets (chunked): K=2 ≥ 1.7× (${speedup(chunked, 2)}), K=4 ≥ 3.2× (${speedup(chunked, 4)}); ` +
      `chunked / whole at K=4: ${(chunked.get(4)! / whole.get(4)!).toFixed(2)}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
