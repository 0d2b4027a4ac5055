import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { apiClient } from '../helpers/api.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { repoRoot, testDatabaseUrl } from '../helpers/services.ts';

/**
 * `npm run package` builds dist/gilfoyle, and it runs as an operator runs it: copied alone into
 * an empty folder, `./gilfoyle all` there against the local services (storage in MinIO) and an
 * empty database. No checkout, sources or node_modules are at hand; it unpacks itself into its
 * cache folder ($XDG_CACHE_HOME, the test's own here).
 */
const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
/** The commit the binary is built from. */
let head: string;
let folder: string;
let cache: string;
let scratch: string;
let bucket: string;
let gilfoyle: RunningGilfoyle;

/** A database with no table at all: the binary applies its own migrations. */
const emptyDatabase = `gilfoyle_t_${Math.floor(Date.now() / 1000)}_binary${Math.random().toString(36).slice(2, 8)}`;
const databaseUrl = Object.assign(new URL(testDatabaseUrl), { pathname: `/${emptyDatabase}` }).toString();
async function maintenance(sql: string) {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

beforeAll(async () => {
  await execa('npm', ['run', '--silent', 'package'], { cwd: repoRoot, all: true }).catch((err: { all?: string }) => {
    throw new Error(`npm run package failed:\n${err.all}`);
  });
  head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot }).toString().trim();
  const temp = (name: string) => mkdtemp(path.join(os.tmpdir(), `gilfoyle-binary-${name}-`));
  [folder, cache, scratch] = await Promise.all([temp('run'), temp('cache'), temp('media')]);
  await copyFile(path.join(repoRoot, 'dist/gilfoyle'), path.join(folder, 'gilfoyle'));
  await maintenance(`CREATE DATABASE "${emptyDatabase}"`);
  bucket = await createTestBucket('gilfoyle-binary');
  gilfoyle = await startGilfoyle(
    {
      XDG_CACHE_HOME: cache,
      ...minioEnv(bucket),
      GILFOYLE_DATABASE_URL: databaseUrl,
      GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
      GILFOYLE_ENCODING_PRESET: 'ultrafast',
      GILFOYLE_LOG_LEVEL: 'info',
    },
    {
      // The helper runs `<prefix> node <entry> <role>`: this prefix runs `./gilfoyle <role>` in
      // the folder instead (sh's $1 is the folder, $4 the role).
      prefix: ['sh', '-c', 'cd "$1" && exec ./gilfoyle "$4"', 'sh', folder],
    },
  );
}, 300_000);

afterAll(async () => {
  await gilfoyle?.stop();
  if (bucket) await removeTestBucket(bucket);
  await maintenance(`DROP DATABASE IF EXISTS "${emptyDatabase}" WITH (FORCE)`).catch(() => undefined);
  await Promise.all([folder, cache, scratch].map((d) => d && rm(d, { recursive: true, force: true })));
});

it('serves gilfoyle all from an empty folder: health, migrations, the admin page, an upload to Ready', async () => {
  const health = await fetch(`${gilfoyle.url}/healthz`);
  expect(health.status).toBe(200);
  // The commit the binary was built from (there is no checkout where it runs).
  expect((await health.json()).data).toMatchObject({ status: 'up', version, commit: expect.stringMatching(head) });

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied = await client
    .query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name')
    .finally(() => client.end());
  const shipped = (await readdir(path.join(repoRoot, 'src/db/migrations'))).map((f) => f.replace(/\.sql$/, '')).sort();
  expect(applied.rows.map((r) => r.name)).toEqual(shipped);

  const page = await fetch(`${gilfoyle.url}/admin/`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toBe(await readFile(path.join(repoRoot, 'admin/dist/index.html'), 'utf8'));
  const script = /<script[^>]+src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script).toBeDefined();
  const asset = await fetch(`${gilfoyle.url}${script}`);
  expect(asset.status).toBe(200);
  expect(asset.headers.get('content-type')).toMatch(/javascript/);
  expect(await asset.text()).toBe(
    await readFile(path.join(repoRoot, 'admin/dist', script!.slice('/admin/'.length)), 'utf8'),
  );

  // The API reference's browser bundle, the one file of its package the binary carries.
  const docs = await fetch(`${gilfoyle.url}/docs/scalar.js`);
  expect(docs.status).toBe(200);
  expect((await docs.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);

  // Ready: the bundled workflow code ran on Temporal's native core, ffmpeg encoded, the
  // renditions are in MinIO.
  const api = apiClient(gilfoyle.url);
  const file = path.join(scratch, 'binary.mp4');
  await makeVideo(file, { seconds: 2 });
  const media = await api.uploadNew('from the binary', 'video', file);
  expect((await api.waitForStatus(media.id, ['Ready', 'Errored'], 90_000)).status).toBe('Ready');
  expect((await api.stream(media.id, 'master.m3u8')).status).toBe(200);
  // The workflow code it ran is the one bundled with the binary: nothing was bundled at start-up.
  expect(gilfoyle.logs()).toContain('"msg":"worker polling"');
  expect(gilfoyle.logs()).not.toContain('Workflow bundle created');
});

it('prints its version', async () => {
  const run = await execa(path.join(folder, 'gilfoyle'), ['--version'], {
    cwd: folder,
    env: { XDG_CACHE_HOME: cache },
  });
  expect(run.stdout).toBe(version);
});

it('stops on SIGTERM with exit code 0, having written nothing into its folder and unpacked once', async () => {
  await gilfoyle.stop();
  expect(await gilfoyle.exit).toBe(0);
  expect(await readdir(folder)).toEqual(['gilfoyle']);
  // One unpacked tree, no temporary folder left behind.
  expect(await readdir(path.join(cache, 'gilfoyle'))).toEqual([
    expect.stringMatching(new RegExp(`^${version}-[0-9a-f]{16}$`)),
  ]);
});
