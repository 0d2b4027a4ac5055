import { setTimeout as sleep } from 'node:timers/promises';

/** How long, and how, an operation waits out an outage of a service it needs. */
export interface PatienceOptions {
  /**
   * How long one operation may wait for the service to come back before its error is thrown;
   * a function is asked at the start of each operation (an activity has only its time left).
   */
  patienceMs: number | (() => number);
  /** Called at each wait (a worker heartbeats its activity, so that the wait does not time it out). */
  onWait?: (err: unknown, waitedMs: number) => void;
  /** The caller's cancellation (an activity's): waiting stops at once when it is aborted. */
  signal?: () => AbortSignal | undefined;
  /** First pause between tries; it doubles up to maxPauseMs. */
  firstPauseMs?: number;
  maxPauseMs?: number;
}

/**
 * Runs `op`, and while it fails with an error `isOutage` recognises, tries again with backoff
 * for up to `patienceMs`. Any other error, or the outage outlasting the patience, is thrown.
 */
export async function waitOut<T>(
  op: () => Promise<T>,
  isOutage: (err: unknown) => boolean,
  o: PatienceOptions,
): Promise<T> {
  const started = Date.now();
  const patience = typeof o.patienceMs === 'function' ? o.patienceMs() : o.patienceMs;
  const signal = o.signal?.();
  for (let pause = o.firstPauseMs ?? 250; ; pause = Math.min(pause * 2, o.maxPauseMs ?? 5000)) {
    try {
      return await op();
    } catch (err) {
      const waited = Date.now() - started;
      if (!isOutage(err) || waited + pause > patience || signal?.aborted) throw err;
      o.onWait?.(err, waited);
      await sleep(pause, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
      signal?.throwIfAborted();
    }
  }
}

/** `p`, or a rejection once `ms` have passed without its answer (`p` itself runs on). */
export function withinMs<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
