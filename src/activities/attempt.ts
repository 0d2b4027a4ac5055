import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import type { Logger } from '../logger.ts';
import type { PatienceOptions } from '../patience.ts';
import { activityContext } from './context.ts';

/** What an activity attempt knows of its own time: when it started, how long it may still wait out an outage. */

/**
 * How long an operation of the current activity may wait out an outage: the configured
 * patience, but never past the attempt's start-to-close timeout (2 s before it). A short
 * bookkeeping activity (30 s) then fails and is retried as before, instead of timing out while
 * its first attempt still waits and could still write alongside the second.
 */
export function patienceLeft(configuredMs: number): number {
  const ctx = activityContext();
  if (!ctx?.info.startToCloseTimeoutMs) return configuredMs;
  const started = attemptStarted.get(ctx) ?? ctx.info.currentAttemptScheduledTimestampMs;
  const left = started + ctx.info.startToCloseTimeoutMs - Date.now() - 2000;
  return Math.max(0, Math.min(configuredMs, left));
}

/**
 * When each activity attempt started on this worker: its start-to-close timer runs from then,
 * not from when it was scheduled (a ladder encode may wait long in the queue).
 */
const attemptStarted = new WeakMap<Context, number>();
export const attemptStartInterceptor = (ctx: Context): ActivityInterceptors => {
  attemptStarted.set(ctx, Date.now());
  return {};
};

/**
 * How the activities of a worker wait out an outage of `service` (the database, the store): for
 * up to `patienceSeconds`, within the attempt's timeout, heartbeating, and not once cancelled.
 */
export const outagePatience =
  (patienceSeconds: number, heartbeatTimeoutSeconds: number, logger: Logger) =>
  (service: string): PatienceOptions => ({
    patienceMs: () => patienceLeft(patienceSeconds * 1000),
    // Heartbeats at each try, often enough for the heartbeat timeout.
    maxPauseMs: Math.min(5000, (heartbeatTimeoutSeconds * 1000) / 2),
    // A cancelled activity (cancel, or its run terminated, learnt through the heartbeat) stops waiting.
    signal: () => activityContext()?.cancellationSignal,
    onWait: (err, waitedMs) => {
      activityContext()?.heartbeat();
      logger.warn({ err: (err as Error).message, waitedMs }, `${service} unavailable: waiting for it`);
    },
  });
