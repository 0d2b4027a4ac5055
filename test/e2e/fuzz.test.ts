import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { artifactsDir } from '../helpers/browser.ts';
import { startGilfoyle, type RunningGilfoyle } from '../helpers/gilfoyle.ts';
import { repoRoot } from '../helpers/services.ts';

/**
 * Schemathesis fuzzes a running Gilfoyle from its own /openapi.json (API keys configured, so
 * authentication is exercised too): no 5xx, every answer as documented, in every phase:
 * examples, coverage, fuzzing, and stateful sequences that follow the document's links (create →
 * upload → get → delete). Every run takes a new seed and prints it: FUZZ_SEED=<seed> replays a
 * run. Examples per operation: FUZZ_MAX_EXAMPLES (40 by default: about 80 s alone here, three
 * times that while the other Jest worker runs ffmpeg-heavy suites).
 */
const seed = process.env.FUZZ_SEED || String(randomInt(1, 2 ** 31));
const st = path.join(repoRoot, '.tools/schemathesis/bin/st');
const key = 'fuzz-key-0123456789abcdef';
const runBudget = 480_000;
let g: RunningGilfoyle;

beforeAll(async () => {
  g = await startGilfoyle({
    GILFOYLE_AUTH_API_KEYS: JSON.stringify([{ name: 'fuzz', key }]),
    GILFOYLE_AUTH_UPLOADS_PER_MINUTE: '0',
    GILFOYLE_PLAYBACK_SIGNING_SECRET: 'f'.repeat(40),
    GILFOYLE_ENCODING_RENDITIONS: JSON.stringify([{ name: '240p', height: 240, video_bitrate: 300 }]),
    GILFOYLE_ENCODING_PRESET: 'ultrafast',
    // An event stream of a media that never settles would last until the request timeout.
    GILFOYLE_EVENTS_STREAM_MAX_SECONDS: '1',
    GILFOYLE_LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'warn',
  });
}, 120_000);
afterAll(() => g?.stop());

it(
  'finds no server error and no answer that contradicts the OpenAPI document',
  async () => {
    process.stdout.write(`schemathesis seed ${seed} (replay: FUZZ_SEED=${seed} npm test -- test/e2e/fuzz.test.ts)\n`);
    const run = await execa(
      st,
      [
        '--config-file',
        path.join(repoRoot, 'test/fuzz/schemathesis.toml'),
        'run',
        `${g.url}/openapi.json`,
        '--checks',
        'all',
        '--max-examples',
        process.env.FUZZ_MAX_EXAMPLES ?? '40',
        '--seed',
        seed,
        '--workers',
        '1',
        '--header',
        `Authorization: Bearer ${key}`,
        '--request-timeout',
        '20',
        '--no-color',
      ],
      { reject: false, all: true, cwd: repoRoot, env: { SCHEMATHESIS_TELEMETRY: 'false' }, timeout: runBudget },
    );
    if (run.timedOut) {
      const phases = run.all.split('\n').filter((l) => /✅|❌/.test(l) && /\(in [\d.]+s\)/.test(l));
      throw new Error(
        `schemathesis did not finish within ${runBudget / 1000} s (seed ${seed}); phases done:\n${phases.join('\n')}`,
      );
    }
    await mkdir(artifactsDir, { recursive: true });
    await writeFile(path.join(artifactsDir, 'schemathesis.txt'), run.all);
    await writeFile(path.join(artifactsDir, 'schemathesis-gilfoyle.log'), g.logs());
    const summary = run.all
      .split('\n')
      .filter((l) => /generated|failures|Seed:|❌|passed/.test(l))
      .join('\n');
    process.stdout.write(`schemathesis:\n${summary}\n`);
    if (run.exitCode !== 0) {
      throw new Error(
        `schemathesis found problems (seed ${seed}, FUZZ_SEED=${seed} replays it):\n${run.all.slice(-6000)}`,
      );
    }
    expect(run.all).toMatch(/\d+ generated/);
    // The server lived through it, and never answered 500.
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect(g.logs()).not.toContain('"msg":"unhandled error"');
  },
  runBudget + 60_000,
);
