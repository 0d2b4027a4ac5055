import { fitFilters, type AnimatedSpec, type ThumbnailSpec } from '../domain/images.ts';
import { quietArgs } from './ffmpeg-args.ts';

/**
 * ffmpeg's arguments for images on demand, read from a local fMP4 file (a rendition's init segment
 * followed by the media segments that cover the time asked for); `offset` is where that time
 * falls in the file (seconds from its start).
 */
const input = (file: string, offset: number, duration?: number, mapVideo = true) => [
  ...quietArgs,
  '-protocol_whitelist',
  'file',
  '-format_whitelist',
  'mov',
  '-ss',
  offset.toFixed(3),
  ...(duration !== undefined ? ['-t', duration.toFixed(3)] : []),
  '-i',
  file,
  // A filter graph names its own input instead.
  ...(mapVideo ? ['-map', '0:v:0'] : []),
  '-an',
];

const thumbnailCodec = {
  jpg: ['-c:v', 'mjpeg', '-q:v', '3'],
  png: ['-c:v', 'png'],
  webp: ['-c:v', 'libwebp', '-quality', '85'],
};

export function thumbnailArgs(file: string, offset: number, s: ThumbnailSpec, output: string): string[] {
  const filters = [...fitFilters(s.width, s.height, s.fit), 'setsar=1'];
  return [
    ...input(file, offset),
    '-frames:v',
    '1',
    '-vf',
    filters.join(','),
    ...thumbnailCodec[s.format],
    ...(s.format === 'jpg' ? ['-pix_fmt', 'yuvj420p'] : []),
    '-f',
    'image2',
    '-update',
    '1',
    '-y',
    output,
  ];
}

export function animatedArgs(file: string, offset: number, s: AnimatedSpec, output: string): string[] {
  const base = `fps=${s.fps},scale=${s.width}:-2:flags=lanczos,setsar=1`;
  const codec =
    s.format === 'gif'
      ? ['-filter_complex', `[0:v:0]${base},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse`, '-f', 'gif']
      : ['-vf', base, '-c:v', 'libwebp_anim', '-quality', '75', '-f', 'webp'];
  return [...input(file, offset, s.end - s.start, s.format !== 'gif'), ...codec, '-loop', '0', '-y', output];
}
