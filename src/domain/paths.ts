/**
 * Storage keys of a media, and the check that keeps a user-supplied stream path inside
 * its media's folder. Every file a media owns lives under `medias/{id}/`.
 */
export const mediaPrefix = (mediaId: string) => `medias/${mediaId}/`;
export const sourceKey = (mediaId: string) => `${mediaPrefix(mediaId)}source`;
/**
 * Where one upload through Gilfoyle (multipart, tus) stores its file: its own key, so that two
 * uploads racing for a media never write into each other; the one scheduled first becomes the source.
 */
export const uploadedSourceKey = (mediaId: string, uploadId: string) => `${mediaPrefix(mediaId)}uploads/${uploadId}`;
export const streamPrefix = (mediaId: string) => `${mediaPrefix(mediaId)}stream/`;
export const streamKey = (mediaId: string, file: string) => `${streamPrefix(mediaId)}${file}`;
export const masterPlaylistName = 'master.m3u8';
export const dashManifestName = 'manifest.mpd';
export const posterName = 'poster.jpg';
export const storyboardImageName = 'storyboard.jpg';
export const storyboardVttName = 'storyboard.vtt';
export const downloadName = (audioOnly: boolean) => (audioOnly ? 'download.m4a' : 'download.mp4');

/** Output files are flat names Gilfoyle chose: letters, digits, dot, dash, underscore; no leading dot. */
const streamFileName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `name` can only name a file directly inside the media's stream folder. */
export function isSafeStreamFileName(name: string): boolean {
  return streamFileName.test(name) && !name.includes('..');
}
