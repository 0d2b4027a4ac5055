import { mediaPrefix } from './paths.ts';

/**
 * Attachments of a media: timed text (kept as WebVTT in the stream folder, subtitles and captions
 * listed in the HLS master playlist and the DASH manifest) and other files (kept as they came).
 */
export const attachmentKinds = ['subtitles', 'captions', 'chapters', 'file'] as const;
export type AttachmentKind = (typeof attachmentKinds)[number];

/** Kinds that are timed text: converted to WebVTT when uploaded. */
export const isTimedText = (kind: AttachmentKind) => kind !== 'file';
/** Kinds that are text tracks of the streams (HLS SUBTITLES, DASH text AdaptationSets). */
export const isTextTrack = (kind: AttachmentKind) => kind === 'subtitles' || kind === 'captions';

/** A key names an attachment in URLs and file names: letters, digits, dash and underscore, at most 64. */
export const attachmentKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A BCP 47 language tag: a 2–3 letter language, then subtags of 1–8 letters or digits (en, pt-BR, zh-Hant-TW). */
export const languageTagPattern = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,5}$/;

/** The WebVTT of a timed-text attachment, among the media's stream files (served from the attachment's own key). */
export const textTrackFileName = (key: string) => `text_${key}.vtt`;
/** Its HLS media playlist (made when asked for, from the media's duration). */
export const textTrackPlaylistName = (key: string) => `text_${key}.m3u8`;
/** Its WebVTT as the HLS playlist's one segment: with the X-TIMESTAMP-MAP the fMP4 timeline needs. */
export const textTrackHlsSegmentName = (key: string) => `hlstext_${key}.vtt`;

const textFile = /^(text|hlstext)_([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(vtt|m3u8)$/;
/** Which file of which attachment a stream file name is (its WebVTT, HLS playlist or HLS segment), or null. */
export function textTrackFileOf(name: string): { key: string; file: 'vtt' | 'playlist' | 'hls-segment' } | null {
  const m = textFile.exec(name);
  if (!m) return null;
  if (m[1] === 'text') return { key: m[2]!, file: m[3] === 'vtt' ? 'vtt' : 'playlist' };
  return m[3] === 'vtt' ? { key: m[2]!, file: 'hls-segment' } : null;
}

/**
 * Where one upload of an attachment keeps its bytes: a key of its own, so that two uploads racing
 * for one attachment key never write into each other (the one recorded first wins).
 */
export const attachmentStorageKey = (mediaId: string, key: string, uploadId: string, timedText: boolean) =>
  `${mediaPrefix(mediaId)}attachments/${key}/${uploadId}${timedText ? '.vtt' : ''}`;
/** Where an attachment upload lands while its fields are checked. */
export const attachmentUploadKey = (mediaId: string, uploadId: string) =>
  `${mediaPrefix(mediaId)}attachment-uploads/${uploadId}`;
