import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { waitFor } from './services.ts';

/** The runs of a media's workflow, as the Temporal server lists them. */
export async function runsOf(temporal: Client, mediaId: string): Promise<{ runId: string; status: string }[]> {
  const runs: { runId: string; status: string }[] = [];
  for await (const w of temporal.workflow.list({ query: `WorkflowId = "media-${mediaId}"` }))
    runs.push({ runId: w.runId, status: w.status.name });
  return runs;
}

/**
 * The runs once none is RUNNING: a media is marked Ready or Errored just before its run
 * closes, and Temporal's list is eventually consistent.
 */
export const closedRunsOf = (temporal: Client, mediaId: string, timeoutMs = 30_000) =>
  waitFor(
    `the runs of media-${mediaId} to be listed as closed`,
    async () => {
      const runs = await runsOf(temporal, mediaId);
      return runs.length > 0 && runs.every((r) => r.status !== 'RUNNING') ? runs : undefined;
    },
    timeoutMs,
  );

/**
 * pids of the ffmpeg processes working in a worker's temp folder: all of them, or only the
 * encodes writing a rendition's segments (`rendition` names it; '*' for any rendition).
 */
export const ffmpegsIn = async (tempDir: string, rendition?: string) => {
  const writing = rendition ? `.*/${rendition === '*' ? '[^/ ]*' : rendition}_%05d\\.m4s` : '';
  return (await execa('pgrep', ['-f', `ffmpeg.*${tempDir}${writing}`], { reject: false })).stdout
    .split('\n')
    .filter(Boolean);
};

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
 * An ffmpeg for a worker's `encoding.ffmpeg_path` that notes each run, then execs the real one:
 * its scheduling policy as it starts (SCHED_OTHER, or SCHED_IDLE for background work; inherited
 * from the launch chain) and its arguments. Unlike sampling /proc, it misses no run, however short.
 */
export async function loggingFfmpeg(dir: string) {
  const script = path.join(dir, 'ffmpeg-logged.sh');
  const log = path.join(dir, 'ffmpeg-runs.log');
  await writeFile(script, `#!/bin/sh\necho "$(cut -d' ' -f41 /proc/$$/stat) $*" >> '${log}'\nexec ffmpeg "$@"\n`);
  await chmod(script, 0o755);
  return {
    path: script,
    /** Every run so far, oldest first. */
    async runs(): Promise<{ policy: number; args: string }[]> {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const space = line.indexOf(' ');
          return { policy: Number(line.slice(0, space)), args: line.slice(space + 1) };
        });
    },
  };
}
