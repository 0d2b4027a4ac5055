import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { waitFor } from './services.ts';

/** The runs of a media's workflow, as the Temporal server lists them. */
export async function runsOf(temporal: Client, mediaId: string): Promise<{ runId: string; status: string }[]> {
  const runs: { runId: string; status: string }[] = [];
  for await (const w of temporal.workflow.list({ query: `WorkflowId = "media-${mediaId}"` })) runs.push({ runId: w.runId, status: w.status.name });
  return runs;
}

/**
 * The runs once none is RUNNING: a media is marked Ready or Errored just before its run
 * closes, and Temporal's list is eventually consistent.
 */
export const closedRunsOf = (temporal: Client, mediaId: string, timeoutMs = 30_000) =>
  waitFor(`the runs of media-${mediaId} to be listed as closed`, async () => {
    const runs = await runsOf(temporal, mediaId);
    return runs.length > 0 && runs.every((r) => r.status !== 'RUNNING') ? runs : undefined;
  }, timeoutMs);

/** pids of the ffmpeg processes working in a worker's temp folder. */
export const ffmpegsIn = async (tempDir: string) =>
  (await execa('pgrep', ['-f', `ffmpeg.*${tempDir}`], { reject: false })).stdout.split('\n').filter(Boolean);
