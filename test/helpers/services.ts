import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The local services `npm run services` starts (scripts/services.sh). */
export const testDatabaseUrl = 'postgres://gilfoyle:gilfoyle@127.0.0.1:5432/gilfoyle_test';
export const rabbitUrl = 'amqp://guest:guest@127.0.0.1:5672';
export const temporalAddress = '127.0.0.1:7233';
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export type ServiceName = 'postgres' | 'rabbitmq' | 'temporal' | 'minio';

/** Stops or starts one of the shared local services (fault-injection tests); start waits until it answers. */
export async function controlService(action: 'stop' | 'start', service: ServiceName): Promise<void> {
  const { execa } = await import('execa');
  await execa('bash', [path.join(repoRoot, 'scripts/services.sh'), action, service], {
    stdio: 'ignore',
    timeout: 120_000,
  });
}
