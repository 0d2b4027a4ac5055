import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { createActivities } from '../../src/activities/index.ts';
import { workflowsPath } from '../../src/cli/worker-role.ts';
import { planChunks } from '../../src/domain/chunks.ts';
import { planRenditions, type VideoRendition } from '../../src/domain/renditions.ts';
import { chunkedRenditionWorkflowIdOf, type ProcessMediaInput } from '../../src/domain/workflow.ts';
import type { VariantEntry } from '../../src/media/hls.ts';
import { historyBudget } from '../../src/workflows/encode-in-chunks.ts';
import { defaultLadder, videoProbe } from '../helpers/fixtures.ts';
import { temporalAddress } from '../helpers/services.ts';

/**
 * A 3-hour source, chunked with the default settings, through the real workflows on the real
 * Temporal server (activities replaced by instant fakes): every chunk of every rung encoded once,
 * and every run's history well under Temporal's limits (51,200 events; warnings from 10,240).
 */
type Activities = ReturnType<typeof createActivities>;
Runtime.install({ logger: new DefaultLogger('WARN') });

const duration = 3 * 3600;
const chunkSeconds = 12;
const probe = { ...videoProbe(1920, 1080), duration };
const plan = planRenditions(probe, defaultLadder);
const videos = plan.filter((r): r is VideoRendition => r.type === 'video');

it('encodes a 3-hour source chunk by chunk with bounded histories (child workflows, continued as new)', async () => {
  const encoded = new Map<string, number>();
  const variant = (name: string): VariantEntry => ({
    type: name === 'audio' ? 'audio' : 'video',
    name,
    playlist: `${name}.m3u8`,
    init: `${name}_init.mp4`,
    segments: [],
    bandwidth: 1,
    averageBandwidth: 1,
    codecs: 'x',
  });
  const activities = {
    async probeSource() {
      return { probe, plan };
    },
    async startProcessing() {},
    async encodeRendition({ rendition }) {
      return variant(rendition.name);
    },
    async encodeChunk({ rendition, chunk }) {
      const key = `${rendition.name} ${chunk.index}`;
      encoded.set(key, (encoded.get(key) ?? 0) + 1);
      return { chunk: chunk.index, segments: 3 };
    },
    async assembleRendition({ rendition }) {
      return variant(rendition.name);
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
    ladder: defaultLadder,
    maxAttempts: 3,
    encodeTaskQueue: `${taskQueue}-encode`,
    encodeTimeoutSeconds: 60,
    pictures: { posterAt: 0.1, storyboard: null },
    chunking: { chunkSeconds, thresholdSeconds: 30 },
  };
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const client = new Client({ connection: await Connection.connect({ address: temporalAddress }) });
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    const main = await Worker.create({ connection, taskQueue, workflowBundle, activities });
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

    // Every chunk of every rung, once.
    const expected = videos.flatMap((r) => planChunks(duration, r, chunkSeconds).map((c) => `${r.name} ${c.index}`));
    expect(expected).toHaveLength(4 * 900);
    expect([...encoded.keys()].sort()).toEqual([...expected].sort());
    expect([...encoded.values()].every((n) => n === 1)).toBe(true);

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
    const all = Object.values(lengths).flat();
    expect(Math.max(...all)).toBeLessThan(historyBudget + 1000);
    expect(Math.max(...all)).toBeLessThan(10_240);
    expect(lengths.parent![0]).toBeLessThan(200);
    // Continued as new: more than one run for a rung of 900 chunks.
    expect(lengths['1080p']!.length).toBeGreaterThan(1);
  } finally {
    await client.connection.close();
    await connection.close();
  }
}, 600_000);
