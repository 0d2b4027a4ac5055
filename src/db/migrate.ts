import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Applies every pending migration. node-pg-migrate holds an advisory lock while it does; a
 * process starting at the same time as another (an API and workers scaled out) waits for it,
 * then finds nothing left to apply, instead of failing to start.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    advisoryLockMode: 'wait',
    log,
    verbose: false,
  } as Parameters<typeof runner>[0]);
  return applied.map((m) => m.name);
}
