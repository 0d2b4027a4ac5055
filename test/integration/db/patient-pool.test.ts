import net from 'node:net';
import { createPool, isDatabaseUnavailable, patientPool, type Db } from '../../../src/db/pool.ts';
import { freePort, testDatabaseUrl } from '../../helpers/services.ts';

/**
 * The worker's pool waits out a database outage. The outage is a real one as the pool sees it:
 * it talks to the real Postgres through a TCP relay on another port, which is closed (connection
 * refused) until the test opens it.
 */
const target = new URL(testDatabaseUrl);
let port: number;
let relay: net.Server | null = null;
const pools: Db[] = [];

function openRelay(): Promise<void> {
  relay = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    client.pipe(upstream).pipe(client);
    const end = () => (client.destroy(), upstream.destroy());
    client.on('error', end);
    upstream.on('error', end);
  });
  return new Promise((resolve) => relay!.listen(port, '127.0.0.1', resolve));
}

const poolThroughRelay = () => {
  const url = new URL(testDatabaseUrl);
  url.port = String(port);
  const pool = createPool(url.toString(), 2);
  pools.push(pool);
  return pool;
};

beforeEach(async () => {
  port = await freePort();
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
  await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
  relay = null;
});

it('waits for a database that comes back, and says so at each wait', async () => {
  const waits: number[] = [];
  const pool = patientPool(poolThroughRelay(), {
    patienceMs: 20_000,
    firstPauseMs: 100,
    onWait: (_err, waited) => waits.push(waited),
  });
  setTimeout(() => void openRelay(), 1000);
  const started = Date.now();
  const { rows } = await pool.query<{ n: number }>('SELECT 41 + 1 AS n');
  expect(rows).toEqual([{ n: 42 }]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  expect(waits.length).toBeGreaterThanOrEqual(2);
  // Transactions take their client the same way.
  const client = await pool.connect();
  try {
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  } finally {
    client.release();
  }
});

it('gives up after its patience, with the database error', async () => {
  const pool = patientPool(poolThroughRelay(), { patienceMs: 600, firstPauseMs: 100 });
  const started = Date.now();
  const err = await pool.query('SELECT 1').catch((e: unknown) => e);
  expect(isDatabaseUnavailable(err)).toBe(true);
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(pool.connect()).rejects.toThrow();
});

it('throws other errors at once: a wrong query is not an outage', async () => {
  await openRelay();
  let waited = 0;
  const pool = patientPool(poolThroughRelay(), { patienceMs: 20_000, onWait: () => waited++ });
  await expect(pool.query('SELEKT 1')).rejects.toThrow(/syntax error/);
  expect(waited).toBe(0);
  // Everything else is the pool's own.
  expect(pool.options.max).toBe(2);
  expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  expect(pool.totalCount).toBe(1);
});
