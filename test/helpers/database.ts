import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { testDatabaseUrl } from './services.ts';

/**
 * Each Gilfoyle a test starts gets a database of its own, as it gets its own queue and task
 * queue: its outbox relay then publishes only its own deployment's messages. The databases are
 * copies of one migrated template (fast: no migration per start).
 */
const templateName = 'gilfoyle_template';
const deploymentPrefix = 'gilfoyle_t_';
const urlOf = (database: string) => Object.assign(new URL(testDatabaseUrl), { pathname: `/${database}` }).toString();

async function onMaintenance<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A deployment database is named after the time it was made, so that a later run can tell an old one. */
const bornOf = (name: string) => Number(/^gilfoyle_t_(\d+)_/.exec(name)?.[1] ?? 0) * 1000;
const leftBehindAfterMs = 2 * 60 * 60 * 1000;

/**
 * Before a test run: the template made (or brought up to date), and databases that earlier runs
 * left behind (killed before their afterAll) dropped: those older than two hours and unused, so
 * that a run going on in another checkout keeps its own.
 */
export async function prepareTemplateDatabase(): Promise<void> {
  await onMaintenance(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2',
      [templateName, `${deploymentPrefix}%`],
    );
    const old = rows.filter(
      (r) => r.datname.startsWith(deploymentPrefix) && Date.now() - bornOf(r.datname) > leftBehindAfterMs,
    );
    for (const { datname } of old) await c.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => undefined);
    if (!rows.some((r) => r.datname === templateName)) await c.query(`CREATE DATABASE ${templateName}`);
  });
  await migrate(urlOf(templateName));
}

/** A fresh database for one deployment, and how to drop it. */
export async function createDeploymentDatabase({ empty = false }: { empty?: boolean } = {}): Promise<{
  url: string;
  drop(): Promise<void>;
}> {
  const name = `${deploymentPrefix}${Math.floor(Date.now() / 1000)}_${Math.random().toString(36).slice(2, 8)}`;
  await onMaintenance(async (c) => {
    for (let tries = 0; ; tries++) {
      try {
        // Empty: for a release that migrates it itself (test/e2e/rolling-upgrade.test.ts).
        await c.query(empty ? `CREATE DATABASE "${name}"` : `CREATE DATABASE "${name}" TEMPLATE ${templateName}`);
        return;
      } catch (err) {
        // Another copy of the template starting at the same moment: try again shortly.
        if (tries >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    url: urlOf(name),
    drop: () =>
      onMaintenance(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))).catch(
        () => undefined,
      ),
  };
}
