import { z } from '@hono/zod-openapi';
import type { MediaEventRow, MediaRow, RenditionRow } from '../../db/medias.ts';
import { dashManifestName, downloadName, masterPlaylistName, posterName, storyboardVttName } from '../../domain/paths.ts';
import { MediaStatus, mediaStatuses } from '../../domain/status.ts';

export const mediaIdParams = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: '7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10' }),
});

export const paginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
});

export const mediaSchema = z
  .object({
    id: z.uuid(),
    title: z.string(),
    status: z.enum(mediaStatuses),
    playable: z.boolean().openapi({ description: 'true once the stream endpoint serves the media' }),
    progress: z.number().int().min(0).max(100),
    duration: z.number().nullable().openapi({ description: 'seconds, known once probed' }),
    source: z
      .object({
        kind: z.enum(['video', 'audio']),
        size: z.number().int(),
        filename: z.string().nullable(),
        content_type: z.string().nullable(),
      })
      .nullable(),
    error: z.string().nullable().openapi({ description: 'why processing failed, when Errored' }),
    links: z
      .object({
        master: z.string().nullable().openapi({ description: 'HLS master playlist, once playable' }),
        dash: z.string().nullable().openapi({ description: 'DASH manifest, once Ready' }),
        download: z.string().nullable().openapi({ description: 'progressive MP4 (M4A for audio), once Ready' }),
        poster: z.string().nullable(),
        storyboard: z.string().nullable().openapi({ description: 'WebVTT of seek-bar thumbnails (regions of storyboard.jpg)' }),
        events: z.string(),
        renditions: z.string(),
      })
      .openapi('MediaLinks'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Media');

export const createMediaBody = z
  .object({ title: z.string().trim().min(1, 'title must not be empty').max(255) })
  .openapi('CreateMedia');
export const updateMediaBody = createMediaBody.openapi('UpdateMedia');

export const eventSchema = z
  .object({
    id: z.number().int(),
    type: z.string(),
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .openapi('MediaEvent');

export const renditionSchema = z
  .object({
    name: z.string(),
    type: z.enum(['video', 'audio']),
    status: z.enum(['Pending', 'Encoding', 'Ready', 'Errored']),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    frame_rate: z.number().nullable(),
    bandwidth: z.number().int().nullable(),
    codecs: z.string().nullable(),
    progress: z.number().int(),
    attempts: z.number().int(),
    playlist: z.string().nullable(),
  })
  .openapi('Rendition');

export type MediaJson = z.infer<typeof mediaSchema>;

function linksOf(m: MediaRow): MediaJson['links'] {
  const stream = (file: string) => `/medias/${m.id}/stream/${file}`;
  const ready = m.status === MediaStatus.Ready;
  const hasPicture = ready && m.source_kind === 'video' && !!m.probe?.video;
  return {
    master: m.playable ? stream(masterPlaylistName) : null,
    dash: ready ? stream(dashManifestName) : null,
    download: ready ? stream(downloadName(!hasPicture)) : null,
    poster: hasPicture ? stream(posterName) : null,
    storyboard: hasPicture ? stream(storyboardVttName) : null,
    events: `/medias/${m.id}/events`,
    renditions: `/medias/${m.id}/renditions`,
  };
}

export function toMediaJson(m: MediaRow): MediaJson {
  return {
    id: m.id,
    title: m.title,
    status: m.status,
    playable: m.playable,
    progress: m.progress,
    duration: m.duration,
    source: m.source_kind
      ? { kind: m.source_kind, size: Number(m.source_size ?? 0), filename: m.source_filename, content_type: m.source_content_type }
      : null,
    error: m.error,
    links: linksOf(m),
    created_at: m.created_at.toISOString(),
    updated_at: m.updated_at.toISOString(),
  };
}

export const toEventJson = (e: MediaEventRow): z.infer<typeof eventSchema> => ({
  id: Number(e.id),
  type: e.type,
  level: e.level,
  message: e.message,
  data: e.data,
  created_at: e.created_at.toISOString(),
});

export const toRenditionJson = (r: RenditionRow): z.infer<typeof renditionSchema> => ({
  name: r.name,
  type: r.type,
  status: r.status,
  width: r.width,
  height: r.height,
  frame_rate: r.frame_rate,
  bandwidth: r.bandwidth,
  codecs: r.codecs,
  progress: r.progress,
  attempts: r.attempts,
  playlist: r.playlist,
});
