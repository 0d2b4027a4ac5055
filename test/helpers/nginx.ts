import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { freePort, repoRoot, waitFor } from './services.ts';

export interface RunningNginx {
  url: string;
  stop(): Promise<void>;
}

/**
 * Debian's nginx (scripts/install.sh installs nginx-light for the tests and the benchmark), one
 * worker running as the caller's user, in a prefix folder of its own, serving `site` (a server {} block; `{{listen}}` in it is
 * replaced by the port it gets) inside a minimal http {} block.
 */
export async function startNginx(site: (listen: string) => string): Promise<RunningNginx> {
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-nginx-'));
  await mkdir(path.join(prefix, 'logs'));
  await mkdir(path.join(prefix, 'tmp'));
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${prefix}/tmp;`)
    .join('\n');
  await writeFile(path.join(prefix, 'site.conf'), site(`127.0.0.1:${port}`));
  await writeFile(
    path.join(prefix, 'nginx.conf'),
    // Its worker reads the test's storage folder (made 0700): it runs as the test's user.
    `daemon off;
user ${os.userInfo().username};
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
${temp}
  include ${prefix}/site.conf;
}
`,
  );
  const child = execa('/usr/sbin/nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], {
    reject: false,
    all: true,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `nginx on ${url}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${(await child).all}`);
      return (await fetch(url).catch(() => undefined)) ? true : undefined;
    },
    10_000,
    50,
  );
  return {
    url,
    async stop() {
      child.kill('SIGQUIT');
      await child;
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

/** deploy/nginx/gilfoyle.conf (what the README gives) with this machine's three values in it. */
export async function gilfoyleSite(o: { upstream: string; storageRoot: string }) {
  const conf = await readFile(path.join(repoRoot, 'deploy/nginx/gilfoyle.conf'), 'utf8');
  return (listen: string) =>
    conf
      .replace('server 127.0.0.1:3000;', `server ${o.upstream};`)
      .replace('listen 127.0.0.1:8080;', `listen ${listen};`)
      .replace('alias /var/lib/gilfoyle/storage/;', `alias ${path.resolve(o.storageRoot)}/;`);
}
