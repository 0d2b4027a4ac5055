import { randomUUID } from 'node:crypto';
import { createMediaRepository, type MediaRepository, type RenditionWriter } from '../../../src/db/medias.ts';
import { migrate } from '../../../src/db/migrate.ts';
import { createPool, type Db } from '../../../src/db/pool.ts';
import { planRenditions } from '../../../src/domain/renditions.ts';
import { MediaStatus, processingStatuses } from '../../../src/domain/status.ts';
import { defaultLadder, videoProbe } from '../../helpers/fixtures.ts';
import { testDatabaseUrl } from '../../helpers/services.ts';

/**
 * The mirror's writes arrive in any order after an outage (a write held up by a Postgres
 * restart lands after later ones): a terminal state is never overwritten by an earlier write.
 * Enforced in the SQL, tested against the real Postgres.
 */
let db: Db;
let medias: MediaRepository;
beforeAll(async () => {
  await migrate(testDatabaseUrl);
  db = createPool(testDatabaseUrl, 4);
  medias = createMediaRepository(db);
});
afterAll(() => db?.end());

const run = 'run-a';
const attempt = (n: number, runId = run): RenditionWriter => ({ attempt: n, runId });
const rung = '360p';

/** A media taken by `run`, its renditions planned, Processing. */
async function processing() {
  const id = randomUUID();
  await medias.create(id, 'mirror writes');
  await medias.setState(id, { status: MediaStatus.ScheduledProcessing });
  expect(await medias.claimRun(id, run)).toBe('claimed');
  expect(await medias.planRenditions(id, planRenditions(videoProbe(640, 360), defaultLadder), run)).toBe(true);
  expect(
    await medias.setState(id, { status: MediaStatus.Processing }, undefined, {
      runId: run,
      statuses: processingStatuses,
    }),
  ).toBe(true);
  return id;
}
const rowOf = async (id: string, name = rung) => (await medias.listRenditions(id)).find((r) => r.name === name)!;
const readyEvents = async (id: string) =>
  (await medias.listEvents(id, 100, 0)).items.filter((e) => e.type === 'rendition.ready').length;
const ready = (id: string, by = attempt(1)) =>
  medias.renditionReady(
    id,
    rung,
    { bandwidth: 900_000, average_bandwidth: 800_000, codecs: 'avc1.64001e', playlist: `${rung}.m3u8` },
    { type: 'rendition.ready', message: 'ready' },
    by,
  );

it('a progress write that arrives after Ready (held up by an outage) leaves the rendition Ready at 100%', async () => {
  const id = await processing();
  expect(await medias.startRenditionAttempt(id, rung, attempt(1))).toBe(true);
  expect(await medias.renditionProgress(id, rung, 40, attempt(1))).toBe(true);
  expect(await ready(id)).toBe(true);
  // The late writes of the same attempt, in the order an outage could deliver them.
  expect(await medias.renditionProgress(id, rung, 62, attempt(1))).toBe(false);
  expect(await medias.startRenditionAttempt(id, rung, attempt(1))).toBe(false);
  expect(await medias.renditionErrored(id, rung, attempt(1))).toBe(false);
  expect(await rowOf(id)).toMatchObject({ status: 'Ready', progress: 100, attempts: 1 });
  // Ready once: a repeated Ready (a retry that resumed) adds no second event.
  expect(await ready(id, attempt(2))).toBe(false);
  expect(await readyEvents(id)).toBe(1);
  await medias.delete(id);
});

it("an older attempt's writes change nothing once a newer attempt runs", async () => {
  const id = await processing();
  await medias.startRenditionAttempt(id, rung, attempt(1));
  await medias.renditionProgress(id, rung, 70, attempt(1));
  // Attempt 1's worker is lost; attempt 2 starts on another worker.
  expect(await medias.startRenditionAttempt(id, rung, attempt(2))).toBe(true);
  expect(await medias.renditionProgress(id, rung, 10, attempt(2))).toBe(true);
  expect(await medias.renditionProgress(id, rung, 95, attempt(1))).toBe(false);
  expect(await medias.startRenditionAttempt(id, rung, attempt(1))).toBe(false);
  expect(await medias.renditionErrored(id, rung, attempt(1))).toBe(false);
  expect(await rowOf(id)).toMatchObject({ status: 'Encoding', progress: 10, attempts: 2 });
  expect(await medias.renditionErrored(id, rung, attempt(2))).toBe(true);
  expect(await rowOf(id)).toMatchObject({ status: 'Errored', attempts: 2 });
  await medias.delete(id);
});

it("another run's writes (terminated, or before a retry) change nothing", async () => {
  const id = await processing();
  await medias.startRenditionAttempt(id, rung, attempt(1));
  expect(await medias.renditionProgress(id, rung, 50, attempt(1, 'run-old'))).toBe(false);
  expect(await ready(id, attempt(1, 'run-old'))).toBe(false);
  expect(await rowOf(id)).toMatchObject({ status: 'Encoding', progress: 0 });
  expect(await readyEvents(id)).toBe(0);
  await medias.delete(id);
});

it('the media stays Ready at 100% whatever arrives after it, and a late probe cannot re-plan its renditions', async () => {
  const id = await processing();
  for (const r of await medias.listRenditions(id)) {
    await medias.startRenditionAttempt(id, r.name, attempt(1));
    await medias.renditionReady(
      id,
      r.name,
      { bandwidth: 1, average_bandwidth: 1, codecs: 'x', playlist: 'x' },
      { type: 'rendition.ready', message: 'r' },
      attempt(1),
    );
  }
  expect(
    await medias.setState(
      id,
      { status: MediaStatus.Ready, playable: true, progress: 100 },
      { type: 'media.ready', message: 'ready' },
      { runId: run, statuses: [MediaStatus.Processing] },
    ),
  ).toBe(true);
  // Late: a progress write, a failure mark, a second probe's plan and its state.
  expect(await medias.renditionProgress(id, rung, 30, attempt(1))).toBe(false);
  expect(
    await medias.setState(
      id,
      { status: MediaStatus.Errored, error: 'late' },
      { type: 'media.errored', message: 'late' },
      { runId: run, statuses: processingStatuses },
    ),
  ).toBe(false);
  expect(await medias.planRenditions(id, planRenditions(videoProbe(640, 360), defaultLadder), run)).toBe(false);
  const media = await medias.get(id);
  expect(media).toMatchObject({ status: 'Ready', progress: 100, playable: true, error: null });
  expect((await medias.listRenditions(id)).every((r) => r.status === 'Ready' && r.progress === 100)).toBe(true);
  const types = (await medias.listEvents(id, 100, 0)).items.map((e) => e.type);
  expect(types.at(-1)).toBe('media.ready');
  expect(types).not.toContain('media.errored');
  await medias.delete(id);
});
