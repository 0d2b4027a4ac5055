import { withinMs } from '../../../patience.ts';
import type { DependencyState } from '../../deps.ts';

/** Whether `check` answers within `ms`. */
async function answers(check: () => Promise<unknown>, ms: number): Promise<DependencyState> {
  try {
    await withinMs(check(), ms);
    return 'up';
  } catch {
    return 'down';
  }
}

/** Each dependency's state for /healthz: its check, run at once with the others, up when it answers within `ms`. */
export function dependencyChecks(checks: Record<string, () => Promise<unknown>>, ms = 2000) {
  return async (): Promise<Record<string, DependencyState>> =>
    Object.fromEntries(
      await Promise.all(Object.entries(checks).map(async ([name, check]) => [name, await answers(check, ms)] as const)),
    );
}
