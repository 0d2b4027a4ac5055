import { migrate } from '../../../src/db/migrate.ts';
import { testDatabaseUrl } from '../../helpers/services.ts';

/** Several processes starting at once (an API and workers scaled out) each apply the migrations. */
it('lets concurrent starts migrate one after the other instead of failing on the lock', async () => {
  const runs = await Promise.allSettled(Array.from({ length: 6 }, () => migrate(testDatabaseUrl)));
  expect(runs.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(Array(6).fill('ok'));
});
