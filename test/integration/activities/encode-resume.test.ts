import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDeps } from '../../../src/activities/index.ts';
import { storeForMedia } from '../../../src/activities/media-guard.ts';
import { createAttachmentRepository } from '../../../src/db/attachments.ts';
import { createMediaRepository } from '../../../src/db/medias.ts';
import { migrate } from '../../../src/db/migrate.ts';
import { createPool, type Db } from '../../../src/db/pool.ts';
import { FailureType } from '../../../src/domain/errors.ts';
import { planRenditions } from '../../../src/domain/renditions.ts';
import { MediaStatus } from '../../../src/domain/status.ts';
import { createLogger } from '../../../src/logger.ts';
import type { VariantEntry } from '../../../src/media/hls.ts';
import { createFsDriver } from '../../../src/storage/fs-driver.ts';
import { defaultLadder, videoProbe } from '../../helpers/fixtures.ts';
import { makeVideo } from '../../helpers/media.ts';
import { testDatabaseUrl } from '../../helpers/services.ts';

/**
 * The encode activity against real Postgres, storage and FFmpeg, attempt by attempt: a retry of
 * an encode whose worker died after storing everything and marking the rendition Ready (but
 * before reporting to Temporal) resumes from there instead of encoding it again.
 */
let db: Db;
let dir: string;
beforeAll(async () => {
  await migrate(testDatabaseUrl);
  db = createPool(testDatabaseUrl, 4);
  dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-resume-'));
});
afterAll(async () => {
  await db?.end();
  await rm(dir, { recursive: true, force: true });
});

/** The run of MockActivityEnvironment's activities. */
const mockRun = '00000000-0000-0000-0000-000000000000';

/**
 * A media with a stored source, its renditions planned, Processing and taken by the mock's run,
 * and the activities over real Postgres, storage and FFmpeg.
 */
async function mediaBeingProcessed(title: string, seconds: number) {
  const medias = createMediaRepository(db);
  const storage = createFsDriver(path.join(dir, 'storage'));
  const mediaId = randomUUID();
  await medias.create(mediaId, title);
  const sourceKey = `medias/${mediaId}/source`;
  const file = path.join(dir, `${mediaId}.mp4`);
  await makeVideo(file, { seconds, width: 640, height: 360 });
  await storage.putFile(sourceKey, file);
  await db.query('UPDATE medias SET source_key = $2 WHERE id = $1', [mediaId, sourceKey]);
  const plan = planRenditions(videoProbe(640, 360), defaultLadder);
  await medias.setState(mediaId, { status: MediaStatus.ScheduledProcessing });
  expect(await medias.planRenditions(mediaId, plan)).toBe(true);
  await medias.setState(mediaId, { status: MediaStatus.Processing });
  await medias.claimRun(mediaId, mockRun);
  const activities = createActivities({
    medias,
    attachments: createAttachmentRepository(db),
    storage,
    logger: createLogger('silent'),
    ffmpegPath: 'ffmpeg',
    ffprobePath: 'ffprobe',
    preset: 'ultrafast',
    threads: 1,
    tempDir: dir,
    urlFetch: { maxBytes: 1e9, timeoutMs: 10_000, allowPrivateAddresses: false },
  });
  return { medias, storage, mediaId, sourceKey, plan, activities, rung: plan.find((r) => r.type === 'video')! };
}

it('resumes a rendition an earlier attempt already stored and marked Ready, without encoding it again', async () => {
  const { medias, mediaId, sourceKey, activities, rung } = await mediaBeingProcessed('resume', 2);
  const input = { mediaId, sourceKey, rendition: rung, duration: 2, stage: 'ladder' as const };
  const encode = (attempt: number) =>
    new MockActivityEnvironment({ attempt }).run(activities.encodeRendition, input) as Promise<VariantEntry>;

  const first = await encode(1);
  const readyEvents = async () =>
    (await medias.listEvents(mediaId, 100, 0)).items.filter((e) => e.type === 'rendition.ready').length;
  expect(await readyEvents()).toBe(1);

  // The worker died before reporting: Temporal runs attempt 2, which finds the work done.
  const second = await encode(2);
  expect(second).toEqual(first);
  expect(await readyEvents()).toBe(1);
  const row = (await medias.listRenditions(mediaId)).find((r) => r.name === rung.name)!;
  expect([row.status, row.attempts]).toEqual(['Ready', 1]);

  // A rendition not Ready yet is encoded by the retry as usual.
  await db.query(`UPDATE renditions SET status = 'Encoding' WHERE media_id = $1 AND name = $2`, [mediaId, rung.name]);
  const third = await encode(3);
  expect(third.segments).toEqual(first.segments);
  expect(await readyEvents()).toBe(2);
  expect((await medias.listRenditions(mediaId)).find((r) => r.name === rung.name)!.attempts).toBe(3);
  await medias.delete(mediaId);
});

it('removes what an activity stored when the media was deleted while it stored it', async () => {
  const medias = createMediaRepository(db);
  const storage = createFsDriver(path.join(dir, 'storage'));
  const deps = { medias, storage, logger: createLogger('silent') } as unknown as ActivityDeps;
  const mediaId = randomUUID();
  await medias.create(mediaId, 'deleted while storing');
  await storage.put(`medias/${mediaId}/source`, 'source');
  // The API deletes the rows (then the files) while the activity's files are on their way.
  const stored = storeForMedia(deps, null, mediaId, async () => {
    await medias.delete(mediaId);
    await storage.put(`medias/${mediaId}/stream/720p_00000.m4s`, 'segment');
  });
  await expect(stored).rejects.toMatchObject({ type: FailureType.MediaNotFound, nonRetryable: true });
  expect(await storage.list(`medias/${mediaId}/`)).toEqual([]);
});

it('a late activity of a run terminated by a force cancel changes nothing, before and after the media is retried', async () => {
  // Taken by the mock's run, which a force cancel then terminates.
  const { medias, mediaId, sourceKey, plan, activities, rung } = await mediaBeingProcessed('force-cancelled', 1);
  const late = {
    encode: () =>
      new MockActivityEnvironment().run(activities.encodeRendition, {
        mediaId,
        sourceKey,
        rendition: rung,
        duration: 1,
        stage: 'ladder' as const,
      }),
    finalize: () =>
      new MockActivityEnvironment().run(activities.finalizeMedia, {
        mediaId,
        outputs: [],
        duration: 1,
        segmentSeconds: 4,
        files: [],
      }),
    startProcessing: () => new MockActivityEnvironment().run(activities.startProcessing, { mediaId, plan }),
  };
  const notThisRun = { type: FailureType.MediaNotScheduled, nonRetryable: true };
  const renditionOf = async () => (await medias.listRenditions(mediaId)).find((r) => r.name === rung.name)!.status;

  // Force-cancelled: Errored, its run terminated, an activity of it still going.
  await medias.cancel(mediaId, 'by force (its run was terminated)');
  await expect(late.encode()).rejects.toMatchObject(notThisRun);
  await expect(late.finalize()).rejects.toMatchObject(notThisRun);
  await expect(late.startProcessing()).rejects.toMatchObject(notThisRun);
  expect((await medias.get(mediaId))!.status).toBe('Errored');
  expect(await renditionOf()).not.toBe('Ready');

  // Retried: a new run will take the media; the old run's activities still change nothing.
  expect(await medias.retry(mediaId, 'test')).not.toBeNull();
  expect((await medias.get(mediaId))!.workflow_run_id).toBeNull();
  await expect(late.encode()).rejects.toMatchObject(notThisRun);
  await expect(late.finalize()).rejects.toMatchObject(notThisRun);
  expect((await medias.get(mediaId))!.status).toBe('ScheduledProcessing');
  expect(['Pending', 'Encoding']).toContain(await renditionOf()); // neither Ready nor Errored: the new run's to set
  expect((await medias.listEvents(mediaId, 100, 0)).items.map((e) => e.type)).not.toContain('rendition.ready');
  await medias.delete(mediaId);
});
