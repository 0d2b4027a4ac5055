import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { MediaRepository } from '../db/medias.ts';
import { FailureType } from '../domain/errors.ts';
import { mediaPrefix } from '../domain/paths.ts';
import { processingStatuses } from '../domain/status.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { StorageNotFoundError, type StorageDriver } from '../storage/driver.ts';
import type { CpuPriority } from '../media/runner.ts';
import type { ForegroundGate } from './foreground.ts';
import type { UrlFetchSettings } from './url-source.ts';

export interface ActivityDeps {
  medias: MediaRepository;
  storage: StorageDriver;
  logger: Logger;
  /** Encode durations and speed, source bytes fetched from URLs; absent in tests that do not look. */
  metrics?: Metrics;
  ffmpegPath: string;
  ffprobePath: string;
  /** Upper bound of one ffmpeg run (encoding.timeout_seconds): a hung encoder is killed, and the attempt fails. */
  ffmpegTimeoutMs?: number;
  /** Parent of the per-attempt temp folders. */
  tempDir?: string;
  preset: string;
  /** Encoder threads of an encode that shares the machine with others (cores / concurrency). */
  threads: number;
  /** CPU priority of the work that may wait (encoding.background_priority): the ladder, pictures, download. */
  backgroundPriority?: CpuPriority;
  /** This worker's playable-first gate (encoding.playable_first): background ffmpegs pause while a playable encode runs. */
  foreground?: ForegroundGate;
  /** Least time between two progress writes to Postgres. */
  progressIntervalMs?: number;
  /** Upload from URL: size cap, timeout, and whether private addresses may be fetched. */
  urlFetch: UrlFetchSettings;
}

/**
 * A per-attempt temp folder, removed when `use` ends, whatever happens. Its name carries the
 * worker's pid, so that a worker killed outright leaves folders the next one can recognise.
 */
export async function withTempDir<T>(parent: string | undefined, label: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(parent ?? os.tmpdir(), `gilfoyle-w${process.pid}-${label}-`));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Activity context when running inside Temporal; null when called directly. */
export function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Heartbeats every few seconds while `fn` runs, so silent stretches (downloads, remuxes) do not time out. */
export async function withHeartbeat<T>(ctx: Context | null, details: () => unknown, fn: () => Promise<T>): Promise<T> {
  const timer = ctx ? setInterval(() => ctx.heartbeat(details()), 5000) : null;
  try {
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}

/**
 * A local file holding a stored object: the store's own file when the store is a local folder
 * (read in place: a 1 GB source is not copied for every rung), else a copy at `file`. A missing
 * source or a deleted media cannot be retried into existence.
 */
export async function fetchStored(deps: ActivityDeps, mediaId: string, key: string, file: string): Promise<string> {
  const local = await deps.storage.localFile(key);
  if (local) return local;
  try {
    await deps.storage.getToFile(key, file);
  } catch (err) {
    if (err instanceof StorageNotFoundError) {
      const media = await deps.medias.get(mediaId);
      if (!media) throw mediaGone(mediaId);
      throw ApplicationFailure.nonRetryable(`a stored file of the media is missing: ${key}`, FailureType.InvalidMedia);
    }
    throw err;
  }
  return file;
}

/**
 * Stores a media's files with `put`, unless the media was deleted (or the activity cancelled).
 * The API deletes a media's rows before its files, so a media found gone after the files are
 * stored was deleted meanwhile: its files, these included, are removed again, and nothing is
 * left behind whichever of the two came first.
 */
export async function storeForMedia(deps: ActivityDeps, ctx: Context | null, mediaId: string, put: () => Promise<unknown>): Promise<void> {
  await assertStillWanted(deps, ctx, mediaId);
  await put();
  if (!(await deps.medias.get(mediaId))) {
    await deps.storage.deletePrefix(mediaPrefix(mediaId));
    throw mediaGone(mediaId);
  }
}

/**
 * Throws when the media was deleted, or is no longer processed by this activity's run (the run
 * was terminated, by a force cancel, and the media marked Errored or retried since), or the
 * activity was cancelled: nothing more may be written for it.
 */
async function assertStillWanted(deps: ActivityDeps, ctx: Context | null, mediaId: string): Promise<void> {
  ctx?.cancellationSignal.throwIfAborted();
  const media = await deps.medias.get(mediaId);
  if (!media) throw mediaGone(mediaId);
  const runId = ctx?.info.workflowExecution?.runId;
  if (runId && (media.workflow_run_id !== runId || !processingStatuses.includes(media.status))) throw notThisRun(mediaId, `${media.status}, run ${runId}`);
}

/** The failure of an activity whose media was deleted: nothing more is written for it. */
export const mediaGone = (mediaId: string) => ApplicationFailure.nonRetryable(`media ${mediaId} no longer exists`, FailureType.MediaNotFound);

/** The failure of an activity whose run no longer processes the media: nothing of it is written. */
export const notThisRun = (mediaId: string, detail: string) =>
  ApplicationFailure.nonRetryable(`media ${mediaId} is no longer processed by this run (${detail})`, FailureType.MediaNotScheduled);

/**
 * The first step of a run: it takes the media only while the media waits for processing, so
 * a run started by a stale message (the media was cancelled, or processed since) does nothing.
 */
export async function claimRun(deps: ActivityDeps, ctx: Context | null, mediaId: string): Promise<void> {
  const runId = ctx?.info.workflowExecution?.runId;
  if (!runId) return;
  const claimed = await deps.medias.claimRun(mediaId, runId);
  if (claimed === null) throw mediaGone(mediaId);
  if (claimed !== 'claimed') {
    throw ApplicationFailure.nonRetryable(`media ${mediaId} is ${claimed}: it no longer waits for this run`, FailureType.MediaNotScheduled);
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the attempt folders of workers that died without cleaning up (SIGKILL, OOM, power loss). */
export async function sweepOrphanedTempDirs(parent: string | undefined): Promise<string[]> {
  const root = parent ?? os.tmpdir();
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const pid = Number(/^gilfoyle-w(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
