import { versionOf } from '../stream/caching.ts';
import { z } from '@hono/zod-openapi';
import type { MediaEventRow, MediaRow, RenditionRow } from '../../../db/medias.ts';
import {
  dashManifestName,
  downloadName,
  masterPlaylistName,
  posterName,
  storyboardVttName,
} from '../../../domain/paths.ts';
import { MediaStatus, mediaStatuses } from '../../../domain/status.ts';
import { workflowIdOf } from '../../../domain/workflow.ts';
import { printable } from '../../params.ts';

/** Text a person typed: control characters (NUL first, which Postgres refuses) are a 400, not a 500. */

export const mediaListQuery = () =>
  paginationQuery.extend({
    q: printable(z.string())
      .max(255)
      .trim()
      .optional()
      .openapi({ description: 'part of the title, any case', example: 'launch' }),
    status: z.enum(mediaStatuses).optional().openapi({ example: 'Errored' }),
  });

/** `?force=true` on a cancel: terminate the run at once instead of asking it to stop. */
export const cancelQuery = z.object({
  force: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .openapi({
      description:
        "true: terminate the media's run at once, without waiting for its activities to stop, for a run that does not answer a cancel (no worker can run it, or it is stuck after an upgrade). Activities of the terminated run still in flight write nothing more for the media.",
      example: 'false',
    }),
});

/**
 * An integer query parameter. Plain coercion would read `?offset=` as 0; an empty value is
 * refused like any other text that is not a number. The document shows the integer it takes.
 */
export const queryInt = (min: number, max: number, fallback: number) =>
  z
    .preprocess((v) => (v === '' ? 'empty' : v), z.coerce.number().int().min(min).max(max))
    .optional()
    .default(fallback)
    .openapi({ type: 'integer', minimum: min, maximum: max, default: fallback, example: fallback });

export const paginationQuery = z.object({
  limit: queryInt(1, 100, 20),
  offset: queryInt(0, Number.MAX_SAFE_INTEGER, 0),
});

const probeSummarySchema = z
  .object({
    format: z.string().openapi({ example: 'mov,mp4,m4a,3gp,3g2,mj2' }),
    duration: z.number().openapi({ example: 12.5 }),
    size: z.number(),
    bit_rate: z.number().nullable(),
    video: z
      .object({
        codec: z.string().openapi({ example: 'h264' }),
        width: z.number().int().openapi({ description: 'as displayed, after rotation', example: 1920 }),
        height: z.number().int().openapi({ example: 1080 }),
        frame_rate: z.number().openapi({ example: 29.97 }),
        rotation: z.number().int(),
        pixel_format: z.string().nullable().openapi({ example: 'yuv420p' }),
      })
      .nullable(),
    audio: z
      .object({
        codec: z.string().openapi({ example: 'aac' }),
        channels: z.number().int(),
        sample_rate: z.number().int(),
      })
      .nullable(),
  })
  .openapi('ProbeSummary');

const clipRange = z
  .strictObject({
    media_id: z.uuid().openapi({ description: 'a Ready media' }),
    start: z
      .number()
      .min(0)
      .max(86_400 * 7)
      .openapi({ description: 'seconds into it', example: 10 }),
    end: z
      .number()
      .min(0)
      .max(86_400 * 7)
      .openapi({ description: 'seconds into it, after start, not past its end', example: 25 }),
  })
  .openapi('ClipRange');

export const mediaSchema = z
  .object({
    id: z.uuid(),
    title: z.string(),
    private: z.boolean().openapi({ description: 'streams need a playback token' }),
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
    clip: clipRange
      .nullable()
      .openapi({ description: 'the media and range this clip was cut from; null for an upload' }),
    original_filename: z
      .string()
      .openapi({ description: 'v1: the uploaded file\'s name ("" before an upload); also source.filename' }),
    message: z.string().openapi({ description: 'v1: the last error, or what the status means', example: 'ready' }),
    probe: probeSummarySchema.nullable().openapi({ description: 'what the source holds, once probed' }),
    workflow: z
      .object({
        id: z.string().openapi({ example: 'media-7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10' }),
        run_id: z.string().nullable().openapi({ description: 'the run that processes (or last processed) the media' }),
        url: z.string().openapi({ description: 'the run (or the workflow id search) in the Temporal UI' }),
        trace_url: z.string().nullable().openapi({
          description:
            'the trace of the latest upload or retry (request, bridge, workflow, activities, each ffmpeg run) in the tracing UI (tracing.ui_url); null when tracing is off',
        }),
      })
      .nullable()
      .openapi('MediaWorkflow', { description: 'the Temporal workflow, once processing was scheduled' }),
    links: z
      .object({
        master: z.string().nullable().openapi({ description: 'HLS master playlist, once playable' }),
        dash: z.string().nullable().openapi({ description: 'DASH manifest, once Ready' }),
        download: z.string().nullable().openapi({ description: 'progressive MP4 (M4A for audio), once Ready' }),
        poster: z.string().nullable(),
        storyboard: z
          .string()
          .nullable()
          .openapi({ description: 'WebVTT of seek-bar thumbnails (regions of storyboard.jpg)' }),
        events: z.string(),
        renditions: z.string(),
      })
      .openapi('MediaLinks'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Media');

/**
 * A title is at most 255 characters as sent, is trimmed, then must not be empty. The document says the same in one pattern (what
 * String.prototype.trim removes, then one visible character, and no control characters
 * anywhere), so that a client validating against it agrees with the server; the checks below
 * give each problem its own message.
 */
const trimmedChars = '\\t\\n\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF';
const controlChars = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F';
const title = printable(z.string())
  .max(255)
  .trim()
  .min(1, 'title must not be empty')
  .openapi({
    example: 'Launch keynote',
    pattern: `^[${trimmedChars}]*[^${trimmedChars}${controlChars}][^${controlChars}]*$`,
  });
const isPrivate = z.boolean().openapi({
  description: 'streamed only with a playback token (POST /medias/{id}/playback-token); false when absent',
});
export const createMediaBody = z
  .object({
    title,
    private: isPrivate.optional(),
    clip: clipRange.optional().openapi({
      description:
        'make this media a clip of a time range of a Ready media: cut frame-accurately from its source and processed at once',
    }),
  })
  .openapi('CreateMedia');
export const updateMediaBody = z
  .object({ title: title.optional(), private: isPrivate.optional() })
  .refine((b) => b.title !== undefined || b.private !== undefined, 'give title, private, or both')
  .openapi('UpdateMedia', { minProperties: 1 });

export const playbackTokenBody = z
  .object({
    ttl_seconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 24 * 3600)
      .optional()
      .openapi({ description: 'default playback.token_ttl_seconds', example: 3600 }),
  })
  .openapi('PlaybackTokenRequest');

export const playbackTokenSchema = z
  .object({
    token: z.string().openapi({ example: '1767225600.q3Xh0o3gYl2m4k8Jx1pM9m3Q0cA0vXcUj9o6t3tWm4E' }),
    expires_at: z.string(),
    query: z
      .string()
      .openapi({ description: 'append to any stream URL of the media', example: 'token=1767225600.q3Xh…' }),
    cookie: z.string().openapi({ description: 'or send this cookie (name=value) with the stream requests' }),
    links: z.object({
      master: z
        .string()
        .openapi({ description: 'HLS master playlist with the token; the playlists it leads to carry it too' }),
      dash: z.string(),
    }),
  })
  .openapi('PlaybackToken');

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
    attempts: z.number().int().openapi({ description: 'attempts of its encode (chunked: of its most tried chunk)' }),
    playlist: z.string().nullable(),
    chunks: z.object({ total: z.number().int(), done: z.number().int() }).nullable().openapi({
      description:
        'a rendition of a long source is encoded in chunks: how many, how many stored; null when encoded whole',
    }),
  })
  .openapi('Rendition');

export type MediaJson = z.infer<typeof mediaSchema>;

function linksOf(m: MediaRow): MediaJson['links'] {
  const stream = (file: string) => `/medias/${m.id}/stream/${file}`;
  // The files a run wrote once carry its version: a CDN keeps them a year (see caching.ts).
  const version = versionOf(m);
  const versioned = (file: string) => (version ? `${stream(file)}?v=${version}` : stream(file));
  const ready = m.status === MediaStatus.Ready;
  const hasPicture = ready && m.source_kind === 'video' && !!m.probe?.video;
  return {
    master: m.playable ? stream(masterPlaylistName) : null,
    dash: ready ? stream(dashManifestName) : null,
    download: ready ? versioned(downloadName(!hasPicture)) : null,
    poster: hasPicture ? versioned(posterName) : null,
    storyboard: hasPicture ? versioned(storyboardVttName) : null,
    events: `/medias/${m.id}/events`,
    renditions: `/medias/${m.id}/renditions`,
  };
}

/** Where the Temporal UI and the tracing UI (Jaeger) are, for links to a media's workflow and trace. */
export interface OperatorUis {
  temporal: { ui_url: string; namespace: string };
  tracing: { ui_url?: string | undefined };
}

function workflowOf(m: MediaRow, ui: OperatorUis): MediaJson['workflow'] {
  if (m.status === MediaStatus.AwaitingUpload) return null;
  const id = workflowIdOf(m.id);
  const base = `${trimSlash(ui.temporal.ui_url)}/namespaces/${encodeURIComponent(ui.temporal.namespace)}/workflows`;
  const url = m.workflow_run_id
    ? `${base}/${encodeURIComponent(id)}/${encodeURIComponent(m.workflow_run_id)}/history`
    : `${base}?query=${encodeURIComponent(`WorkflowId="${id}"`)}`;
  const traceUrl = ui.tracing.ui_url && m.trace_id ? `${trimSlash(ui.tracing.ui_url)}/trace/${m.trace_id}` : null;
  return { id, run_id: m.workflow_run_id, url, trace_url: traceUrl };
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

function probeOf(m: MediaRow): MediaJson['probe'] {
  const p = m.probe;
  if (!p) return null;
  return {
    format: p.formatName,
    duration: p.duration,
    size: p.size,
    bit_rate: p.bitrate,
    video: p.video
      ? {
          codec: p.video.codec,
          width: p.video.displayWidth,
          height: p.video.displayHeight,
          frame_rate: p.video.frameRate,
          rotation: p.video.rotation,
          pixel_format: p.video.pixelFormat,
        }
      : null,
    audio: p.audio ? { codec: p.audio.codec, channels: p.audio.channels, sample_rate: p.audio.sampleRate } : null,
  };
}

/** What a status means, in words (the v1 `message` of a media without an error). */
function statusText(m: MediaRow): string {
  switch (m.status) {
    case MediaStatus.AwaitingUpload:
      return 'waiting for an upload';
    case MediaStatus.ScheduledProcessing:
      return 'waiting to be processed';
    case MediaStatus.Processing:
      return m.playable ? 'processing (playable already)' : 'processing';
    case MediaStatus.Ready:
      return 'ready';
    case MediaStatus.Errored:
      return 'errored';
  }
}

export function toMediaJson(m: MediaRow, ui: OperatorUis): MediaJson {
  return {
    id: m.id,
    title: m.title,
    private: m.private,
    status: m.status,
    playable: m.playable,
    progress: m.progress,
    duration: m.duration,
    source: m.source_kind
      ? {
          kind: m.source_kind,
          size: Number(m.source_size ?? 0),
          filename: m.source_filename,
          content_type: m.source_content_type,
        }
      : null,
    error: m.error,
    clip: m.clip ? { media_id: m.clip.mediaId, start: m.clip.start, end: m.clip.end } : null,
    original_filename: m.source_filename ?? '',
    message: m.error ?? statusText(m),
    probe: probeOf(m),
    workflow: workflowOf(m, ui),
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
  chunks: r.chunks_total ? { total: r.chunks_total, done: r.chunks_done } : null,
});
