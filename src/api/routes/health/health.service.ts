import type { DependencyState } from '../../deps.ts';

/** Whether `check` answers within `ms`. */
async function answers(check: () => Promise<unknown>, ms: number): Promise<DependencyState> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
    ]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Each dependency's state for /healthz: its check, run at once with the others, up when it answers within `ms`. */
export function dependencyChecks(checks: Record<string, () => Promise<unknown>>, ms = 2000) {
  return async (): Promise<Record<string, DependencyState>> =>
    Object.fromEntries(
      await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await answers(check, ms)] as const)),
    );
}
