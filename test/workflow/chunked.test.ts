import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { createActivities } from '../../src/activities/index.ts';
import { workflowsPath } from '../../src/cli/workflow-code.ts';
import { planChunks } from '../../src/domain/chunks.ts';
import { planRenditions, type EncodingLadder, type VideoRendition } from '../../src/domain/renditions.ts';
import { chunkedRenditionWorkflowIdOf, type ProcessMediaInput } from '../../src/domain/workflow.ts';
import {
  chunkWindow,
  encodeRenditionInChunks,
  type ChunkedRenditionInput,
} from '../../src/workflows/encode-in-chunks.ts';
import { defaultLadder, fakeVariant, videoProbe } from '../helpers/fixtures.ts';
import { temporalAddress } from '../helpers/services.ts';

/**
 * Long sources, chunked, through the real workflows on the real Temporal server (activities
 * replaced by instant fakes): every chunk of every rung encoded once, and every run's history
 * well under Temporal's limits (51,200 events; warnings from 10,240).
 */
type Activities = ReturnType<typeof createActivities>;
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Runs processMedia over a source of `duration` with fake instant activities; what was encoded and every run's history length. */
async function runChunked(duration: number, ladder: EncodingLadder, chunkSeconds: number) {
  const probe = { ...videoProbe(1920, 1080), duration };
  const plan = planRenditions(probe, ladder);
  const videos = plan.filter((r): r is VideoRendition => r.type === 'video');
  const encoded = new Map<string, number>();
  const activities = {
    async probeSource() {
      return { probe, plan };
    },
    async startProcessing() {},
    async encodeRendition({ rendition }) {
      return fakeVariant(rendition.name);
    },
    async encodeChunk({ rendition, chunk }) {
      const key = `${rendition.name} ${chunk.index}`;
      encoded.set(key, (encoded.get(key) ?? 0) + 1);
      return { chunk: chunk.index, segments: 3 };
    },
    async assembleRendition({ rendition }) {
      return fakeVariant(rendition.name);
    },
    async makePictures() {
      return [];
    },
    async makeDownload() {
      return 'download.mp4';
    },
    async finalizeMedia() {},
  } as Partial<Activities> as Activities;

  const taskQueue = `wf-chunked-${randomUUID()}`;
  const input: ProcessMediaInput = {
    mediaId: randomUUID(),
    sourceKey: 'medias/x/source',
    kind: 'video',
    ladder,
    maxAttempts: 3,
    encodeTaskQueue: `${taskQueue}-encode`,
    encodeTimeoutSeconds: 60,
    pictures: { posterAt: 0.1, storyboard: null },
    chunking: { chunkSeconds, thresholdSeconds: 30 },
  };
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  try {
    const main = await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities });
    const encoders = await Worker.create({
      connection,
      taskQueue: input.encodeTaskQueue,
      activities,
      maxConcurrentActivityTaskExecutions: 200,
    });
    const workflowId = `media-${input.mediaId}`;
    await main.runUntil(
      encoders.runUntil(async () => {
        const handle = await client.workflow.start('processMedia', { taskQueue, workflowId, args: [input] });
        await handle.result();
      }),
    );
    const expected = videos.flatMap((r) => planChunks(duration, r, chunkSeconds).map((c) => `${r.name} ${c.index}`));
    // Every run's history: the parent's, and each run of each rendition's child workflow.
    const lengths: Record<string, number[]> = {};
    const historyOf = async (id: string, runId?: string) =>
      (await client.workflow.getHandle(id, runId).fetchHistory()).events?.length ?? 0;
    lengths.parent = [await historyOf(workflowId)];
    for (const r of videos) {
      const id = chunkedRenditionWorkflowIdOf(input.mediaId, r.name);
      const runs: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = "${id}"` })) runs.push(w.runId);
      lengths[r.name] = await Promise.all(runs.map((runId) => historyOf(id, runId)));
    }
    process.stdout.write(`history events of a ${duration / 3600} h source: ${JSON.stringify(lengths)}\n`);
    return { encoded, expected, lengths };
  } finally {
    await client.connection.close();
    await connection.close();
  }
}

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
}, 120_000);

const encodedOnce = ({ encoded, expected }: Awaited<ReturnType<typeof runChunked>>) => {
  expect([...encoded.keys()].sort()).toEqual([...expected].sort());
  expect([...encoded.values()].every((n) => n === 1)).toBe(true);
};

/** Hours of the long source (3 in npm run test:chaos; 1 in npm test, which has less time). */
const hours = Number(process.env.HISTORY_HOURS ?? 1);

it(`encodes a ${hours}-hour source chunk by chunk (default ladder and chunks) with every history well under the limits`, async () => {
  const run = await runChunked(hours * 3600, defaultLadder, 12);
  expect(run.expected).toHaveLength(4 * 300 * hours);
  encodedOnce(run);
  const all = Object.values(run.lengths).flat();
  expect(Math.max(...all)).toBeLessThan(10_240);
  expect(run.lengths.parent![0]).toBeLessThan(200);
}, 900_000);

it('continues a rendition of many chunks as new, every run within its history budget, every chunk once', async () => {
  const rendition = planRenditions(videoProbe(640, 360), defaultLadder).find(
    (r): r is VideoRendition => r.type === 'video',
  )!;
  const chunks = planChunks(1200, rendition, 4);
  const encoded = new Map<number, number>();
  const activities = {
    async encodeChunk({ chunk }) {
      encoded.set(chunk.index, (encoded.get(chunk.index) ?? 0) + 1);
      return { chunk: chunk.index, segments: 1 };
    },
    async assembleRendition({ rendition: r }) {
      return {
        type: 'video',
        name: r.name,
        playlist: 'p',
        init: 'i',
        segments: [],
        bandwidth: 1,
        averageBandwidth: 1,
        codecs: 'x',
      };
    },
  } as Partial<Activities> as Activities;
  const taskQueue = `wf-can-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  try {
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities });
    const workflowId = `chunks-${randomUUID()}`;
    const budget = 400;
    await worker.runUntil(async () => {
      const input: ChunkedRenditionInput = {
        mediaId: randomUUID(),
        sourceKey: 'medias/x/source',
        rendition,
        duration: 1200,
        chunkSeconds: 4,
        encode: { encodeTaskQueue: taskQueue, encodeTimeoutSeconds: 60, maxAttempts: 3 },
        priorityKey: 2,
        historyBudget: budget,
      };
      await (await client.workflow.start(encodeRenditionInChunks, { taskQueue, workflowId, args: [input] })).result();
    });
    expect([...encoded.keys()].sort((a, b) => a - b)).toEqual(chunks.map((c) => c.index));
    expect([...encoded.values()].every((n) => n === 1)).toBe(true);
    const lengths: number[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      lengths.push((await client.workflow.getHandle(workflowId, w.runId).fetchHistory()).events?.length ?? 0);
    }
    expect(lengths.length).toBeGreaterThan(1);
    // A run stops handing out chunks at its budget, then waits for those in flight (a window's worth).
    for (const n of lengths) expect(n).toBeLessThan(budget + 4 * chunkWindow);
  } finally {
    await client.connection.close();
    await connection.close();
  }
}, 300_000);
