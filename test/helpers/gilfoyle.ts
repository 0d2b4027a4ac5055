import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { createFsDriver } from '../../src/storage/fs-driver.ts';
import { createS3Driver } from '../../src/storage/s3-driver.ts';
import { createDeploymentDatabase } from './database.ts';
import { freePort, rabbitUrl, repoRoot, temporalAddress, waitFor } from './services.ts';

export interface RunningGilfoyle {
  url: string;
  pid: number;
  /** The filesystem storage root (used when the driver is fs). */
  storageRoot: string;
  /** A driver on the same store as the process's, to look at what it stored. */
  storage: StorageDriver;
  /** Parent of the workers' per-attempt temp folders: empty whenever no job runs. */
  tempDir: string;
  /** Where resumable uploads keep their parts. */
  tusDir: string;
  /** The deployment's database (its own, unless the environment named one). */
  databaseUrl: string;
  queue: string;
  /** Its events exchange (gilfoyle.events in production): a test's own queue may bind to it. */
  eventsExchange: string;
  taskQueue: string;
  logs: () => string;
  /** Resolves with the exit code when the process ends (null when a signal ended it). */
  exit: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * The environment of another role (worker, bridge) of the same deployment as `first`: its
 * database, RabbitMQ queue, Temporal task queue, storage folder and temp folder, plus `env`.
 */
export const joining = (first: RunningGilfoyle, env: Record<string, string> = {}): Record<string, string> => ({
  GILFOYLE_DATABASE_URL: first.databaseUrl,
  GILFOYLE_RABBITMQ_QUEUE: first.queue,
  GILFOYLE_RABBITMQ_EVENTS_EXCHANGE: first.eventsExchange,
  GILFOYLE_RABBITMQ_WEBHOOKS_QUEUE: `${first.eventsExchange}.webhooks`,
  GILFOYLE_TEMPORAL_TASK_QUEUE: first.taskQueue,
  GILFOYLE_STORAGE_FS_ROOT: first.storageRoot,
  GILFOYLE_ENCODING_TEMP_DIR: first.tempDir,
  ...env,
});

/**
 * The API and the bridge of one deployment, and no worker: runs start and nothing runs them, as
 * when every worker is gone or cannot run the workflow, until a worker joins with `shared`.
 */
export async function startWithoutWorkers(env: Record<string, string> = {}) {
  const api = await startGilfoyle(env, { role: 'api' });
  const shared = joining(api, env);
  const bridge = await startGilfoyle(shared, { role: 'bridge' });
  return {
    api,
    shared,
    async stop() {
      await bridge.stop();
      await api.stop();
    },
  };
}

/**
 * Starts `gilfoyle all` as a child process against the real local services, with its own
 * port, database, storage folder, RabbitMQ queue and Temporal task queue so tests never share work.
 */
export async function startGilfoyle(
  env: Record<string, string> = {},
  {
    expectHealthy = true,
    role = 'all',
    entry = 'bin/gilfoyle.js',
    prefix = [],
    host = '127.0.0.1',
  }: {
    expectHealthy?: boolean;
    role?: 'all' | 'api' | 'worker' | 'bridge';
    entry?: string;
    /** A command the process runs under (e.g. `ip netns exec <ns>`: a worker on a machine of its own). */
    prefix?: string[];
    /** Where it is reached from here (its machine's address). */
    host?: string;
  } = {},
): Promise<RunningGilfoyle> {
  const port = await freePort();
  // Folders the environment names are the caller's (a deployment's, shared by its roles), kept at
  // stop; the others are this process's own, removed at stop.
  const made: string[] = [];
  const folder = async (named: string | undefined, prefix: string) => {
    if (named) return named;
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
  const storageRoot = await folder(env.GILFOYLE_STORAGE_FS_ROOT, 'gilfoyle-e2e-storage-');
  const tempDir = await folder(env.GILFOYLE_ENCODING_TEMP_DIR, 'gilfoyle-e2e-temp-');
  const tusDir = await folder(env.GILFOYLE_TUS_DIR, 'gilfoyle-e2e-tus-');
  const id = Math.random().toString(36).slice(2, 8);
  const queue = env.GILFOYLE_RABBITMQ_QUEUE ?? `gilfoyle.test.${id}.media.uploaded`;
  const eventsExchange = env.GILFOYLE_RABBITMQ_EVENTS_EXCHANGE ?? `gilfoyle.test.${id}.events`;
  // A role joining a deployment uses its database; a new deployment gets one of its own, dropped at stop.
  const own = env.GILFOYLE_DATABASE_URL ? null : await createDeploymentDatabase();
  const databaseUrl = env.GILFOYLE_DATABASE_URL ?? own!.url;
  const taskQueue = env.GILFOYLE_TEMPORAL_TASK_QUEUE ?? `gilfoyle-test-${id}`;
  let output = '';
  const argv = [...prefix, 'node', entry, role];
  const child: ResultPromise = execa(argv[0]!, argv.slice(1), {
    cwd: repoRoot,
    env: {
      GILFOYLE_CONFIG: path.join(repoRoot, 'test/helpers/none.yml'),
      GILFOYLE_SERVER_PORT: String(port),
      // Worker and bridge processes answer /metrics on this port instead.
      GILFOYLE_METRICS_PORT: String(port),
      GILFOYLE_DATABASE_URL: databaseUrl,
      GILFOYLE_RABBITMQ_URL: rabbitUrl,
      GILFOYLE_RABBITMQ_QUEUE: queue,
      GILFOYLE_RABBITMQ_EVENTS_EXCHANGE: eventsExchange,
      GILFOYLE_RABBITMQ_WEBHOOKS_QUEUE: `${eventsExchange}.webhooks`,
      GILFOYLE_TEMPORAL_ADDRESS: temporalAddress,
      GILFOYLE_TEMPORAL_TASK_QUEUE: taskQueue,
      GILFOYLE_STORAGE_FS_ROOT: storageRoot,
      GILFOYLE_ENCODING_TEMP_DIR: tempDir,
      GILFOYLE_TUS_DIR: tusDir,
      GILFOYLE_LOG_LEVEL: 'warn',
      // Stopped at once (a test's SIGTERM is no load balancer's); test/e2e/shutdown.test.ts sets it.
      GILFOYLE_SHUTDOWN_UNREADY_SECONDS: '0',
      ...env,
    },
    extendEnv: true,
    reject: false,
    all: true,
    buffer: false,
  });
  child.all?.on('data', (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  });
  const url = `http://${host}:${port}`;
  let exited = false;
  let stopping = false;
  const exit = child.then(async (r) => {
    exited = true;
    // A process that ends by itself with an error, not by the test's signal nor its stop: its
    // output is kept, for whatever the test then fails on (a refused connection says little).
    if (!stopping && !r.signal && r.exitCode) {
      const artifactsDir = path.join(repoRoot, '.data/test-artifacts');
      const file = path.join(artifactsDir, `gilfoyle-${role}-${child.pid}-exit-${r.exitCode}.log`);
      await mkdir(artifactsDir, { recursive: true }).catch(() => undefined);
      await writeFile(file, output).catch(() => undefined);
      console.error(
        `gilfoyle ${role} (pid ${child.pid}) exited with code ${r.exitCode}; its output: ${file}\n${output.slice(-3000)}`,
      );
    }
    return r.exitCode ?? null;
  });
  const probe = role === 'worker' || role === 'bridge' ? '/metrics' : '/healthz';
  await waitFor(
    `gilfoyle to answer ${probe}`,
    async () => {
      if (exited) throw new Error(`gilfoyle exited:\n${output}`);
      const res = await fetch(`${url}${probe}`);
      // A test of a broken dependency only needs the API to answer.
      return res.status === 200 || (!expectHealthy && res.status === 503) ? true : undefined;
    },
    90_000,
  ).catch(async (err) => {
    child.kill('SIGKILL');
    for (const dir of made) await rm(dir, { recursive: true, force: true });
    await own?.drop();
    throw new Error(`${(err as Error).message}\n--- gilfoyle output ---\n${output}`);
  });
  return {
    url,
    pid: child.pid!,
    storageRoot,
    storage:
      env.GILFOYLE_STORAGE_DRIVER === 's3'
        ? createS3Driver({
            endpoint: env.GILFOYLE_STORAGE_S3_ENDPOINT,
            region: env.GILFOYLE_STORAGE_S3_REGION ?? 'us-east-1',
            bucket: env.GILFOYLE_STORAGE_S3_BUCKET!,
            accessKeyId: env.GILFOYLE_STORAGE_S3_ACCESS_KEY_ID,
            secretAccessKey: env.GILFOYLE_STORAGE_S3_SECRET_ACCESS_KEY,
            forcePathStyle: env.GILFOYLE_STORAGE_S3_FORCE_PATH_STYLE === 'true',
          })
        : createFsDriver(storageRoot),
    tempDir,
    tusDir,
    databaseUrl,
    queue,
    eventsExchange,
    taskQueue,
    logs: () => output,
    exit,
    async stop() {
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await child;
      clearTimeout(timer);
      for (const dir of made) await rm(dir, { recursive: true, force: true });
      await own?.drop();
    },
  };
}

/** The stored key of a media's source (each upload stores its file under its own key). */
export async function storedSourceKey(g: RunningGilfoyle, mediaId: string): Promise<string> {
  const keys = (await g.storage.list(`medias/${mediaId}/`)).filter((k) => /\/(source|uploads\/[^/]+)$/.test(k));
  if (keys.length !== 1)
    throw new Error(`expected one stored source for media ${mediaId}, found: ${keys.join(', ') || 'none'}`);
  return keys[0]!;
}
