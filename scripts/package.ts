/**
 * `npm run package`: builds dist/gilfoyle, one executable that carries Gilfoyle (a Node.js
 * single-executable application, SEA: this Node.js with a blob injected by postject).
 *
 * The app is staged in .data/package/app as it is laid out in a checkout: the compiled server
 * (dist/, with the migrations and the prebundled workflow code), package.json, admin/dist and the
 * production node_modules that it loads. A SEA's main script can only require Node's built-ins,
 * and a native addon (Temporal's core) cannot be loaded from memory, so the binary carries the
 * staged tree as one compressed asset: its main script (the launcher below) extracts it once
 * into a cache folder named after its content and imports dist/cli/main.js from there.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlib } from 'node:zlib';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const work = path.join(root, '.data/package');
const app = path.join(work, 'app');
const output = path.join(root, 'dist/gilfoyle');
const started = Date.now();
const step = (what: string) => console.log(`package: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

/*
 * Packages the binary needs none of: tsx runs the TypeScript sources (bin/gilfoyle.js), the
 * binary runs the compiled dist/; @swc/core is the compiler of Temporal's bundler, which the
 * binary never runs (its workflow code is bundled here).
 */
const omitted = new Set(['tsx', '@swc/core']);

/** Files of a package that run nowhere: types, TypeScript sources (Node does not strip types under node_modules), source maps. */
const unused = /\.(d\.[cm]?ts|[cm]?ts|map)$/;

/** The target of this machine's prebuilt Temporal core (the others' are left out). */
const coreBridgeTarget = (
  createRequire(import.meta.url)('@temporalio/core-bridge/common') as { getPrebuiltTargetName(): string }
).getPrebuiltTargetName();

/**
 * Packages of which the binary needs a part: from the Scalar API reference (whose dependencies
 * are the page's own), only the browser bundle the API serves at /docs/scalar.js (and the entry
 * file through which the API finds it); from Temporal's core, its JavaScript and this platform's
 * native module, not its Rust sources nor other platforms' modules.
 */
const parts: Record<string, { keep: (file: string) => boolean; followDependencies: boolean }> = {
  '@scalar/api-reference': {
    keep: (f) => ['package.json', 'dist/index.js', 'dist/browser/standalone.js'].includes(f),
    followDependencies: false,
  },
  '@temporalio/core-bridge': {
    keep: (f) =>
      /^(package\.json|index\.js|common\.js|lib\/.*)$/.test(f) || f === `releases/${coreBridgeTarget}/index.node`,
    followDependencies: true,
  },
};

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** Where `name` is found from `dir`, the way Node looks: up the node_modules folders, not past the checkout. */
function resolvePackage(dir: string, name: string): string | null {
  for (let d = dir; d.startsWith(root); d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return null;
}

/** The installed packages that the production dependencies need, transitively (folder → name). */
function productionPackages(): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (from: string, name: string, optional: boolean) => {
    if (omitted.has(name)) return;
    const dir = resolvePackage(from, name);
    if (!dir) {
      if (optional) return;
      throw new Error(`${name}, needed by ${path.relative(root, from) || 'gilfoyle'}, is not installed: run npm ci`);
    }
    if (found.has(dir)) return;
    found.set(dir, name);
    if (parts[name]?.followDependencies === false) return;
    const pkg = readJson<PackageJson>(path.join(dir, 'package.json'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dir, dep, false);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dir, dep, true);
    // npm installs required peers; optional ones are the user's choice (and loaded only if present).
    for (const dep of Object.keys(pkg.peerDependencies ?? {}))
      if (!pkg.peerDependenciesMeta?.[dep]?.optional) visit(dir, dep, true);
  };
  for (const dep of Object.keys(readJson<PackageJson>(path.join(root, 'package.json')).dependencies ?? {}))
    visit(root, dep, false);
  return found;
}

/** Copies one package's own files (not its nested node_modules: those are packages of their own). */
function copyPackage(dir: string, name: string) {
  const keep = parts[name]?.keep ?? (() => true);
  const target = path.join(app, path.relative(root, dir));
  cpSync(dir, target, {
    recursive: true,
    dereference: true,
    filter: (source) => {
      const rel = path.relative(dir, source).split(path.sep).join('/');
      if (rel === '') return true;
      if (rel === 'node_modules' || rel.startsWith('node_modules/')) return false;
      if (statSync(source).isDirectory()) return true;
      return keep(rel) && !unused.test(rel);
    },
  });
}

function stage() {
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  // A build of its own, without source maps (they point at sources the binary does not carry).
  execFileSync(
    process.execPath,
    [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      path.join(app, 'dist'),
      '--sourceMap',
      'false',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  cpSync(path.join(root, 'src/db/migrations'), path.join(app, 'dist/db/migrations'), { recursive: true });
  cpSync(path.join(root, 'admin/dist'), path.join(app, 'admin/dist'), { recursive: true });
  const { name, version, type } = readJson<PackageJson & { type: string }>(path.join(root, 'package.json'));
  writeFileSync(path.join(app, 'package.json'), `${JSON.stringify({ name, version, type, private: true }, null, 2)}\n`);
  step('compiled');
  const packages = productionPackages();
  for (const [dir, name] of packages) copyPackage(dir, name);
  step(`copied ${packages.size} production packages`);
}

/** The workflow code, bundled by the staged app itself, with the options a worker run from a checkout bundles with. */
async function bundleWorkflows() {
  const code = (await import(
    pathToFileURL(path.join(app, 'dist/cli/workflow-code.js')).href
  )) as typeof import('../src/cli/workflow-code.ts');
  const { DefaultLogger } = createRequire(path.join(app, 'package.json'))(
    '@temporalio/worker',
  ) as typeof import('@temporalio/worker');
  writeFileSync(code.prebuiltBundlePath, await code.bundleWorkflows(new DefaultLogger('WARN')));
  step('bundled the workflow code');
}

/**
 * The staged tree as one buffer: a little-endian uint32 header length, the header (JSON: [path,
 * size, mode] of each file) and the files' bytes one after another, in the header's order.
 */
function archive(): Buffer {
  const files = (readdirSync(app, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => statSync(path.join(app, f)).isFile())
    .sort();
  const contents = files.map((f) => readFileSync(path.join(app, f)));
  const header = Buffer.from(
    JSON.stringify(files.map((f, i) => [f, contents[i]!.length, statSync(path.join(app, f)).mode & 0o777])),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([length, header, ...contents]);
}

interface Build {
  /** The cache folder's name: the version and a hash of the archive, so each build unpacks once. */
  key: string;
  /** The commit it was built from, for /healthz and the logs (the unpacked tree is no checkout). */
  commit: string;
}

/**
 * The binary's main script: CommonJS, and its `require` loads only Node's built-ins. It unpacks
 * the archive (the SEA asset "app") into $XDG_CACHE_HOME/gilfoyle/<key> (~/.cache by default)
 * unless a start did already: into a temporary folder renamed into place, so a start that is
 * interrupted, or two at once, never leave a half-unpacked tree. Then it imports
 * dist/cli/main.js through boot.cjs, a file on disk (a file's `import()` loads files; the main
 * script's cannot).
 */
function launcher(require: NodeJS.Require, build: Build) {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const { createRequire } = require('node:module') as typeof import('node:module');
  const { getRawAsset } = require('node:sea') as typeof import('node:sea');
  const { pathToFileURL } = require('node:url') as typeof import('node:url');
  const { brotliDecompressSync } = require('node:zlib') as typeof import('node:zlib');

  const xdg = process.env.XDG_CACHE_HOME;
  const home = os.homedir();
  const cache =
    xdg && path.isAbsolute(xdg)
      ? path.join(xdg, 'gilfoyle')
      : home
        ? path.join(home, '.cache', 'gilfoyle')
        : path.join(os.tmpdir(), `gilfoyle-${os.userInfo().uid}`);
  const dir = path.join(cache, build.key);
  if (!fs.existsSync(dir)) {
    let tmp: string | undefined;
    try {
      fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
      tmp = fs.mkdtempSync(path.join(cache, `.${build.key}-`));
      const data = brotliDecompressSync(Buffer.from(getRawAsset('app')));
      const headerEnd = 4 + data.readUInt32LE(0);
      let offset = headerEnd;
      for (const [name, size, mode] of JSON.parse(data.subarray(4, headerEnd).toString()) as [
        string,
        number,
        number,
      ][]) {
        const file = path.join(tmp, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, data.subarray(offset, offset + size), { mode });
        offset += size;
      }
      try {
        fs.renameSync(tmp, dir);
      } catch (err) {
        if (!fs.existsSync(dir)) throw err; // else another start unpacked it first
      }
    } catch (err) {
      process.stderr.write(
        `gilfoyle: cannot unpack into ${cache} (set XDG_CACHE_HOME to a writable folder): ${(err as Error).message}\n`,
      );
      process.exit(1);
    } finally {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (build.commit && !process.env.GILFOYLE_COMMIT) process.env.GILFOYLE_COMMIT = build.commit;
  const boot = createRequire(path.join(dir, 'package.json'))('./boot.cjs') as (url: string) => Promise<unknown>;
  boot(pathToFileURL(path.join(dir, 'dist/cli/main.js')).href).catch((err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}

function commit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  try {
    return git('rev-parse', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '-dirty' : '');
  } catch {
    return '';
  }
}

/** Runs a build tool quietly (postject's ELF library warns about every binary): its output only when it fails. */
function quietly(args: string[]) {
  try {
    execFileSync(process.execPath, args, { cwd: root, stdio: 'pipe' });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
    process.stderr.write(`${stdout ?? ''}${stderr ?? ''}`);
    throw err;
  }
}

/** This Node.js with the blob injected: the binary. */
function inject(blob: string) {
  const tmp = `${output}.tmp`;
  mkdirSync(path.dirname(output), { recursive: true });
  cpSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  quietly([postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
  renameSync(tmp, output);
}

if (process.platform !== 'linux') {
  console.error('package: the binary is built on Linux (for the platform it runs on)');
  process.exit(1);
}
stage();
await bundleWorkflows();
writeFileSync(
  path.join(app, 'boot.cjs'),
  "// The binary's launcher requires this file to import the app: its own import() loads no files.\nmodule.exports = (url) => import(url);\n",
);
const packed = brotliCompressSync(archive(), {
  params: { [zlib.BROTLI_PARAM_QUALITY]: 6, [zlib.BROTLI_PARAM_LGWIN]: 24 },
});
const assetFile = path.join(work, 'app.bin');
writeFileSync(assetFile, packed);
const { version } = readJson<PackageJson>(path.join(app, 'package.json'));
const build: Build = {
  key: `${version}-${createHash('sha256').update(packed).digest('hex').slice(0, 16)}`,
  commit: commit(),
};
step(`packed the app into ${(packed.length / 2 ** 20).toFixed(1)} MiB`);
const main = path.join(work, 'main.cjs');
writeFileSync(main, `(${launcher.toString()})(require, ${JSON.stringify(build)});\n`);
const blob = path.join(work, 'sea.blob');
const seaConfig = path.join(work, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, assets: { app: assetFile } }, null, 2),
);
quietly(['--experimental-sea-config', seaConfig]);
inject(blob);
step(`wrote ${path.relative(root, output)}, ${(statSync(output).size / 2 ** 20).toFixed(0)} MiB`);
