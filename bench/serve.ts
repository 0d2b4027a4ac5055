/**
 * How fast stream files are served: the same HLS files (a 1080p fMP4 rendition of about
 * 2.8 Mb/s in 4 s segments, made here by ffmpeg) served by
 *   - `base`: Gilfoyle as it was before the streaming work (a git worktree of --base, its API role),
 *   - `new`: Gilfoyle as it is (its API role),
 *   - `bare`: a bare node:http server with createReadStream (bench/bare-server.ts),
 *   - `nginx`: Debian's nginx, one worker, sendfile, from the folder,
 *   - `accel`: Gilfoyle (new, storage.delivery: accel) behind that nginx with deploy/nginx/gilfoyle.conf,
 * each asked by wrk (-t1 -c20, --seconds each, --rounds rounds, interleaved) for one segment and
 * for the rendition playlist. It prints req/s, MB/s and p99 per server, and the ratios the
 * targets are written in: new/bare (segments ≥ 0.8, playlists ≥ 0.5), new p99 / bare p99
 * (segments ≤ 2), accel/nginx (segments ≥ 0.5).
 *
 *   npm run bench:serve [-- --seconds 6 --rounds 2 --base 8d37569 --profile]
 *
 * --profile runs base and new under `node --cpu-prof` and prints, after the table, each one's
 * functions by self time over the whole run (the profiler's overhead is in that run's figures).
 */
import { mkdir, readdir, readFile, rm, symlink, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import { startGilfoyle, type RunningGilfoyle } from '../test/helpers/gilfoyle.ts';
import { prepareTemplateDatabase } from '../test/helpers/database.ts';
import { gilfoyleSite, startNginx } from '../test/helpers/nginx.ts';
import { freePort, repoRoot, waitFor } from '../test/helpers/services.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    // The last commit before the streaming work (issue 18).
    base: { type: 'string', default: '8d37569' },
    connections: { type: 'string', default: '20' },
    profile: { type: 'boolean', default: false },
  },
});
const profileDir = (name: string) => path.join(repoRoot, '.data/bench/profile', name);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

const work = path.join(repoRoot, '.data/bench/serve');
const root = path.join(work, 'storage');
const mediaId = randomUUID();
const streamDir = path.join(root, 'medias', mediaId, 'stream');
await mkdir(streamDir, { recursive: true });

// The files: one rendition as Gilfoyle's encoder writes them (fMP4 HLS, 4 s segments).
process.stdout.write('making the files (ffmpeg, 12 s of 1080p)…\n');
await execa('ffmpeg', [
  '-hide_banner',
  '-loglevel',
  'error',
  '-f',
  'lavfi',
  '-i',
  'testsrc2=size=1920x1080:rate=30:duration=12',
  '-c:v',
  'libx264',
  '-preset',
  'ultrafast',
  '-b:v',
  '2800k',
  '-maxrate',
  '2800k',
  '-bufsize',
  '2800k',
  '-g',
  '60',
  '-f',
  'hls',
  '-hls_time',
  '4',
  '-hls_playlist_type',
  'vod',
  '-hls_segment_type',
  'fmp4',
  '-hls_fmp4_init_filename',
  '1080p_init.mp4',
  '-hls_segment_filename',
  path.join(streamDir, '1080p_%03d.m4s'),
  path.join(streamDir, '1080p.m3u8'),
]);
const segment = '1080p_001.m4s';
const segmentBytes = (await stat(path.join(streamDir, segment))).size;

// Today's code, from a worktree of the base commit sharing this checkout's node_modules.
const baseDir = path.join(repoRoot, '.data/bench', `base-${values.base}`);
if (!existsSync(baseDir)) {
  await execa('git', ['worktree', 'add', '--detach', baseDir, values.base!], { cwd: repoRoot });
  await symlink(path.join(repoRoot, 'node_modules'), path.join(baseDir, 'node_modules'));
}

await prepareTemplateDatabase();
const env = { GILFOYLE_STORAGE_FS_ROOT: root, GILFOYLE_LOG_LEVEL: 'warn' };
const servers: Record<string, { url: string; stop: () => Promise<unknown> }> = {};
const started: RunningGilfoyle[] = [];
const procs: ResultPromise[] = [];

async function seed(databaseUrl: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query(
    `INSERT INTO medias (id, title, status, playable, source_kind, workflow_run_id, duration)
     VALUES ($1, 'bench serve', 'Ready', true, 'video', $2, 12)`,
    [mediaId, randomUUID()],
  );
  await db.end();
}

try {
  for (const [name, entry] of [
    ['base', path.join(baseDir, 'bin/gilfoyle.js')],
    ['new', 'bin/gilfoyle.js'],
  ] as const) {
    const profiled: Record<string, string> = values.profile
      ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir(name)}` }
      : {};
    if (values.profile) await rm(profileDir(name), { recursive: true, force: true });
    const g = await startGilfoyle({ ...env, ...profiled }, { role: 'api', entry });
    started.push(g);
    await seed(g.databaseUrl);
    servers[name] = { url: g.url, stop: () => g.stop() };
  }

  const barePort = await freePort();
  const bare = execa('bash', ['scripts/node.sh', '--import', 'tsx', 'bench/bare-server.ts', root, String(barePort)], {
    cwd: repoRoot,
    reject: false,
  });
  procs.push(bare);
  servers.bare = { url: `http://127.0.0.1:${barePort}`, stop: async () => bare.kill() };

  if (existsSync('/usr/sbin/nginx')) {
    // Bare nginx: the files straight from the folder, sendfile.
    const bare = await startNginx(
      (listen) => `server {
  listen ${listen};
  root ${root};
  sendfile on;
  tcp_nopush on;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
}
`,
    );
    servers.nginx = bare;
    // Gilfoyle (new) with storage.delivery: accel behind nginx configured as the README says.
    const g = await startGilfoyle({ ...env, GILFOYLE_STORAGE_DELIVERY: 'accel' }, { role: 'api' });
    started.push(g);
    await seed(g.databaseUrl);
    servers.accel = await startNginx(await gilfoyleSite({ upstream: new URL(g.url).host, storageRoot: root }));
  } else process.stdout.write('nginx is not installed (apt-get install nginx-light): no nginx columns\n');

  const paths = {
    segment: `/medias/${mediaId}/stream/${segment}`,
    playlist: `/medias/${mediaId}/stream/1080p.m3u8`,
  };
  for (const [name, s] of Object.entries(servers)) {
    await waitFor(`${name} to serve the segment`, async () => {
      const res = await fetch(s.url + paths.segment).catch(() => undefined);
      if (!res) return undefined;
      const bytes = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200 || bytes !== segmentBytes) throw new Error(`${name}: ${res.status}, ${bytes} bytes`);
      return true;
    });
  }

  interface Run {
    rps: number;
    mbps: number;
    p99ms: number;
  }
  const results: Record<string, Record<string, Run[]>> = {};
  const parseMs = (v: string) => {
    const m = /([\d.]+)(us|ms|s)/.exec(v)!;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  for (let round = 1; round <= rounds; round++) {
    for (const [what, p] of Object.entries(paths)) {
      for (const [name, s] of Object.entries(servers)) {
        const out = await execa('wrk', ['-t1', `-c${values.connections}`, `-d${seconds}s`, '--latency', s.url + p]);
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)![1]);
        const p99ms = parseMs(/^\s+99%\s+(\S+)/m.exec(out.stdout)![1]!);
        if (/Non-2xx/.test(out.stdout)) throw new Error(`${name} ${what}: non-2xx answers\n${out.stdout}`);
        const bytes = what === 'segment' ? segmentBytes : (await stat(path.join(streamDir, '1080p.m3u8'))).size;
        ((results[what] ??= {})[name] ??= []).push({ rps, mbps: (rps * bytes) / 1e6, p99ms });
        process.stdout.write(`round ${round} ${what} ${name}: ${rps.toFixed(0)} req/s, p99 ${p99ms.toFixed(1)} ms\n`);
      }
    }
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const cell = (r: Run[], what: string) => {
    const rps = r.map((x) => x.rps);
    const range = `${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)} req/s`;
    const mb = what === 'segment' ? ` (≈ ${(median(r.map((x) => x.mbps)) / 1000).toFixed(2)} GB/s)` : '';
    return `${range}${mb}, p99 ${Math.min(...r.map((x) => x.p99ms)).toFixed(0)}–${Math.max(...r.map((x) => x.p99ms)).toFixed(0)} ms`;
  };
  const names = Object.keys(servers);
  const lines = [
    `\nwrk -t1 -c${values.connections} -d${seconds}s, ${rounds} rounds, segment ${(segmentBytes / 1e6).toFixed(2)} MB (${os.cpus().length} cores)`,
    `| request | ${names.join(' | ')} |`,
    `| --- | ${names.map(() => '---').join(' | ')} |`,
  ];
  for (const what of Object.keys(paths))
    lines.push(`| ${what} | ${names.map((n) => cell(results[what]![n]!, what)).join(' | ')} |`);
  const ratio = (what: string, a: string, b: string, f: (r: Run) => number = (r) => r.rps) =>
    results[what]?.[a] && results[what]?.[b]
      ? median(results[what]![a]!.map(f)) / median(results[what]![b]!.map(f))
      : NaN;
  lines.push('');
  for (const what of Object.keys(paths)) {
    lines.push(
      `${what}: new/base ${ratio(what, 'new', 'base').toFixed(2)}×, new/bare ${ratio(what, 'new', 'bare').toFixed(2)}× (target ≥ ${what === 'segment' ? '0.8' : '0.5'}), base/bare ${ratio(what, 'base', 'bare').toFixed(2)}×` +
        (servers.nginx
          ? `, new/nginx ${ratio(what, 'new', 'nginx').toFixed(2)}×, accel/nginx ${ratio(what, 'accel', 'nginx').toFixed(2)}×${what === 'segment' ? ' (target ≥ 0.5)' : ''}`
          : '') +
        `, p99 new/bare ${ratio(what, 'new', 'bare', (r) => r.p99ms).toFixed(2)}×${what === 'segment' ? ' (target ≤ 2)' : ''}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const s of Object.values(servers)) await s.stop().catch(() => undefined);
  for (const g of started) await g.stop().catch(() => undefined);
  await Promise.all(procs.map((p) => p.catch(() => undefined)));
}
if (values.profile) for (const name of ['base', 'new']) process.stdout.write(await topOfProfile(name));

/** The heaviest functions by self time in the server's CPU profile(s) (.cpuprofile, Chrome's format). */
async function topOfProfile(name: string, count = 12): Promise<string> {
  const files = existsSync(profileDir(name)) ? await readdir(profileDir(name)) : [];
  const self = new Map<string, number>();
  let total = 0;
  for (const f of files.filter((x) => x.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(path.join(profileDir(name), f), 'utf8')) as {
      nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    profile.samples.forEach((id, i) => {
      const c = byId.get(id)!;
      if (c.functionName === '(idle)' || c.functionName === '(program)') return;
      const where = c.url
        ? ` ${c.url.replace(/^.*\/node_modules\//, '').replace(`file://${repoRoot}/`, '')}:${c.lineNumber + 1}`
        : '';
      const key = `${c.functionName || '(anonymous)'}${where}`;
      const dt = profile.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  if (!total) return `\n${name}: no CPU profile was written\n`;
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
  return `\n${name}: self time, ${(total / 1e6).toFixed(1)} s busy (idle left out)\n${top
    .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`)
    .join('\n')}\n`;
}
