import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../domain/errors.ts';
import { streamKey } from '../domain/paths.ts';
import type { VariantEntry } from '../media/hls.ts';
import { StorageNotFoundError } from '../storage/driver.ts';
import type { ActivityDeps } from './deps.ts';
import { mediaGone } from './media-guard.ts';

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

/** A rendition's playlist as a local file, its init and segments beside it, so ffmpeg can read it as local HLS. */
export async function fetchRendition(
  deps: ActivityDeps,
  mediaId: string,
  v: VariantEntry,
  dir: string,
): Promise<string> {
  // A local store keeps a rendition's files side by side, as its playlist names them: read in place.
  const local = await deps.storage.localFile(streamKey(mediaId, v.playlist));
  if (local) return local;
  await mkdir(dir, { recursive: true });
  for (const name of [v.playlist, v.init, ...v.segments.map((s) => s.uri)]) {
    await fetchStored(deps, mediaId, streamKey(mediaId, name), path.join(dir, name));
  }
  return path.join(dir, v.playlist);
}
