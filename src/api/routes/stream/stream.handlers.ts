import { text as streamText } from 'node:stream/consumers';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { HttpError } from '../../../domain/errors.ts';
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
import { sendStored } from '../../send-stored.ts';
import { textTracksOf, timelineOffsetOf } from '../attachments/attachments.service.ts';
import {
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
  const { medias, storage } = c.var.deps;
  const media = await medias.get(id);
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
  const { config } = c.var.deps;
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

  const headers: Record<string, string> = {
    'Content-Type': contentTypeOf(name),
    'Last-Modified': info.modified.toUTCString(),
    'Cache-Control': `${token ? 'private' : 'public'}, max-age=${isPlaylist(name) ? 10 : 3600}`,
  };
  // The master playlist and the manifest list the media's text tracks as they are now.
  const tracks = name === masterPlaylistName || name === dashManifestName ? await textTracksOf(c.var.deps, id) : [];
  if (tracks.length || (token && namesOtherFiles(name))) {
    let text = await streamText(await storage.get(key));
    if (tracks.length)
      text = name === masterPlaylistName ? withTextTracks(text, tracks) : withDashTextTracks(text, tracks);
    // A private media's playlists lead to files that need the token too: it is written into them.
    return textBody(c, token ? addTokenToPlaylist(name, text, token) : text, headers);
  }
  return sendStored(c, key, info, headers, () => new HttpError(404, `no file ${JSON.stringify(name)} in media ${id}`));
}

/** A text answer (a playlist rewritten, a file made on request), its length counted. */
function textBody(c: Context<AppEnv>, body: string, headers: Record<string, string>) {
  const all = { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
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
