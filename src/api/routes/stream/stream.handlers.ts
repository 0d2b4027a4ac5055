import { text as streamText } from 'node:stream/consumers';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { HttpError } from '../../../domain/errors.ts';
import { MediaStatus } from '../../../domain/status.ts';
import { contentTypeOf } from '../../../domain/media-types.ts';
import { isTextTrack, textTrackFileOf, textTrackHlsSegmentName } from '../../../domain/attachments.ts';
import { dashManifestName, isSafeStreamFileName, masterPlaylistName, streamKey } from '../../../domain/paths.ts';
import type { MediaRow } from '../../../db/medias.ts';
import { withDashTextTracks } from '../../../media/dash.ts';
import { buildTextPlaylist, withTextTracks } from '../../../media/hls.ts';
import { withTimestampMap } from '../../../media/timed-text.ts';
import { StorageNotFoundError } from '../../../storage/driver.ts';
import type { AppEnv } from '../../deps.ts';
import { mediaIdOf } from '../../params.ts';
import { matchesEtag, sendStored } from '../../send-stored.ts';
import { textTracksOf, timelineOffsetOf } from '../attachments/attachments.service.ts';
import { cacheControlOf, fileEtag, textEtag, versionOf } from './caching.ts';
import {
  addQueryToPlaylist,
  addTokenToPlaylist,
  checkPlaybackToken,
  namesOtherFiles,
  playbackCookieName,
  tokenSecondsLeft,
} from '../../security/playback-token.ts';

const isPlaylist = (name: string) => name.endsWith('.m3u8') || name.endsWith('.mpd');

/** A file of a playable media, whole or a range of it; playlists of a private media carry its token. */
export async function stream(c: Context<AppEnv>) {
  const id = mediaIdOf(c.req.param('id'));
  const name = c.req.param('path') ?? '';
  const { streamCache, storage, config } = c.var.deps;
  // What the request must know of its media comes from the stream cache (no query per segment).
  const media = await streamCache.media(id);
  if (!media) throw new HttpError(404, `media ${id} not found`);
  // A private media says nothing about itself (its status, its files) to a request without its token.
  const token = media.private ? playbackTokenOf(c, id) : null;
  // Anything but a plain file name (.., encoded slashes, absolute paths) is simply not a file of this media.
  if (!isSafeStreamFileName(name)) throw new HttpError(404, `no file ${JSON.stringify(name)} in media ${id}`);
  if (!media.playable) throw new HttpError(425, `media ${id} is ${media.status} and not playable yet`);
  const textFile = textTrackFileOf(name);
  if (textFile) return textTrack(c, media, name, textFile, token);
  const key = streamKey(id, name);
  // Checked before any redirect: a name that is not a file of this media is Gilfoyle's 404, not a
  // signed URL to nothing (costs one HEAD on the store per segment).
  const info = await storage.stat(key);
  if (!info) throw new HttpError(404, `no file ${JSON.stringify(name)} in media ${id}`);

  // Segments and downloads may come straight from the object store (CDN or presigned URL);
  // playlists are always served here, so the URLs in them stay Gilfoyle's.
  if (config.storage.delivery === 'redirect' && !isPlaylist(name)) {
    const expiry = config.storage.presign_expiry_seconds;
    // A private media's files are never sent to an unsigned (CDN) URL, and the presigned URL a
    // token obtains does not outlive that token.
    const url = token
      ? await storage.readUrl(key, Math.min(expiry, tokenSecondsLeft(token)))
      : await storage.directUrl(key, expiry);
    if (url) {
      if (token) c.header('Cache-Control', 'private, no-store');
      return c.redirect(url, 302);
    }
  }

  const version = versionOf(media);
  const caching = { media, name, asked: c.req.query('v'), version, private: token !== null };
  const type = contentTypeOf(name);
  if (namesOtherFiles(name)) {
    // Every file a playlist names carries the run's version (and a private media's token). A
    // Ready media's playlists are made once (and again after a change is notified).
    const made = async () => {
      let text = await streamText(await storage.get(key));
      // The master playlist and the manifest list the media's text tracks as they are now.
      if (name === masterPlaylistName || name === dashManifestName) {
        const tracks = await streamCache.derived(id, 'text-tracks', () => textTracksOf(c.var.deps, id));
        if (tracks.length)
          text = name === masterPlaylistName ? withTextTracks(text, tracks) : withDashTextTracks(text, tracks);
      }
      return addQueryToPlaylist(name, text, { v: version ?? undefined });
    };
    const text =
      media.status === MediaStatus.Ready ? await streamCache.derived(id, `text:${name}`, made) : await made();
    const served = token ? addTokenToPlaylist(name, text, token) : text;
    return textBody(c, served, {
      'Content-Type': type,
      'Last-Modified': info.modified.toUTCString(),
      'Cache-Control': cacheControlOf({ ...caching, text: served }),
    });
  }
  const cacheControl = cacheControlOf(caching);
  if (config.storage.delivery === 'accel') {
    // Checked here (media, token, name, the file is there); nginx sends the bytes from its
    // internal location, answering Range and If-None-Match itself. It keeps the headers given
    // here (Content-Type, Cache-Control, CORS) and makes its own Content-Length, ETag, Last-Modified.
    return c.body(null, 200, {
      'Content-Type': type,
      'Cache-Control': cacheControl,
      'X-Accel-Redirect': `${config.storage.accel_location}/${key}`,
    });
  }
  const missing = () => new HttpError(404, `no file ${JSON.stringify(name)} in media ${id}`);
  return sendStored(
    c,
    key,
    info,
    (now) => ({
      'Content-Type': type,
      'Last-Modified': now.modified.toUTCString(),
      'Cache-Control': cacheControl,
      ETag: fileEtag(now),
    }),
    missing,
  );
}

/** A text answer (a playlist rewritten, a file made on request), its length counted, its ETag a digest. */
function textBody(c: Context<AppEnv>, body: string, headers: Record<string, string>) {
  const etag = textEtag(body);
  const all = { ...headers, ETag: etag, 'Content-Length': String(Buffer.byteLength(body)) };
  if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, all);
  return c.req.method === 'HEAD' ? c.body(null, 200, all) : c.body(body, 200, all);
}

/**
 * A file of a timed-text attachment: its WebVTT; for subtitles and captions also its HLS playlist
 * (one segment as long as the media) and that segment (the WebVTT with its X-TIMESTAMP-MAP).
 */
async function textTrack(
  c: Context<AppEnv>,
  media: MediaRow,
  name: string,
  file: NonNullable<ReturnType<typeof textTrackFileOf>>,
  token: string | null,
) {
  const { attachments, storage } = c.var.deps;
  const a = await attachments.get(media.id, file.key);
  const missing = () => new HttpError(404, `no file ${JSON.stringify(name)} in media ${media.id}`);
  if (!a || a.kind === 'file' || (file.file !== 'vtt' && !isTextTrack(a.kind))) throw missing();
  const headers = {
    'Content-Type': contentTypeOf(name),
    'Cache-Control': `${token ? 'private' : 'public'}, max-age=10`,
  };
  let text: string;
  if (file.file === 'playlist') {
    text = buildTextPlaylist(textTrackHlsSegmentName(a.key), media.duration ?? 0);
  } else {
    try {
      text = await streamText(await storage.get(a.storage_key));
    } catch (err) {
      if (err instanceof StorageNotFoundError) throw missing();
      throw err;
    }
    if (file.file === 'hls-segment') text = withTimestampMap(text, await timelineOffsetOf(c.var.deps, media.id));
  }
  return textBody(c, token ? addTokenToPlaylist(name, text, token) : text, headers);
}

/** The playback token of a request for a private media (query or cookie); 401 without a valid one. */
export function playbackTokenOf(c: Context<AppEnv>, id: string): string {
  const secret = c.var.deps.config.playback.signing_secret;
  const token = c.req.query('token') ?? getCookie(c, playbackCookieName(id));
  const check = secret ? checkPlaybackToken(secret, id, token) : 'invalid';
  if (check === 'valid') return token!;
  const why = {
    missing: 'needs a playback token',
    invalid: 'has an invalid playback token',
    expired: 'has an expired playback token',
  }[check];
  throw new HttpError(401, `media ${id} is private: this request ${why} (POST /medias/${id}/playback-token)`);
}
