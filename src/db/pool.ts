import pg from 'pg';
import { waitOut, type PatienceOptions } from '../patience.ts';

export type Db = pg.Pool;

export function createPool(url: string, max = 10): Db {
  // A database that does not answer fails a request within seconds rather than holding it.
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Whether the database answers a query. */
export const pingDatabase = async (db: Db) => {
  await db.query('SELECT 1');
};

/** Runs `fn` in one transaction on one client. */
export async function inTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions.
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** Whether an error means Postgres cannot be reached now (down, restarting), not that the query is wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; errors?: unknown[] } | null;
  if (!e) return false;
  if (e.code && unavailableCodes.has(e.code)) return true;
  // AggregateError of a connection to several addresses (127.0.0.1 and ::1).
  if (Array.isArray(e.errors) && e.errors.some(isDatabaseUnavailable)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    e.message ?? '',
  );
}

/**
 * The same pool, whose queries and connections wait out a database outage (down, restarting,
 * failing over) for up to `patienceMs`, trying again with backoff, instead of failing at once.
 * For workers: an encode that has done its work must not fail, and spend one of its attempts,
 * because Postgres restarted while it recorded the result. The API keeps the plain pool and
 * answers 503 at once. Errors that are not about reaching the database are thrown at once.
 */
export function patientPool(pool: Db, o: PatienceOptions): Db {
  const patiently = <T>(op: () => Promise<T>) => waitOut(op, isDatabaseUnavailable, o);
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (...args: Parameters<Db['query']>) =>
          patiently(() => (target.query as (...a: unknown[]) => Promise<unknown>)(...args));
      if (prop === 'connect') return () => patiently(() => target.connect());
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
