/**
 * The soak: a deployment split like a small production one (API, bridge, two workers, S3 storage
 * on MinIO) takes 300 short media from 10 clients at once, through every upload route (multipart,
 * tus, presigned PUT, from a URL), while it is hurt: a worker SIGKILLed every 60 s and restarted,
 * RabbitMQ, Temporal and Postgres each restarted once. It prints what a user would count (lost,
 * Errored, duplicates, latencies, leaks) and exits non-zero when any expectation fails.
 *
 *   npm run test:soak [-- --media 300 --clients 10]
 *
 * Run it from the checkout that started the services (it restarts them through scripts/services.sh).
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { apiClient } from '../helpers/api.ts';
import { prepareTemplateDatabase } from '../helpers/database.ts';
import { joining, startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { makeVideo } from '../helpers/media.ts';
import { percentile } from '../helpers/stats.ts';
import { createTestBucket, minioEnv, removeTestBucket } from '../helpers/minio.ts';
import { controlService, sleep, type ServiceName } from '../helpers/services.ts';

const { values } = parseArgs({
  options: {
    media: { type: 'string', default: '300' },
    clients: { type: 'string', default: '10' },
    'kill-every': { type: 'string', default: '60' },
  },
});
const total = Number(values.media);
const clients = Number(values.clients);
const killEverySeconds = Number(values['kill-every']);
const poolSize = 5;

const started = Date.now();
const at = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string) => process.stdout.write(`[${at()}] ${line}\n`);
const rssOf = async (pid: number) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
};
async function bytesUnder(dir: string): Promise<number> {
  let sum = 0;
  for (const name of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    const s = await stat(path.join(dir, String(name))).catch(() => null);
    if (s?.isFile()) sum += s.size;
  }
  return sum;
}

await prepareTemplateDatabase();
const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-soak-'));
const clip = path.join(dir, 'clip.mp4');
await makeVideo(clip, { seconds: 1, width: 320, height: 240 });
const clipBytes = await readFile(clip);

// The source an upload from URL fetches, served on loopback.
const source: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'video/mp4' }).end(clipBytes));
await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
const sourceUrl = `http://127.0.0.1:${(source.address() as { port: number }).port}/clip.mp4`;

const bucket = await createTestBucket('gilfoyle-soak');
const env = {
  ...minioEnv(bucket),
  GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
  GILFOYLE_ENCODING_PRESET: 'ultrafast',
  GILFOYLE_ENCODING_CONCURRENCY: '2',
  GILFOYLE_DATABASE_POOL_SIZE: String(poolSize),
  GILFOYLE_SETTINGS_URL_FETCH_ALLOW_PRIVATE_ADDRESSES: 'true',
  // A worker killed is noticed through its heartbeats.
  GILFOYLE_ENCODING_HEARTBEAT_TIMEOUT_SECONDS: '10',
  GILFOYLE_LOG_LEVEL: 'warn',
};
const api = await startGilfoyle(env, { role: 'api' });
const shared = joining(api, env);
const bridge = await startGilfoyle(shared, { role: 'bridge' });
// Worker A runs throughout (its memory is measured); worker B is killed every minute and restarted.
const workerA = await startGilfoyle(shared, { role: 'worker' });
let workerB = await startGilfoyle(shared, { role: 'worker' });
const client = apiClient(api.url);
// Worker A must live through it all: if it ends, when and why is kept for the report.
let workerAEnded: string | null = null;
let stopping = false;
void workerA.exit.then((code) => {
  if (stopping) return;
  workerAEnded = `exited with ${code ?? 'a signal'} at ${((Date.now() - started) / 1000).toFixed(0)} s: ${workerA.logs().slice(-2000)}`;
  say(`worker A ${workerAEnded}`);
});

const ids: string[] = [];
const uploadStarted = new Map<string, number>();
const refusals = new Map<number, number>();
const ways = ['multipart', 'tus', 'presigned', 'url'] as const;
const perWay = new Map<string, number>();

/** A client retries what the service refuses for now (503 while a dependency restarts, 429): it must not lose a media. */
async function patiently<T>(
  what: string,
  call: () => Promise<{ status: number } & T>,
): Promise<T & { status: number }> {
  for (let tries = 0; ; tries++) {
    let res: ({ status: number } & T) | null = null;
    try {
      res = await call();
    } catch {
      // connection refused or reset: the same as a 503
    }
    if (res && res.status < 500 && res.status !== 429) return res;
    refusals.set(res?.status ?? 0, (refusals.get(res?.status ?? 0) ?? 0) + 1);
    if (tries > 120) throw new Error(`${what}: still refused after ${tries} tries (${res?.status ?? 'no answer'})`);
    await sleep(1000);
  }
}

async function uploadOne(n: number): Promise<void> {
  const way = ways[n % ways.length]!;
  const media = await patiently('create', async () => {
    const r = await client.createMedia(`soak ${n} (${way})`);
    return { status: r.status, id: r.body.data?.id };
  });
  const id = media.id!;
  const url = (p: string) => `${api.url}/medias/${id}${p}`;
  uploadStarted.set(id, Date.now());
  const done = await patiently(`upload ${n} (${way})`, async (): Promise<{ status: number }> => {
    switch (way) {
      case 'multipart':
        return client.upload(id, 'video', clip);
      case 'url':
        return fetch(url('/upload/url'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: sourceUrl, kind: 'video' }),
        });
      case 'presigned': {
        const r = await fetch(url('/upload-url'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ size: clipBytes.length, content_type: 'video/mp4' }),
        });
        if (r.status !== 200) return r;
        const { data } = (await r.json()) as {
          data: { url: string; headers: Record<string, string>; complete: string };
        };
        const put = await fetch(data.url, { method: 'PUT', headers: data.headers, body: clipBytes });
        if (!put.ok) return { status: 503 };
        return fetch(`${api.url}${data.complete}`, { method: 'POST' });
      }
      case 'tus': {
        const created = await fetch(url('/tus'), {
          method: 'POST',
          headers: {
            'tus-resumable': '1.0.0',
            'upload-length': String(clipBytes.length),
            'upload-metadata': `kind ${Buffer.from('video').toString('base64')}`,
          },
        });
        if (created.status !== 201) return created;
        return fetch(new URL(created.headers.get('location')!, api.url), {
          method: 'PATCH',
          headers: {
            'tus-resumable': '1.0.0',
            'upload-offset': '0',
            'content-type': 'application/offset+octet-stream',
          },
          body: clipBytes,
        });
      }
    }
  });
  if (done.status !== 200 && done.status !== 204) throw new Error(`upload ${n} (${way}) answered ${done.status}`);
  ids.push(id);
  perWay.set(way, (perWay.get(way) ?? 0) + 1);
}

// GET /medias/{id} latency, sampled while media are being processed.
const getLatencies: number[] = [];
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    if (id) {
      const t = performance.now();
      const r = await fetch(`${api.url}/medias/${id}`).catch(() => null);
      if (r) {
        const body = (await r.json().catch(() => ({}))) as { data?: { status?: string } };
        // Only answers about a media still in the pipeline, and only while the database is up.
        if (r.status === 200 && body.data?.status !== 'Ready') getLatencies.push(performance.now() - t);
      }
    }
    await sleep(100);
  }
})();

await sleep(5000); // worker A warmed up: its RSS from here
const rssStart = await rssOf(workerA.pid);
say(
  `deployment up: api ${api.url}, bridge, workers A (pid ${workerA.pid}) and B; S3 bucket ${bucket}; worker A RSS ${(rssStart / 1e6).toFixed(0)} MB`,
);

// The faults, while the clients upload.
let hurting = true;
const kills: number[] = [];
const faults = (async () => {
  const restarts: [number, ServiceName][] = [
    [45, 'rabbitmq'],
    [105, 'temporal'],
    [165, 'postgres'],
  ];
  let nextKill = killEverySeconds;
  for (;;) {
    const elapsed = (Date.now() - started) / 1000;
    if (!hurting && restarts.length === 0) return;
    if (restarts[0] && elapsed >= restarts[0][0]) {
      const [, service] = restarts.shift()!;
      say(`restarting ${service}`);
      await controlService('stop', service);
      await sleep(3000);
      await controlService('start', service);
      say(`${service} back`);
    } else if (hurting && elapsed >= nextKill) {
      nextKill += killEverySeconds;
      process.kill(workerB.pid, 'SIGKILL');
      kills.push(Date.now());
      await workerB.exit;
      say(`worker B (pid ${workerB.pid}) killed; restarting it`);
      workerB = await startGilfoyle(shared, { role: 'worker' });
    }
    await sleep(500);
  }
})();

// 10 clients, each uploading its share, paced so that the uploads span the faults.
const paceMs = Math.max(0, (240_000 * clients) / total);
let next = 0;
await Promise.all(
  Array.from({ length: clients }, async () => {
    for (let n = next++; n < total; n = next++) {
      await uploadOne(n);
      await sleep(paceMs * (0.5 + Math.random()));
    }
  }),
);
say(`${ids.length} media uploaded (${[...perWay].map(([w, k]) => `${w} ${k}`).join(', ')})`);

// Every media ends Ready or Errored; one that does neither within 5 minutes of the last upload is lost.
const ended = new Map<string, { status: string; readyAt?: number }>();
const deadline = Date.now() + 300_000;
while (ended.size < ids.length && Date.now() < deadline) {
  for (const id of ids.filter((i) => !ended.has(i))) {
    const r = await client.getMedia(id).catch(() => null);
    const status = r?.body.data?.status;
    if (status === 'Ready' || status === 'Errored') ended.set(id, { status });
  }
  if (ended.size < ids.length) await sleep(2000);
}
hurting = false;
await faults;
sampling = false;
await sampler;

// What each media's history says.
const pool = new pg.Pool({ connectionString: api.databaseUrl, max: 2 });
const { rows: eventRows } = await pool.query<{
  media_id: string;
  type: string;
  data: { rendition?: string };
  created_at: Date;
}>(`SELECT media_id, type, data, created_at FROM media_events WHERE media_id = ANY($1)`, [ids]);
const readyAt = new Map(
  eventRows.filter((e) => e.type === 'media.ready').map((e) => [e.media_id, e.created_at.getTime()]),
);
const onceOnly = new Map<string, number>();
for (const e of eventRows) {
  if (!['media.probed', 'media.processing', 'media.ready', 'rendition.ready'].includes(e.type)) continue;
  const key = `${e.media_id} ${e.type} ${e.data.rendition ?? ''}`;
  onceOnly.set(key, (onceOnly.get(key) ?? 0) + 1);
}
const duplicateEvents = [...onceOnly.values()].filter((n) => n > 1).length;
for (const [k, n] of onceOnly) if (n > 1) say(`once-only event written ${n} times: ${k}`);
const duplicateRenditions = [...onceOnly].filter(([k, n]) => k.includes('rendition.ready') && n > 1).length;
const { rows: renditionRows } = await pool.query<{ n: string }>(
  `SELECT count(*) AS n FROM (SELECT media_id, name FROM renditions WHERE media_id = ANY($1) GROUP BY media_id, name HAVING count(*) > 1) d`,
  [ids],
);
const toReady = ids.filter((id) => readyAt.has(id)).map((id) => (readyAt.get(id)! - uploadStarted.get(id)!) / 1000);

const rssEnd = await rssOf(workerA.pid);
// The temp folder is empty once no job runs (killed workers' folders are swept by the next worker).
await sleep(2000);
const tempBytes = await bytesUnder(api.tempDir);
await pool.end();
const countConnections = async () => {
  const admin = new pg.Client({ connectionString: api.databaseUrl });
  await admin.connect();
  const { rows } = await admin.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
  await admin.end();
  return Number(rows[0]!.n);
};
const connections = await countConnections();
// Each process has one pool (api: the API's and the relay's listener; worker: its activities'),
// capped at database.pool_size: four processes can hold at most this many.
const connectionBound = 4 * poolSize + 2;

const ready = [...ended.values()].filter((e) => e.status === 'Ready').length;
const errored = [...ended.values()].filter((e) => e.status === 'Errored').length;
const lost = ids.length - ended.size;
const rssBound = rssStart * 1.5 + 64e6;
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const checks = [
  [`uploaded ${ids.length} of ${total}`, ids.length === total],
  [`Ready ${ready}, Errored ${errored} (expected 0), lost ${lost} (expected 0)`, errored === 0 && lost === 0],
  [
    `duplicate renditions ${duplicateRenditions + Number(renditionRows[0]!.n)} (expected 0), duplicate once-only events ${duplicateEvents}`,
    duplicateRenditions + Number(renditionRows[0]!.n) === 0,
  ],
  [`upload→Ready p50 ${percentile(toReady, 50).toFixed(1)} s, p99 ${percentile(toReady, 99).toFixed(1)} s`, true],
  [
    `GET /medias/{id} while encoding: p50 ${percentile(getLatencies, 50).toFixed(1)} ms, p99 ${percentile(getLatencies, 99).toFixed(1)} ms (${getLatencies.length} samples)`,
    true,
  ],
  [`worker A ran throughout${workerAEnded ? `: it ${workerAEnded}` : ''}`, workerAEnded === null],
  [
    `worker A RSS at start ${mb(rssStart)}, at end ${mb(rssEnd)} (bound: 1.5 × start + 64 MB = ${mb(rssBound)})`,
    rssEnd > 0 && rssEnd <= rssBound,
  ],
  [`temp-folder bytes left ${tempBytes} (expected 0)`, tempBytes === 0],
  [
    `Postgres connections at the end ${connections} (bound ${connectionBound}: four pools of ${poolSize})`,
    connections <= connectionBound,
  ],
  [
    `worker B killed ${kills.length} times; refusals the clients retried: ${[...refusals].map(([s, n]) => `${s || 'no answer'} ×${n}`).join(', ') || 'none'}`,
    true,
  ],
] as const;
process.stdout.write(`\nsoak: ${total} media, ${clients} clients, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
for (const [line, ok] of checks) process.stdout.write(`  ${ok ? '✓' : '✗'} ${line}\n`);

stopping = true;
for (const g of [workerB, workerA, bridge, api] as RunningGilfoyle[]) await g.stop().catch(() => undefined);
source.close();
await removeTestBucket(bucket).catch(() => undefined);
await rm(dir, { recursive: true, force: true });
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
