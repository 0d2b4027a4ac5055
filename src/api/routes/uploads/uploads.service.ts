import { HttpError } from '../../../domain/errors.ts';
import { imagesPrefix } from '../../../domain/images.ts';
import { sourceKey } from '../../../domain/paths.ts';
import { uploadableStatuses, type SourceKind } from '../../../domain/status.ts';
import type { AppDeps } from '../../deps.ts';
import type { ReceivedFile } from '../../multipart.ts';
import { mediaIdOf } from '../../params.ts';

/** What every way of uploading shares: the checks before an upload starts, and scheduling once the file is stored. */

/** The media, when an upload may start for it (404, 409 otherwise). */
export async function uploadableMedia({ medias }: Pick<AppDeps, 'medias'>, id: string) {
  const media = await medias.get(mediaIdOf(id));
  if (!media) throw new HttpError(404, `media ${id} not found`);
  if (!uploadableStatuses.includes(media.status)) {
    throw new HttpError(
      409,
      `media ${id} is ${media.status}: an upload is accepted only while ${uploadableStatuses.join(' or ')}`,
    );
  }
  return media;
}

export const tooLarge = (max: number) =>
  new HttpError(413, `the file is larger than the maximum of ${max} bytes (max_file_size)`);

export type UploadWay = 'multipart' | 'tus' | 'url' | 'direct';

/** The source is stored: schedule processing (status + outbox, one transaction), as every way of uploading does. */
export async function scheduleSource(
  { medias, storage, logger, metrics }: AppDeps,
  id: string,
  kind: SourceKind,
  via: UploadWay,
  file: ReceivedFile & { url?: string },
  key = sourceKey(id),
) {
  const scheduled = await medias.scheduleProcessing(id, { kind, key, ...file }, uploadableStatuses);
  if (!scheduled) {
    const now = await medias.get(id);
    // This upload lost (the media was deleted, or another upload was scheduled first): its file goes.
    if (now?.source_key !== key) await storage.deletePrefix(key).catch(() => undefined);
    if (!now) throw new HttpError(404, `media ${id} was deleted during the upload`);
    throw new HttpError(409, `media ${id} became ${now.status} during the upload: another upload was scheduled first`);
  }
  // A new file for an Errored media replaces the old one.
  const replaced = scheduled.previous_source_key;
  if (replaced && replaced !== key) {
    // So do the images cut from it and the subtitle streams taken from it.
    for (const k of [replaced, imagesPrefix(id), ...(scheduled.dropped_keys ?? [])])
      await storage.deletePrefix(k).catch(() => undefined);
  }
  metrics.uploads.inc({ kind, via });
  if (file.size > 0) metrics.uploadBytes.inc({ kind, via }, file.size);
  logger.info({ mediaId: id, kind, via, size: file.size }, 'upload stored, processing scheduled');
  return scheduled;
}
