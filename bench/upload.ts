/**
 * Upload throughput of a 1 GiB file through Gilfoyle's API (multipart POST, streamed) to each
 * storage driver, as a ratio to writing the same bytes straight to disk and straight to MinIO
 * in the same session, and the peak RSS of the API process. Targets: ratio ≥ 0.8, RSS < 200 MB.
 * Each run writes straight (twice, keeping the faster), then uploads through the API, and takes
 * its own ratio (the disk's speed drifts over a session); the median of the runs' ratios is printed.
 *
 *   npm run bench:upload [-- --mib 1024 --runs 3]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createS3Driver } from '../src/storage/s3-driver.ts';
import { apiClient } from '../test/helpers/api.ts';
import { startGilfoyle } from '../test/helpers/gilfoyle.ts';
import { createTestBucket, minio, minioEnv, removeTestBucket } from '../test/helpers/minio.ts';
import { median, timed } from './common.ts';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } },
});
const mib = Number(values.mib);
const runs = Number(values.runs);
const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-bench-upload-'));
const file = path.join(dir, 'upload.bin');
await execa('sh', ['-c', 'head -c "$1" /dev/urandom > "$2"', 'sh', `${mib}M`, file]);
const bytes = (await stat(file)).size;
const rate = (seconds: number) => `${(bytes / 1024 ** 2 / seconds).toFixed(0)} MiB/s`;

/** Peak resident memory of a process, from /proc (VmHWM), in MB. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * curl streams the file from disk in a multipart POST, as a real client would. The media is
 * deleted afterwards, so that runs do not fill the store.
 */
async function uploadThroughApi(url: string): Promise<number> {
  const api = apiClient(url);
  const { body } = await api.createMedia('bench upload');
  await settle();
  const seconds = await timed(async () => {
    const { stdout } = await execa('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-F',
      `file=@${file};type=application/octet-stream`,
      `${url}/medias/${body.data.id}/upload/video`,
    ]);
    if (stdout !== '200') throw new Error(`upload answered ${stdout}`);
  });
  const deleted = await fetch(`${url}/medias/${body.data.id}`, { method: 'DELETE' });
  if (deleted.status !== 200) throw new Error(`DELETE answered ${deleted.status}`);
  return seconds;
}

/** Writes back what earlier writes left in the page cache, so that no timed write pays for them. */
const settle = () => execa('sync');

const bucket = await createTestBucket('gilfoyle-bench');
try {
  const direct = createS3Driver({ ...minio, bucket, forcePathStyle: true });
  const straight = {
    disk: async () => {
      await settle();
      const seconds = await timed(() =>
        pipeline(createReadStream(file), createWriteStream(path.join(dir, 'straight.bin'))),
      );
      await rm(path.join(dir, 'straight.bin'));
      return seconds;
    },
    MinIO: async () => {
      await settle();
      const seconds = await timed(() => direct.putFile('straight/upload.bin', file));
      await direct.deletePrefix('straight/');
      return seconds;
    },
  };

  const results: string[] = [];
  for (const [driver, env, baselineName] of [
    ['fs', {}, 'disk'],
    ['s3', minioEnv(bucket), 'MinIO'],
  ] as const) {
    // The API role alone, from the build (npm run build), as `npm start` runs it: what is measured
    // is the upload path, not an encode beside it nor the TypeScript loader.
    const g = await startGilfoyle(
      { ...env, GILFOYLE_LOG_LEVEL: 'warn', GILFOYLE_SETTINGS_MAX_FILE_SIZE: String(bytes + 1024 ** 2) },
      { role: 'api', entry: 'dist/cli/main.js' },
    );
    try {
      const before = await peakRssMb(g.pid);
      const ratios: number[] = [];
      for (let run = 1; run <= runs; run++) {
        // The faster of two straight writes: a conservative baseline on a disk whose speed varies.
        const baseline = Math.min(await straight[baselineName](), await straight[baselineName]());
        const seconds = await uploadThroughApi(g.url);
        ratios.push(baseline / seconds);
        results.push(
          `  ${driver} run ${run}: API ${seconds.toFixed(2)} s (${rate(seconds)}) vs straight to ${baselineName} ${baseline.toFixed(2)} s (${rate(baseline)}) = ${(baseline / seconds).toFixed(2)}`,
        );
      }
      const rss = await peakRssMb(g.pid);
      results.push(
        `  ${driver}: median ratio ${median(ratios).toFixed(2)} (target ≥ 0.8); API peak RSS ${rss.toFixed(0)} MB (${before.toFixed(0)} MB before; target < 200)`,
      );
    } finally {
      await g.stop();
    }
  }
  console.log(
    `bench:upload ${mib} MiB, multipart POST with curl, ${runs} run(s), throughput ratio = straight write time / API upload time:\n${results.join('\n')}`,
  );
} finally {
  await removeTestBucket(bucket);
  await rm(dir, { recursive: true, force: true });
}
