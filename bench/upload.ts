/**
 * Upload throughput of a 1 GiB file through Gilfoyle's API (multipart POST, streamed) to each
 * storage driver, as a ratio to writing the same bytes straight to disk and straight to MinIO
 * in the same session, and the peak RSS of the API process. Targets: ratio ≥ 0.8, RSS < 200 MB.
 *
 *   npm run bench:upload [-- --mib 1024]
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
import { timed } from './common.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } });
const mib = Number(values.mib);
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

/** curl streams the file from disk in a multipart POST, as a real client would. */
async function uploadThroughApi(url: string): Promise<number> {
  const api = apiClient(url);
  const { body } = await api.createMedia('bench upload');
  return timed(async () => {
    const { stdout } = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-F', `file=@${file};type=application/octet-stream`, `${url}/medias/${body.data.id}/upload/video`]);
    if (stdout !== '200') throw new Error(`upload answered ${stdout}`);
  });
}

const bucket = await createTestBucket('gilfoyle-bench');
try {
  const disk = await timed(() => pipeline(createReadStream(file), createWriteStream(path.join(dir, 'straight.bin'))));
  await rm(path.join(dir, 'straight.bin'));
  const direct = createS3Driver({ ...minio, bucket, forcePathStyle: true });
  const s3 = await timed(() => direct.putFile('straight/upload.bin', file));
  await direct.deletePrefix('straight/');

  const results: string[] = [];
  for (const [driver, env, baseline, baselineName] of [
    ['fs', {}, disk, 'disk'],
    ['s3', minioEnv(bucket), s3, 'MinIO'],
  ] as const) {
    // The API role alone, from the build (npm run build), as `npm start` runs it: what is measured
    // is the upload path, not an encode beside it nor the TypeScript loader.
    const g = await startGilfoyle(
      { ...env, GILFOYLE_LOG_LEVEL: 'warn', GILFOYLE_SETTINGS_MAX_FILE_SIZE: String(bytes + 1024 ** 2) },
      { role: 'api', entry: 'dist/cli/main.js' },
    );
    try {
      const before = await peakRssMb(g.pid);
      const seconds = await uploadThroughApi(g.url);
      const rss = await peakRssMb(g.pid);
      results.push(
        `  ${driver}: API ${seconds.toFixed(2)} s (${rate(seconds)}) vs straight to ${baselineName} ${baseline.toFixed(2)} s (${rate(baseline)}) = ${(baseline / seconds).toFixed(2)} (target ≥ 0.8); API peak RSS ${rss.toFixed(0)} MB (${before.toFixed(0)} MB before; target < 200)`,
      );
    } finally {
      await g.stop();
    }
  }
  console.log(`bench:upload ${mib} MiB, multipart POST with curl, throughput ratio = straight write time / API upload time:\n${results.join('\n')}`);
} finally {
  await removeTestBucket(bucket);
  await rm(dir, { recursive: true, force: true });
}
