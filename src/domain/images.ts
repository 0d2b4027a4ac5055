import { mediaPrefix } from './paths.ts';

/**
 * Images on demand (GET /medias/{id}/thumbnail.{jpg,png,webp}, /animated.{gif,webp}): what one
 * asks for, in a normal form, and where its rendering is kept once made.
 */
export const thumbnailFormats = ['jpg', 'png', 'webp'] as const;
export const animatedFormats = ['gif', 'webp'] as const;
export const fitModes = ['preserve', 'crop', 'pad'] as const;
export type ThumbnailFormat = (typeof thumbnailFormats)[number];
export type AnimatedFormat = (typeof animatedFormats)[number];
export type FitMode = (typeof fitModes)[number];

export interface ThumbnailSpec {
  kind: 'thumbnail';
  format: ThumbnailFormat;
  /** Seconds into the media, to the millisecond. */
  time: number;
  width: number | null;
  height: number | null;
  fit: FitMode;
}

export interface AnimatedSpec {
  kind: 'animated';
  format: AnimatedFormat;
  start: number;
  end: number;
  width: number;
  fps: number;
}

export type ImageSpec = ThumbnailSpec | AnimatedSpec;

const ms = (s: number) => s.toFixed(3);

/** The stored rendering of a spec: one name per distinct image, made once. */
export function imageKey(mediaId: string, s: ImageSpec): string {
  const name =
    s.kind === 'thumbnail'
      ? `thumbnail_t${ms(s.time)}_w${s.width ?? 0}_h${s.height ?? 0}_${s.fit}.${s.format}`
      : `animated_s${ms(s.start)}_e${ms(s.end)}_w${s.width}_f${s.fps}.${s.format}`;
  return `${imagesPrefix(mediaId)}${name}`;
}

/** Every rendered image of a media (dropped when its renditions are made again). */
export const imagesPrefix = (mediaId: string) => `${mediaPrefix(mediaId)}images/`;

export const imageContentType: Record<ThumbnailFormat | AnimatedFormat, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
};

/** Output size from the rendition's: the scale (and crop or pad) filters of a fit mode, or none. */
export function fitFilters(width: number | null, height: number | null, fit: FitMode): string[] {
  if (width && height) {
    if (fit === 'crop')
      return [`scale=${width}:${height}:force_original_aspect_ratio=increase`, `crop=${width}:${height}`];
    const fitted = `scale=${width}:${height}:force_original_aspect_ratio=decrease`;
    return fit === 'pad' ? [fitted, `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2`] : [fitted];
  }
  if (width) return [`scale=${width}:-2`];
  if (height) return [`scale=-2:${height}`];
  return [];
}
