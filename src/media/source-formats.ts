/**
 * What FFmpeg may read of an upload: media containers only, from the file (or the object
 * store's URL) and nothing else. FFmpeg would otherwise follow what a file names: an HLS
 * playlist or a concat list uploaded as a "video" pulls in other files of the machine (other
 * medias' segments under the storage root) as input.
 */

/** Demuxers of the files users send as video or audio (FFmpeg's names; `mov` is mp4/m4a/3gp, `matroska` is webm). */
export const mediaFormats = [
  'mov',
  'matroska',
  'avi',
  'mpegts',
  'mpeg',
  'mpegvideo',
  'flv',
  'ogg',
  'asf',
  'mxf',
  'dv',
  'gxf',
  'nut',
  'rm',
  'wtv',
  'ivf',
  'obu',
  'h264',
  'hevc',
  'm4v',
  'yuv4mpegpipe',
  'gif',
  'apng',
  'mp3',
  'wav',
  'w64',
  'aiff',
  'caf',
  'flac',
  'aac',
  'loas',
  'ac3',
  'eac3',
  'dts',
  'truehd',
  'mlp',
  'amr',
  'wv',
  'ape',
  'tta',
  'mpc',
  'mpc8',
  'au',
];

/** Picture demuxers: probed only so that a photo is refused as a still image, by name; never encoded. */
const pictureFormats = [
  'image2',
  'image2pipe',
  ...['bmp', 'dds', 'dpx', 'exr', 'gif', 'j2k', 'jpeg', 'jpegls', 'jpegxl', 'pam', 'pbm', 'pcx', 'pgm', 'pgmyuv']
    .concat(['pgx', 'phm', 'photocd', 'pictor', 'png', 'ppm', 'psd', 'qdraw', 'qoi', 'sgi', 'sunrast', 'svg', 'tiff'])
    .concat(['vbn', 'webp', 'xbm', 'xpm', 'xwd'])
    .map((p) => `${p}_pipe`),
];

/** How ffmpeg reads a source over HTTP: it reconnects when the store drops it, for up to 30 s. */
// prettier-ignore
const urlInputOptions = [
  '-reconnect', '1', '-reconnect_on_network_error', '1', '-reconnect_on_http_error', '5xx', '-reconnect_delay_max', '30',
];

const isUrl = (input: string) => /^https?:/.test(input);

/** Input options of ffprobe on an uploaded file (always a local file): media and pictures, from the file only. */
export const probeInputArgs = (): string[] => [
  '-protocol_whitelist',
  'file',
  '-format_whitelist',
  [...mediaFormats, ...pictureFormats].join(','),
];

/** Input options of ffmpeg reading a source, a local file or a presigned URL: media containers only. */
export const sourceInputArgs = (input: string): string[] => [
  ...(isUrl(input)
    ? [...urlInputOptions, '-protocol_whitelist', 'http,https,tcp,tls']
    : ['-protocol_whitelist', 'file']),
  '-format_whitelist',
  mediaFormats.join(','),
];

/** Input options of ffmpeg reading a rendition Gilfoyle wrote (its HLS playlist of fMP4 files, local). */
export const renditionInputArgs = (): string[] => ['-protocol_whitelist', 'file', '-format_whitelist', 'hls,mov'];

/** Whether a probed `format_name` (e.g. "mov,mp4,m4a,3gp,3g2,mj2") is one of the media containers taken. */
export const isMediaFormat = (formatName: string) => formatName.split(',').some((f) => mediaFormats.includes(f));

/** The demuxer FFmpeg found for a file it then refused by the format allow-list, from its stderr; null otherwise. */
export function refusedFormatIn(stderr: string): string | null {
  return /\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/.exec(stderr)?.[1] ?? null;
}

const formatLabels: Record<string, string> = {
  hls: 'an HLS playlist',
  dash: 'a DASH manifest',
  concat: 'an FFmpeg concat list',
  image2: 'an image sequence',
  tty: 'a text file',
  ffmetadata: 'an FFmpeg metadata file',
  sdp: 'an SDP session description',
  webvtt: 'a subtitle file (WebVTT)',
  srt: 'a subtitle file (SubRip)',
  ass: 'a subtitle file (ASS)',
};

/** Why a file in a format that is not a media container is refused, naming the format. */
export function refusedFormatReason(format: string): string {
  const label = formatLabels[format] ?? `a file in the ${format} format`;
  return `the file is ${label} (format ${format}), not a video or audio file: Gilfoyle takes media files (MP4, MOV, MKV, WebM, MPEG-TS, MP3, WAV…), not playlists, lists of files or other formats`;
}
