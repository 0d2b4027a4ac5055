import { createHash } from 'node:crypto';
import { MediaStatus } from '../../../domain/status.ts';
import { dashManifestName, masterPlaylistName } from '../../../domain/paths.ts';
import type { MediaRow } from '../../../db/medias.ts';
import type { StoredObject } from '../../../storage/driver.ts';

/**
 * What a CDN (or a browser) may keep of a stream file, and for how long.
 *
 * The files a run writes never change under a URL that names the run: every playlist Gilfoyle
 * serves adds `v=<version of the run>` to the files it lists, and a retry is a new run, with a
 * new version. So a segment, an init segment, a rendition playlist of a Ready media, or a
 * storyboard asked with the current `v` is kept a year and marked immutable. Asked without `v`
 * (a link from the media's JSON), a file is kept an hour; asked with another run's `v`, it is
 * revalidated each time. The master playlist and the DASH manifest list the media's text tracks
 * as they are now, so even for a Ready media they are kept 5 minutes (then revalidated by ETag).
 * A playlist that still grows is kept half its target duration.
 *
 * A private media's answers are `private`: kept by the viewer's browser, never by a shared cache
 * (its URLs carry the viewer's token).
 */
export const year = 31_536_000;

/** The version of the run that made the media's files: a short digest of its run id; null before a run. */
export function versionOf(media: Pick<MediaRow, 'workflow_run_id'>): string | null {
  const run = media.workflow_run_id;
  if (!run) return null;
  let v = versions.get(run);
  if (v === undefined) {
    v = createHash('sha256').update(run).digest('base64url').slice(0, 10);
    // Asked for on every stream request: the last few thousand runs' versions are kept.
    if (versions.size >= 4096) versions.clear();
    versions.set(run, v);
  }
  return v;
}
const versions = new Map<string, string>();

export interface CachingOf {
  media: Pick<MediaRow, 'status' | 'workflow_run_id'>;
  name: string;
  /** The `v` the request asked with, if any. */
  asked: string | undefined;
  version: string | null;
  private: boolean;
  /** A playlist's text as served (its target duration and end tag decide). */
  text?: string;
}

/**
 * The Cache-Control of a file that a run wrote once (a segment, a download, a picture): a year
 * and immutable under the run's version, an hour without one, revalidated under another's.
 */
export function fileCacheControl(o: Pick<CachingOf, 'asked' | 'version' | 'private'>): string {
  const scope = o.private ? 'private' : 'public';
  const current = o.version !== null && o.asked === o.version;
  if (o.asked !== undefined && !current) return `${scope}, no-cache`;
  return current ? `${scope}, max-age=${year}, immutable` : `${scope}, max-age=3600`;
}

/** The Cache-Control of one stream answer. */
export function cacheControlOf(o: CachingOf): string {
  const scope = o.private ? 'private' : 'public';
  const current = o.version !== null && o.asked === o.version;
  const stale = o.asked !== undefined && !current;
  if (o.text === undefined || stale) return fileCacheControl(o);
  const ready = o.media.status === MediaStatus.Ready;
  if (o.name === masterPlaylistName || o.name === dashManifestName) return `${scope}, max-age=${ready ? 300 : 2}`;
  const final = ready || /^#EXT-X-ENDLIST\s*$/m.test(o.text) || o.name.endsWith('.vtt');
  if (final) return current ? `${scope}, max-age=${year}, immutable` : `${scope}, max-age=3600`;
  const target = Number(/^#EXT-X-TARGETDURATION:(\d+)/m.exec(o.text)?.[1] ?? 2);
  return `${scope}, max-age=${Math.max(1, Math.floor(target / 2))}`;
}

/** A strong validator of a stored file: its size and modification time (in milliseconds). */
export const fileEtag = (info: StoredObject) => `"${info.size.toString(16)}-${info.modified.getTime().toString(16)}"`;

/** A strong validator of a text made on request: a digest of it. */
export const textEtag = (text: string) => `"${createHash('sha1').update(text).digest('base64url').slice(0, 22)}"`;
