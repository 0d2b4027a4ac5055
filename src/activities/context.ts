import { Context } from '@temporalio/activity';

/** Activity context when running inside Temporal; null when called directly. */
export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Heartbeats every few seconds while `fn` runs, so silent stretches (downloads, remuxes) do not time out. */
export async function withHeartbeat<T>(ctx: Context | null, details: () => unknown, fn: () => Promise<T>): Promise<T> {
  const timer = ctx ? setInterval(() => ctx.heartbeat(details()), 5000) : null;
  try {
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}
