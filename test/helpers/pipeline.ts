import { readFile } from 'node:fs/promises';
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

/** pids of the ffmpeg processes working in a worker's temp folder (only those writing one rendition, if named). */
export const ffmpegsIn = async (tempDir: string, rendition?: string) =>
  (await execa('pgrep', ['-f', `ffmpeg.*${tempDir}${rendition ? `.*/${rendition}_` : ''}`], { reject: false })).stdout.split('\n').filter(Boolean);

/**
 * A process's /proc/<pid>/stat fields after its command name, so that index 0 is field 3, the
 * state (R, S, T for stopped…), and index 38 is field 41, the scheduling policy.
 */
export async function procStat(pid: number | string): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Linux scheduling policies, as /proc/<pid>/stat numbers them. */
export const SCHED_OTHER = 0;
export const SCHED_IDLE = 5;

/**
 * Watches a worker's ffmpeg processes every 50 ms until `stop` is called, and returns each one
 * seen with its command line and scheduling policy (SCHED_OTHER, or SCHED_IDLE for background work).
 */
export function watchFfmpegs(tempDir: string) {
  const seen = new Map<string, { args: string; policy: number }>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const pid of await ffmpegsIn(tempDir)) {
        if (seen.has(pid)) continue;
        try {
          const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
          const policy = Number((await procStat(pid))[38]);
          if (args.startsWith('ffmpeg') || args.includes('/ffmpeg')) seen.set(pid, { args, policy });
        } catch {
          // Gone already.
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return [...seen.values()];
    },
  };
}
