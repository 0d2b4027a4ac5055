import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Resource } from '@opentelemetry/resources';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundleOptions } from '../../src/cli/workflow-code.ts';
import { repoRoot } from '../helpers/services.ts';

/**
 * The saved histories of the last release (test/histories, `npm run histories:refresh`) replayed
 * against the current workflow code, bundled as a worker bundles it: a change of the workflow
 * code that a run in flight would trip on (a command added, removed or reordered without a
 * patched() guard) is a non-determinism error here, before any deployment sees it.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

const dir = path.join(repoRoot, 'test/histories');
const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
  from: string;
  cases: Record<string, string[]>;
};

it('keeps the histories of every main path: short, chunked, audio, errored, retry, cancel, a webhook delivery', async () => {
  expect(Object.keys(manifest.cases).sort()).toEqual([
    'audio',
    'cancel',
    'chunked',
    'errored',
    'retry',
    'short',
    'webhook',
  ]);
  const files = (await readdir(dir)).filter((f) => f !== 'manifest.json');
  expect(files.sort()).toEqual(Object.values(manifest.cases).flat().sort());
  // The chunked media's history includes its per-rendition children, which encode in chunks.
  expect(manifest.cases['chunked']!.some((f) => f.includes('encodeRenditionInChunks'))).toBe(true);
});

it(`replays the ${Object.values(manifest.cases).flat().length} histories of ${manifest.from} without a non-determinism error`, async () => {
  const { code } = await bundleWorkflowCode(workflowBundleOptions);
  const histories = await Promise.all(
    Object.values(manifest.cases)
      .flat()
      .map(async (file) => ({ workflowId: file, history: JSON.parse(await readFile(path.join(dir, file), 'utf8')) })),
  );
  const failures: string[] = [];
  let replayed = 0;
  for await (const r of Worker.runReplayHistories(
    // The workers' span sink, registered as they register it (its spans are not exported on replay).
    { workflowBundle: { code }, sinks: { exporter: makeWorkflowExporter(new NoopSpanProcessor(), new Resource({})) } },
    histories,
  )) {
    replayed++;
    if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
}, 120_000);
