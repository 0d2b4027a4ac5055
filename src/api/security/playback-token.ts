import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Playback tokens of private medias: `<expiry unix seconds>.<HMAC-SHA256(secret, "<media id>.<expiry>")>`,
 * base64url. Bound to one media, short-lived, checked in constant time.
 */
const sign = (secret: string, mediaId: string, expires: number) =>
  createHmac('sha256', secret).update(`${mediaId}.${expires}`).digest('base64url');

export function issuePlaybackToken(
  secret: string,
  mediaId: string,
  ttlSeconds: number,
  now = Date.now(),
): { token: string; expires: Date } {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  return { token: `${expires}.${sign(secret, mediaId, expires)}`, expires: new Date(expires * 1000) };
}

export type TokenCheck = 'valid' | 'missing' | 'invalid' | 'expired';

export function checkPlaybackToken(
  secret: string,
  mediaId: string,
  token: string | undefined,
  now = Date.now(),
): TokenCheck {
  if (!token) return 'missing';
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return 'invalid';
  const expires = Number(m[1]);
  const given = Buffer.from(m[2]!);
  const expected = Buffer.from(sign(secret, mediaId, expires));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return expires * 1000 < now ? 'expired' : 'valid';
}

/** Seconds a (checked, valid) token has left to live: at least 1. */
export function tokenSecondsLeft(token: string, now = Date.now()): number {
  const expires = Number(token.split('.')[0]);
  return Math.max(1, Math.floor(expires - now / 1000));
}

/** The cookie a player may carry instead of the query parameter: one per media. */
export const playbackCookieName = (mediaId: string) => `gilfoyle_playback_${mediaId.replaceAll('-', '')}`;

/** Adds `query` (already encoded) to a relative URL of a playlist (keeps a #fragment after it). */
function withQuery(uri: string, query: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) return uri; // not one of the media's own files
  const hash = uri.indexOf('#');
  const [base, frag] = hash >= 0 ? [uri.slice(0, hash), uri.slice(hash)] : [uri, ''];
  return `${base}${base.includes('?') ? '&' : '?'}${query}${frag}`;
}

/**
 * Rewrites a playlist so that every file it names carries the token: HLS URI lines and URI=""
 * attributes, DASH media/initialization/BaseURL, WebVTT storyboard cues.
 */
export const addTokenToPlaylist = (name: string, text: string, token: string) =>
  addQueryToPlaylist(name, text, { token });

/**
 * Rewrites a playlist so that every file of the media it names carries `params` (the version of
 * the run that made the files, a playback token), in the order given.
 */
export function addQueryToPlaylist(name: string, text: string, params: Record<string, string | undefined>): string {
  const query = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  if (!query) return text;
  if (name.endsWith('.m3u8')) {
    return text
      .split('\n')
      .map((line) => {
        const t = line.trim();
        if (t === '') return line;
        if (t.startsWith('#'))
          return line.replace(/URI="([^"]+)"/g, (_, uri: string) => `URI="${withQuery(uri, query)}"`);
        return withQuery(t, query);
      })
      .join('\n');
  }
  if (name.endsWith('.mpd')) {
    return text
      .replace(
        /\b(media|initialization)="([^"]+)"/g,
        (_, attr: string, uri: string) => `${attr}="${withQuery(uri, query).replaceAll('&', '&amp;')}"`,
      )
      .replace(
        /<BaseURL>([^<]+)<\/BaseURL>/g,
        (_, uri: string) => `<BaseURL>${withQuery(uri, query).replaceAll('&', '&amp;')}</BaseURL>`,
      );
  }
  if (name.endsWith('.vtt')) {
    return text
      .split('\n')
      .map((line) =>
        /^[^\s#][^\s]*\.(jpg|jpeg|png|webp)(#xywh=[\d,]+)?$/i.test(line.trim()) ? withQuery(line.trim(), query) : line,
      )
      .join('\n');
  }
  return text;
}

/** Files whose text names other files of the media, and so are rewritten for private medias. */
export const namesOtherFiles = (name: string) =>
  name.endsWith('.m3u8') || name.endsWith('.mpd') || name.endsWith('.vtt');
