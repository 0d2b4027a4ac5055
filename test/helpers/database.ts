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

/** Before a test run: the template made (or brought up to date), and databases earlier runs left behind dropped. */
export async function prepareTemplateDatabase(): Promise<void> {
  await onMaintenance(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2',
      [templateName, `${deploymentPrefix}%`],
    );
    for (const { datname } of rows.filter((r) => r.datname.startsWith(deploymentPrefix)))
      await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    if (!rows.some((r) => r.datname === templateName)) await c.query(`CREATE DATABASE ${templateName}`);
  });
  await migrate(urlOf(templateName));
}

/** A fresh database for one deployment, and how to drop it. */
export async function createDeploymentDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${deploymentPrefix}${Math.random().toString(36).slice(2, 10)}`;
  await onMaintenance(async (c) => {
    for (let tries = 0; ; tries++) {
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE ${templateName}`);
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
