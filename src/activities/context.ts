import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';

/** Activity context when running inside Temporal; null when called directly. */
export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/**
 * Heartbeats every second while `fn` runs, so silent stretches (downloads, remuxes) do not time
 * out, and a cancel (which reaches an activity only in the answer to a heartbeat) stops its
 * ffmpeg within about a second or two, not after a chunk of a few seconds has run to its end.
 */
export async function withHeartbeat<T>(ctx: Context | null, details: () => unknown, fn: () => Promise<T>): Promise<T> {
  const timer = ctx ? setInterval(() => ctx.heartbeat(details()), 1000) : null;
  try {
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}

const mediaRun = new AsyncLocalStorage<string>();

/**
 * The workflow run that processes the media this activity works for: its own run's, or, for an
 * activity of a child workflow (a rendition encoded in chunks), the parent's, which the child
 * names and `forMediaRun` sets. Every guard against a late or stray write compares it with the
 * media's run id.
 */
export const mediaRunId = (ctx: Context | null): string | undefined =>
  mediaRun.getStore() ?? ctx?.info.workflowExecution?.runId;

/** Runs `fn` as working for the media's run `runId` (when given). */
export const forMediaRun = <T>(runId: string | undefined, fn: () => Promise<T>): Promise<T> =>
  runId ? mediaRun.run(runId, fn) : fn();
