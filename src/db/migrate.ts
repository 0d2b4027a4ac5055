import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

/** Applies every pending migration (node-pg-migrate holds an advisory lock, so concurrent starts are safe). */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    log,
    verbose: false,
  } as Parameters<typeof runner>[0]);
  return applied.map((m) => m.name);
}
