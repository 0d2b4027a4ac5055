import { randomUUID } from 'node:crypto';
import { createStreamCache, mediaChannel, type StreamCache } from '../../../src/api/stream-cache.ts';
import { createMediaRepository, type MediaRepository } from '../../../src/db/medias.ts';
import { migrate } from '../../../src/db/migrate.ts';
import { createPool, type Db } from '../../../src/db/pool.ts';
import { MediaStatus } from '../../../src/domain/status.ts';
import { testDatabaseUrl, waitFor } from '../../helpers/services.ts';

/**
 * The API's stream cache against the real Postgres: what it keeps of a media is dropped when any
 * process changes what a stream request depends on (its status, privacy, its rows being deleted,
 * its attachments), through the triggers of migration 10 and LISTEN; progress ticks keep it.
 */
let db: Db;
let other: Db;
let medias: MediaRepository;
let cache: StreamCache;
let loads: string[];

beforeAll(async () => {
  await migrate(testDatabaseUrl);
  db = createPool(testDatabaseUrl, 4);
  // The changes come through another pool, as from another process.
  other = createPool(testDatabaseUrl, 2);
  medias = createMediaRepository(db);
  loads = [];
  cache = createStreamCache({
    load: (id) => {
      loads.push(id);
      return medias.get(id);
    },
    db,
  });
  await waitFor('the stream cache to listen', async () => (cache.live ? true : undefined), 10_000, 20);
});
afterAll(async () => {
  await cache?.stop();
  await other?.end();
  await db?.end();
});

const loadsOf = (id: string) => loads.filter((l) => l === id).length;

/**
 * Creates a media and returns once its insert's notification has been delivered (to a listener
 * of the test's own, and a moment later to the cache's), so that it cannot arrive mid-test and
 * make the cache forget what the test expects it to keep.
 */
async function createSettled(id: string, title: string) {
  const client = await other.connect();
  try {
    const notified = new Promise<void>((resolve) =>
      client.on('notification', (n) => {
        if (n.payload === id) resolve();
      }),
    );
    await client.query(`LISTEN ${mediaChannel}`);
    await createMediaRepository(other).create(id, title);
    await notified;
    await client.query(`UNLISTEN ${mediaChannel}`);
  } finally {
    client.release();
  }
  await new Promise((r) => setTimeout(r, 100));
}

/** Waits until the cache reads the media again (a notification made it forget), at most a second. */
async function forgottenWithinASecond(id: string, before: number) {
  const started = Date.now();
  await waitFor(
    `media ${id} to be read again`,
    async () => {
      await cache.media(id);
      return loadsOf(id) > before ? true : undefined;
    },
    1000,
    10,
  );
  return Date.now() - started;
}

it('keeps a media between requests, and forgets it within a second of a change by another process', async () => {
  const id = randomUUID();
  const changes = createMediaRepository(other);
  await createSettled(id, 'cached');
  await cache.media(id);
  await cache.media(id);
  await cache.media(id);
  expect(loadsOf(id)).toBe(1);

  // A progress tick is not a change a stream request cares about: kept.
  await other.query('UPDATE medias SET progress = 40 WHERE id = $1', [id]);
  await new Promise((r) => setTimeout(r, 200));
  await cache.media(id);
  expect(loadsOf(id)).toBe(1);

  // Made private: forgotten, and read again as private.
  await changes.update(id, { private: true });
  await forgottenWithinASecond(id, 1);
  expect((await cache.media(id))?.private).toBe(true);

  // Its status changes (a retry, a re-processing): forgotten.
  const n = loadsOf(id);
  await other.query('UPDATE medias SET status = $2, playable = true WHERE id = $1', [id, MediaStatus.Processing]);
  await forgottenWithinASecond(id, n);
  expect((await cache.media(id))?.playable).toBe(true);

  // Deleted: forgotten, and then not found.
  const m = loadsOf(id);
  await changes.delete(id);
  await forgottenWithinASecond(id, m);
  expect(await cache.media(id)).toBeNull();
});

it('forgets what it derived from a media’s other rows when they change (text tracks)', async () => {
  const id = randomUUID();
  await createSettled(id, 'tracks');
  let derivations = 0;
  const tracks = () =>
    cache.derived(id, 'tracks', async () => {
      derivations++;
      const { rows } = await db.query('SELECT key FROM attachments WHERE media_id = $1', [id]);
      return rows.map((r: { key: string }) => r.key);
    });
  await cache.media(id);
  expect(await tracks()).toEqual([]);
  expect(await tracks()).toEqual([]);
  expect(derivations).toBe(1);
  await other.query(
    `INSERT INTO attachments (media_id, key, kind, language, label, content_type, size, storage_key, origin)
     VALUES ($1, 'en', 'subtitles', 'en', 'English', 'text/vtt', 10, 'k', 'upload')`,
    [id],
  );
  await waitFor('the new track to be seen', async () => ((await tracks()).length ? true : undefined), 1000, 10);
  expect(await tracks()).toEqual(['en']);
});

it('keeps nothing while it cannot listen, and reads everything again once it listens again', async () => {
  const id = randomUUID();
  await medias.create(id, 'lost connection');
  await cache.media(id);
  const before = loadsOf(id);
  // The listening connection is cut, as by a Postgres restart or a network failure.
  await other.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN gilfoyle_media%' AND pid <> pg_backend_pid()`,
  );
  await waitFor('the cache to notice', async () => (cache.live ? undefined : true), 5000, 10);
  await cache.media(id);
  await cache.media(id);
  expect(loadsOf(id)).toBe(before + 2);
  await waitFor('the cache to listen again', async () => (cache.live ? true : undefined), 10_000, 50);
  await cache.media(id);
  const after = loadsOf(id);
  await cache.media(id);
  expect(loadsOf(id)).toBe(after);
});

it('does not keep a read that a change of its media overtook, but keeps one that another media’s change crossed', async () => {
  const id = randomUUID();
  await createSettled(id, 'overtaken');
  // Each read of the database waits until the test lets it go on.
  const waiting: Array<() => void> = [];
  let reads = 0;
  const slow = createStreamCache({
    load: async (mediaId) => {
      reads++;
      await new Promise<void>((r) => waiting.push(r));
      return medias.get(mediaId);
    },
    db,
  });
  /** Asks the cache for the media; if it reads the database, `during` happens mid-read. */
  const ask = (during: () => void = () => undefined) => {
    const asked = slow.media(id);
    const read = waiting.shift();
    if (read) {
      during();
      read();
    }
    return asked;
  };
  try {
    await waitFor('the second cache to listen', async () => (slow.live ? true : undefined), 10_000, 20);
    // Another media changes while this one is being read: the read is kept.
    await ask(() => slow.forget(randomUUID()));
    await ask();
    expect(reads).toBe(1);
    // This media changes while it is being read again: that read is not kept.
    slow.forget(id);
    await ask(() => slow.forget(id));
    expect(reads).toBe(2);
    await ask();
    await ask();
    expect(reads).toBe(3);
  } finally {
    for (const read of waiting) read();
    await slow.stop();
  }
});
