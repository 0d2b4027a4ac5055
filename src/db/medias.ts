import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Probe } from '../domain/probe.ts';
import type { RenditionPlan } from '../domain/renditions.ts';
import { MediaStatus, mediaStatuses, type RenditionStatus, type SourceKind } from '../domain/status.ts';
import { topics, type TopicMessages } from '../domain/messages.ts';
import { uploadedSourceKey } from '../domain/paths.ts';
import type { ClipRange } from '../domain/workflow.ts';
import { traceFields } from '../tracing.ts';
import { addToOutbox } from './outbox.ts';
import { inTransaction, type Db } from './pool.ts';

export interface MediaRow {
  id: string;
  title: string;
  status: MediaStatus;
  source_kind: SourceKind | null;
  source_key: string | null;
  source_size: string | null;
  source_filename: string | null;
  source_content_type: string | null;
  probe: Probe | null;
  duration: number | null;
  playable: boolean;
  progress: number;
  error: string | null;
  workflow_run_id: string | null;
  /** The trace of the latest upload or retry, when tracing was on. */
  trace_id: string | null;
  source_url: string | null;
  /** A clip: the parent media and the range of it (seconds); null for an uploaded media. */
  clip: ClipRange | null;
  private: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface MediaFilter {
  /** Part of the title, any case. */
  q?: string;
  status?: MediaStatus;
}

export interface RenditionRow {
  media_id: string;
  name: string;
  type: 'video' | 'audio';
  status: RenditionStatus;
  width: number | null;
  height: number | null;
  frame_rate: number | null;
  video_bitrate: number | null;
  audio_bitrate: number | null;
  bandwidth: number | null;
  average_bandwidth: number | null;
  codecs: string | null;
  playlist: string | null;
  progress: number;
  attempts: number;
  /** Chunked renditions: how many chunks, how many stored; null chunks_total when encoded whole. */
  chunks_total: number | null;
  chunks_done: number;
  /** A rendition published while it encodes: seconds of it stored so far. */
  stored_seconds: number;
  updated_at: Date;
}

/** One stored segment of a chunk: what the rendition's playlist lists, and its size for the bit rates. */
export interface StoredSegment {
  uri: string;
  duration: number;
  bytes: number;
}

export interface ChunkRow {
  media_id: string;
  rendition: string;
  chunk: number;
  status: RenditionStatus;
  progress: number;
  attempts: number;
  segments: StoredSegment[] | null;
  init_bytes: number | null;
  codecs: string | null;
  updated_at: Date;
}

/** Who writes a rendition's state: the encode attempt (its number), and its workflow run when in one. */
export interface RenditionWriter {
  attempt: number;
  runId?: string | undefined;
}

export type EventLevel = 'info' | 'warn' | 'error';
export interface MediaEventInput {
  type: string;
  level?: EventLevel;
  message: string;
  data?: Record<string, unknown>;
}
export interface MediaEventRow {
  id: string;
  media_id: string;
  type: string;
  level: EventLevel;
  message: string;
  data: Record<string, unknown>;
  created_at: Date;
}

export type Queryable = Pick<pg.ClientBase, 'query'>;

export interface ScheduledUpload {
  kind: SourceKind;
  key: string;
  /** Bytes stored; 0 while an upload from URL has not been fetched yet. */
  size: number;
  /** Upload from URL: the worker fetches the source from here first. */
  url?: string;
  filename: string | null;
  contentType: string | null;
}

/**
 * Schedules a media's processing: the media.uploaded message (the bridge starts its workflow from
 * it), and, when tracing is on, the id of the trace it continues, which the admin page links to.
 */
async function scheduleProcessing(q: Queryable, message: TopicMessages[typeof topics.mediaUploaded]) {
  await addToOutbox(q, topics.mediaUploaded, message);
  const { trace_id: traceId } = traceFields();
  if (traceId) await q.query('UPDATE medias SET trace_id = $2 WHERE id = $1', [message.mediaId, traceId]);
}

/**
 * A media event, and in the same statement its outbox message (topic media.event: the relay
 * publishes it to the events exchange, whence webhooks and the user's own queues take it).
 */
export const addEvent = async (q: Queryable, mediaId: string, e: MediaEventInput) => {
  // INSERT … SELECT: an event for a media deleted meanwhile is dropped, not an error.
  await q.query(
    `WITH ev AS (
       INSERT INTO media_events (media_id, type, level, message, data)
       SELECT id, $2, $3, $4, $5 FROM medias WHERE id = $1 RETURNING *),
     queued AS (
       INSERT INTO outbox (topic, payload)
       SELECT $6, jsonb_build_object('id', 'evt_' || ev.id, 'type', ev.type, 'mediaId', ev.media_id,
         'level', ev.level, 'message', ev.message, 'data', ev.data, 'createdAt', ev.created_at) FROM ev
       RETURNING 1)
     SELECT pg_notify('gilfoyle_outbox', '') FROM queued`,
    [mediaId, e.type, e.level ?? 'info', e.message, JSON.stringify(e.data ?? {}), topics.mediaEvent],
  );
};

/** Postgres access for medias, their renditions, events and the outbox. */
export function createMediaRepository(db: Db) {
  /**
   * A write of a rendition's state, guarded in the SQL: `when` (with $attempt) says from which
   * states the write may land, and a writer inside a workflow run writes only while the media is
   * that run's. Writes that arrive late, out of order (held up by an outage), change nothing.
   * The event is written with the state, in one transaction, only when the state changed.
   */
  const writeRendition = async (
    mediaId: string,
    name: string,
    state: Partial<
      Pick<
        RenditionRow,
        | 'status'
        | 'progress'
        | 'attempts'
        | 'bandwidth'
        | 'average_bandwidth'
        | 'codecs'
        | 'playlist'
        | 'stored_seconds'
      >
    >,
    by: RenditionWriter,
    when: string,
    event?: MediaEventInput,
  ): Promise<boolean> => {
    const values: unknown[] = [mediaId, name];
    const sets = Object.entries(state).map(([col, value]) => `${col} = $${values.push(value)}`);
    const guards = [when.includes('$attempt') ? when.replaceAll('$attempt', `$${values.push(by.attempt)}::int`) : when];
    if (by.runId)
      guards.push(`EXISTS (SELECT 1 FROM medias m WHERE m.id = $1 AND m.workflow_run_id = $${values.push(by.runId)})`);
    const write = async (q: Queryable) => {
      const { rowCount } = await q.query(
        `UPDATE renditions SET ${sets.join(', ')}, updated_at = now() WHERE media_id = $1 AND name = $2 AND ${guards.join(' AND ')}`,
        values,
      );
      if (rowCount && event) await addEvent(q, mediaId, event);
      return (rowCount ?? 0) > 0;
    };
    const changed = event ? await inTransaction(db, write) : await write(db);
    if (changed) await mediaProgressFromRenditions(db, mediaId);
    return changed;
  };

  /** The media's progress is the mean of its renditions'. */
  const mediaProgressFromRenditions = async (q: Queryable, mediaId: string) => {
    await q.query(
      `UPDATE medias SET progress = sub.p, updated_at = now()
       FROM (SELECT floor(avg(CASE WHEN status = 'Ready' THEN 100 ELSE progress END))::int AS p
             FROM renditions WHERE media_id = $1) sub
       WHERE id = $1 AND status = 'Processing' AND sub.p IS NOT NULL`,
      [mediaId],
    );
  };

  /**
   * A write of one chunk's state, guarded like a rendition's (`when`, the writer's run); then
   * the rendition's count and progress from its chunks (chunks stored plus the running ones'
   * fractions), the rendition Encoding once a chunk is, and the media's progress from those.
   */
  const writeChunk = async (
    key: { mediaId: string; rendition: string; chunk: number },
    state: Partial<Pick<ChunkRow, 'status' | 'progress' | 'attempts' | 'init_bytes' | 'codecs'>> & {
      segments?: StoredSegment[];
    },
    by: RenditionWriter,
    when: string,
    event?: MediaEventInput,
  ): Promise<boolean> => {
    const values: unknown[] = [key.mediaId, key.rendition, key.chunk];
    const sets = Object.entries(state).map(
      ([col, value]) => `${col} = $${values.push(col === 'segments' ? JSON.stringify(value) : value)}`,
    );
    const guards = [when.includes('$attempt') ? when.replaceAll('$attempt', `$${values.push(by.attempt)}::int`) : when];
    if (by.runId)
      guards.push(`EXISTS (SELECT 1 FROM medias m WHERE m.id = $1 AND m.workflow_run_id = $${values.push(by.runId)})`);
    const write = async (q: Queryable) => {
      const { rowCount } = await q.query(
        `UPDATE rendition_chunks SET ${sets.join(', ')}, updated_at = now()
         WHERE media_id = $1 AND rendition = $2 AND chunk = $3 AND ${guards.join(' AND ')}`,
        values,
      );
      if (!rowCount) return false;
      await q.query(
        `UPDATE renditions r SET chunks_done = sub.done, attempts = sub.attempts,
           progress = CASE WHEN r.status = 'Ready' THEN 100 ELSE LEAST(99, floor(100 * sub.part / r.chunks_total))::int END,
           status = CASE WHEN r.status = 'Pending' THEN 'Encoding' ELSE r.status END, updated_at = now()
         FROM (SELECT count(*) FILTER (WHERE status = 'Ready') AS done, max(attempts) AS attempts,
                      sum(CASE WHEN status = 'Ready' THEN 1 ELSE progress / 100.0 END) AS part
               FROM rendition_chunks WHERE media_id = $1 AND rendition = $2) sub
         WHERE r.media_id = $1 AND r.name = $2`,
        [key.mediaId, key.rendition],
      );
      if (event) await addEvent(q, key.mediaId, event);
      return true;
    };
    const changed = await inTransaction(db, write);
    if (changed) await mediaProgressFromRenditions(db, key.mediaId);
    return changed;
  };

  return {
    async create(id: string, title: string, isPrivate = false): Promise<MediaRow> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<MediaRow>(
          'INSERT INTO medias (id, title, private) VALUES ($1, $2, $3) RETURNING *',
          [id, title, isPrivate],
        );
        await addEvent(c, id, { type: 'media.created', message: `media created, awaiting upload` });
        return rows[0]!;
      });
    },

    /**
     * A clip of a Ready media: made ScheduledProcessing at once (its source is cut from the
     * parent's by the workflow), with its media.created and media.uploaded events and its outbox
     * message, in one transaction. Null when the parent is gone or no longer Ready.
     */
    async createClip(id: string, title: string, isPrivate: boolean, clip: ClipRange): Promise<MediaRow | null> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<MediaRow>(
          `INSERT INTO medias (id, title, private, status, source_kind, source_key, source_size, source_filename, source_content_type, clip)
           SELECT $1, $2, $3, $4, p.source_kind, $5, 0,
             CASE p.source_kind WHEN 'audio' THEN 'clip.m4a' ELSE 'clip.mp4' END,
             CASE p.source_kind WHEN 'audio' THEN 'audio/mp4' ELSE 'video/mp4' END, $6
           FROM medias p WHERE p.id = $7 AND p.status = $8 AND p.source_key IS NOT NULL FOR SHARE OF p
           RETURNING *`,
          [
            id,
            title,
            isPrivate,
            MediaStatus.ScheduledProcessing,
            uploadedSourceKey(id, 'clip'),
            JSON.stringify(clip),
            clip.mediaId,
            MediaStatus.Ready,
          ],
        );
        const media = rows[0];
        if (!media) return null;
        const range = `${clip.start.toFixed(3)}–${clip.end.toFixed(3)} s`;
        // Events say it as the API does (the clip field of GET /medias/{id}).
        const named = { clip: { media_id: clip.mediaId, start: clip.start, end: clip.end } };
        await addEvent(c, id, {
          type: 'media.created',
          message: `clip of media ${clip.mediaId} (${range}) created`,
          data: named,
        });
        await addEvent(c, id, {
          type: 'media.uploaded',
          message: `clip of media ${clip.mediaId} (${range}) scheduled for processing`,
          data: named,
        });
        await scheduleProcessing(c, {
          mediaId: id,
          sourceKey: media.source_key!,
          kind: media.source_kind ?? 'video',
          clip,
        });
        return media;
      });
    },

    /** How many medias are in each status (the metrics gauge). */
    async countByStatus(): Promise<Record<MediaStatus, number>> {
      const { rows } = await db.query<{ status: MediaStatus; n: string }>(
        'SELECT status, count(*) AS n FROM medias GROUP BY status',
      );
      return Object.fromEntries(
        mediaStatuses.map((status) => [status, Number(rows.find((r) => r.status === status)?.n ?? 0)]),
      ) as Record<MediaStatus, number>;
    },

    async get(id: string): Promise<MediaRow | null> {
      const { rows } = await db.query<MediaRow>('SELECT * FROM medias WHERE id = $1', [id]);
      return rows[0] ?? null;
    },

    async list(limit: number, offset: number, filter: MediaFilter = {}): Promise<{ items: MediaRow[]; total: number }> {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.q) {
        values.push(`%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
        where.push(`title ILIKE $${values.length}`);
      }
      if (filter.status) {
        values.push(filter.status);
        where.push(`status = $${values.length}`);
      }
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const [items, total] = await Promise.all([
        db.query<MediaRow>(
          `SELECT * FROM medias ${clause} ORDER BY created_at DESC, id LIMIT $${values.length + 1} OFFSET $${values.length + 2}`,
          [...values, limit, offset],
        ),
        db.query<{ count: string }>(`SELECT count(*) FROM medias ${clause}`, values),
      ]);
      return { items: items.rows, total: Number(total.rows[0]!.count) };
    },

    async update(id: string, change: { title?: string; private?: boolean }): Promise<MediaRow | null> {
      const { rows } = await db.query<MediaRow>(
        'UPDATE medias SET title = coalesce($2, title), private = coalesce($3, private), updated_at = now() WHERE id = $1 RETURNING *',
        [id, change.title ?? null, change.private ?? null],
      );
      return rows[0] ?? null;
    },

    /** Deletes the media with its events, and queues a media.deleted event that carries the row as it was. */
    async delete(id: string): Promise<boolean> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<MediaRow>('DELETE FROM medias WHERE id = $1 RETURNING *', [id]);
        const media = rows[0];
        if (!media) return false;
        await addToOutbox(c, topics.mediaEvent, {
          id: `evt_deleted_${randomUUID()}`,
          type: 'media.deleted',
          mediaId: id,
          level: 'info',
          message: 'media deleted, with its files',
          data: {},
          createdAt: new Date().toISOString(),
          media: JSON.parse(JSON.stringify(media)) as Record<string, unknown>,
        });
        return true;
      });
    },

    /**
     * The upload is stored: in one transaction, move to ScheduledProcessing and queue the
     * "media uploaded" message. Returns null when the media is gone or not in `fromStatuses`.
     */
    async scheduleProcessing(
      id: string,
      upload: ScheduledUpload,
      fromStatuses: readonly MediaStatus[],
    ): Promise<(MediaRow & { previous_source_key: string | null; dropped_keys: string[] }) | null> {
      return inTransaction(db, async (c) => {
        // previous_source_key: the file this upload replaces (an Errored media uploaded again).
        const { rows } = await c.query<MediaRow & { previous_source_key: string | null; dropped_keys: string[] }>(
          `UPDATE medias m SET status = $2, source_kind = $3, source_key = $4, source_size = $5,
             source_filename = $6, source_content_type = $7, source_url = $9, probe = NULL, duration = NULL,
             playable = false, progress = 0, error = NULL, workflow_run_id = NULL, updated_at = now()
           FROM (SELECT source_key FROM medias WHERE id = $1 FOR UPDATE) old
           WHERE m.id = $1 AND m.status = ANY($8) RETURNING m.*, old.source_key AS previous_source_key`,
          [
            id,
            MediaStatus.ScheduledProcessing,
            upload.kind,
            upload.key,
            upload.size,
            upload.filename,
            upload.contentType,
            fromStatuses,
            upload.url ?? null,
          ],
        );
        const media = rows[0];
        if (!media) return null;
        await c.query('DELETE FROM renditions WHERE media_id = $1', [id]);
        // What the old source gave goes with it: its subtitle streams (its files: see dropped_keys).
        const { rows: dropped } = await c.query<{ storage_key: string }>(
          `DELETE FROM attachments WHERE media_id = $1 AND origin = 'source' RETURNING storage_key`,
          [id],
        );
        media.dropped_keys = dropped.map((d) => d.storage_key);
        await addEvent(c, id, {
          type: 'media.uploaded',
          message: upload.url
            ? `${upload.kind} file to be fetched from ${new URL(upload.url).origin}, scheduled for processing`
            : `${upload.kind} file received (${upload.size} bytes), scheduled for processing`,
          data: {
            size: upload.size,
            filename: upload.filename,
            contentType: upload.contentType,
            ...(upload.url ? { url: upload.url } : {}),
          },
        });
        await scheduleProcessing(c, {
          mediaId: id,
          sourceKey: upload.key,
          kind: upload.kind,
          ...(upload.url ? { url: upload.url } : {}),
        });
        return media;
      });
    },

    /**
     * Processes an Errored media again from its stored source (or its URL, when the fetch
     * never succeeded): status, rendition states, a `media.retry` event and the outbox
     * message in one transaction. Null when the media is gone or not Errored.
     */
    async retry(id: string, reason: string): Promise<MediaRow | null> {
      return inTransaction(db, async (c) => {
        // The run id is cleared: until the new run takes the media, no run's activity may write for it.
        const { rows } = await c.query<MediaRow & { previous_error: string | null; previous_run_id: string | null }>(
          `UPDATE medias m SET status = $2, playable = false, progress = 0, error = NULL, workflow_run_id = NULL, updated_at = now()
           FROM (SELECT error, workflow_run_id FROM medias WHERE id = $1 FOR UPDATE) old
           WHERE m.id = $1 AND m.status = $3 AND m.source_key IS NOT NULL
           RETURNING m.*, old.error AS previous_error, old.workflow_run_id AS previous_run_id`,
          [id, MediaStatus.ScheduledProcessing, MediaStatus.Errored],
        );
        const media = rows[0];
        if (!media) return null;
        await c.query(
          `UPDATE renditions SET status = 'Pending', progress = 0, attempts = 0, chunks_done = 0, stored_seconds = 0, updated_at = now() WHERE media_id = $1`,
          [id],
        );
        // A source never fetched (URL) or never cut (clip) is fetched or cut again.
        const refetch = (media.source_url !== null || media.clip !== null) && Number(media.source_size ?? 0) === 0;
        await addEvent(c, id, {
          type: 'media.retry',
          message: `retry requested: ${reason}`,
          data: { previousRunId: media.previous_run_id, previousError: media.previous_error, refetch },
        });
        await scheduleProcessing(c, {
          mediaId: id,
          sourceKey: media.source_key!,
          kind: media.source_kind ?? 'video',
          ...(refetch && media.source_url ? { url: media.source_url } : {}),
          ...(refetch && media.clip ? { clip: media.clip } : {}),
        });
        return media;
      });
    },

    /**
     * A media being processed is cancelled: Errored, error "cancelled", with a media.cancelled
     * event saying `how`. Null when it is gone or no longer being processed.
     */
    async cancel(id: string, how: string): Promise<MediaRow | null> {
      return inTransaction(db, async (c) => {
        const { rows } = await c.query<MediaRow>(
          `UPDATE medias SET status = 'Errored', playable = false, error = 'cancelled', updated_at = now()
           WHERE id = $1 AND status IN ('ScheduledProcessing', 'Processing') RETURNING *`,
          [id],
        );
        if (!rows[0]) return null;
        await addEvent(c, id, {
          type: 'media.cancelled',
          level: 'warn',
          message: `processing cancelled through the API ${how}; POST /medias/{id}/retry processes it again`,
        });
        return rows[0];
      });
    },

    /**
     * A workflow run takes the media: records its run id, but only while the media waits
     * to be processed. Returns the status that refused it, or null when the media is gone.
     */
    async claimRun(id: string, runId: string): Promise<'claimed' | MediaStatus | null> {
      const { rows } = await db.query<{ status: MediaStatus; claimed: boolean }>(
        `WITH claimed AS (
           UPDATE medias SET workflow_run_id = $2, updated_at = now()
           WHERE id = $1 AND status IN ('ScheduledProcessing', 'Processing') RETURNING id)
         SELECT status, EXISTS (SELECT 1 FROM claimed) AS claimed FROM medias WHERE id = $1`,
        [id, runId],
      );
      const row = rows[0];
      if (!row) return null;
      return row.claimed ? 'claimed' : row.status;
    },

    addEvent: (mediaId: string, e: MediaEventInput) => addEvent(db, mediaId, e),

    async listEvents(
      mediaId: string,
      limit: number,
      offset: number,
    ): Promise<{ items: MediaEventRow[]; total: number }> {
      const [items, total] = await Promise.all([
        db.query<MediaEventRow>('SELECT * FROM media_events WHERE media_id = $1 ORDER BY id LIMIT $2 OFFSET $3', [
          mediaId,
          limit,
          offset,
        ]),
        db.query<{ count: string }>('SELECT count(*) FROM media_events WHERE media_id = $1', [mediaId]),
      ]);
      return { items: items.rows, total: Number(total.rows[0]!.count) };
    },

    /** The media's events after `afterId`, oldest first (the live event stream). */
    async eventsAfter(mediaId: string, afterId: number, limit: number): Promise<MediaEventRow[]> {
      const { rows } = await db.query<MediaEventRow>(
        'SELECT * FROM media_events WHERE media_id = $1 AND id > $2 ORDER BY id LIMIT $3',
        [mediaId, afterId, limit],
      );
      return rows;
    },

    async listRenditions(mediaId: string): Promise<RenditionRow[]> {
      const { rows } = await db.query<RenditionRow>(
        `SELECT * FROM renditions WHERE media_id = $1 ORDER BY type DESC, height DESC NULLS LAST, name`,
        [mediaId],
      );
      return rows;
    },

    /** Mirrors the workflow's state into the row; `event` is written in the same transaction. */
    async setState(
      id: string,
      state: Partial<{
        status: MediaStatus;
        probe: Probe;
        duration: number;
        playable: boolean;
        progress: number;
        error: string | null;
        sourceSize: number;
      }>,
      event?: MediaEventInput,
      /**
       * Only while the media is processed by this workflow run (and in one of these statuses):
       * a late activity of a terminated run changes nothing. Returns whether the media changed.
       */
      only?: { runId?: string; statuses?: readonly MediaStatus[] },
    ): Promise<boolean> {
      const sets: string[] = [];
      const values: unknown[] = [id];
      for (const [key, value] of Object.entries(state)) {
        if (value === undefined) continue;
        const col = key === 'sourceSize' ? 'source_size' : key;
        values.push(col === 'probe' ? JSON.stringify(value) : value);
        sets.push(`${col} = $${values.length}`);
      }
      const where = ['id = $1'];
      if (only?.runId) where.push(`workflow_run_id = $${values.push(only.runId)}`);
      if (only?.statuses) where.push(`status = ANY($${values.push(only.statuses)})`);
      return inTransaction(db, async (c) => {
        if (sets.length) {
          const { rowCount } = await c.query(
            `UPDATE medias SET ${sets.join(', ')}, updated_at = now() WHERE ${where.join(' AND ')}`,
            values,
          );
          if (only && rowCount === 0) return false;
        }
        if (event) await addEvent(c, id, event);
        return true;
      });
    },

    /**
     * Opens the stream of a media still Processing, once: true when this call did it (and added
     * `event`), false when the media already was playable or is no longer processing.
     */
    async markPlayable(id: string, event: MediaEventInput, only?: { runId?: string }): Promise<boolean> {
      return inTransaction(db, async (c) => {
        const r = await c.query(
          `UPDATE medias SET playable = true, updated_at = now()
           WHERE id = $1 AND NOT playable AND status = 'Processing' AND ($2::text IS NULL OR workflow_run_id = $2)`,
          [id, only?.runId ?? null],
        );
        if (!r.rowCount) return false;
        await addEvent(c, id, event);
        return true;
      });
    },

    /**
     * The renditions a run will encode, replacing any earlier plan; only while the media waits for
     * its encodes (ScheduledProcessing) in this run: a probe attempt arriving late, once encodes
     * have started, must not wipe their rows. Returns whether the plan was written.
     */
    async planRenditions(
      mediaId: string,
      plans: RenditionPlan[],
      runId?: string,
      /** Chunked renditions: how many chunks each has. */
      chunks: Record<string, number> = {},
    ): Promise<boolean> {
      return inTransaction(db, async (c) => {
        const { rowCount } = await c.query(
          `SELECT 1 FROM medias WHERE id = $1 AND status = 'ScheduledProcessing' AND ($2::text IS NULL OR workflow_run_id = $2) FOR UPDATE`,
          [mediaId, runId ?? null],
        );
        if (!rowCount) return false;
        await c.query('DELETE FROM renditions WHERE media_id = $1', [mediaId]);
        for (const p of plans) {
          const n = chunks[p.name] ?? null;
          await c.query(
            `INSERT INTO renditions (media_id, name, type, width, height, frame_rate, video_bitrate, audio_bitrate, chunks_total)
             SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM medias WHERE id = $1`,
            p.type === 'video'
              ? [mediaId, p.name, p.type, p.width, p.height, p.frameRate, p.videoBitrate, null, n]
              : [mediaId, p.name, p.type, null, null, null, null, p.audioBitrate, n],
          );
          if (n) {
            await c.query(
              `INSERT INTO rendition_chunks (media_id, rendition, chunk) SELECT $1, $2, generate_series(0, $3::int - 1)`,
              [mediaId, p.name, n],
            );
          }
        }
        return true;
      });
    },

    /** An encode attempt of the rendition starts: Encoding, progress 0. Not over a Ready rendition, nor by an older attempt. */
    startRenditionAttempt: (mediaId: string, name: string, by: RenditionWriter) =>
      writeRendition(
        mediaId,
        name,
        { status: 'Encoding', progress: 0, attempts: by.attempt },
        by,
        `status <> 'Ready' AND attempts <= $attempt`,
      ),

    /**
     * The running attempt's progress. Only while that very attempt encodes: a write held up (by a
     * database outage) that arrives after the rendition became Ready, or after a newer attempt
     * started, changes nothing.
     */
    renditionProgress: (mediaId: string, name: string, percent: number, by: RenditionWriter) =>
      writeRendition(mediaId, name, { progress: percent }, by, `status = 'Encoding' AND attempts = $attempt`),

    /** The rendition is encoded and stored: Ready, with its measures and event, once (a repeated write adds no second event). */
    renditionReady: (
      mediaId: string,
      name: string,
      result: Pick<RenditionRow, 'bandwidth' | 'average_bandwidth' | 'codecs' | 'playlist'>,
      event: MediaEventInput,
      by: RenditionWriter,
    ) => writeRendition(mediaId, name, { status: 'Ready', progress: 100, ...result }, by, `status <> 'Ready'`, event),

    /** The rendition's last attempt failed: Errored. Never over a Ready rendition, nor by an older attempt than the latest. */
    renditionErrored: (mediaId: string, name: string, by: RenditionWriter) =>
      writeRendition(mediaId, name, { status: 'Errored' }, by, `status <> 'Ready' AND attempts <= $attempt`),

    /** An encode attempt of one chunk starts. Not over a stored chunk, nor by an older attempt. */
    startChunkAttempt: (mediaId: string, rendition: string, chunk: number, by: RenditionWriter) =>
      writeChunk(
        { mediaId, rendition, chunk },
        { status: 'Encoding', progress: 0, attempts: by.attempt },
        by,
        `status <> 'Ready' AND attempts <= $attempt`,
      ),

    /** The running chunk attempt's progress; only while that attempt encodes it. */
    chunkProgress: (mediaId: string, rendition: string, chunk: number, percent: number, by: RenditionWriter) =>
      writeChunk(
        { mediaId, rendition, chunk },
        { progress: percent },
        by,
        `status = 'Encoding' AND attempts = $attempt`,
      ),

    /** The chunk is encoded and stored: its segments recorded, with its event; once. */
    chunkReady: (
      mediaId: string,
      rendition: string,
      chunk: number,
      stored: { segments: StoredSegment[]; init_bytes: number; codecs: string },
      event: MediaEventInput,
      by: RenditionWriter,
    ) =>
      writeChunk(
        { mediaId, rendition, chunk },
        { status: 'Ready', progress: 100, ...stored },
        by,
        `status <> 'Ready'`,
        event,
      ),

    /** The chunk's last attempt failed. */
    chunkErrored: (mediaId: string, rendition: string, chunk: number, by: RenditionWriter) =>
      writeChunk(
        { mediaId, rendition, chunk },
        { status: 'Errored' },
        by,
        `status <> 'Ready' AND attempts <= $attempt`,
      ),

    async listChunks(mediaId: string, rendition: string): Promise<ChunkRow[]> {
      const { rows } = await db.query<ChunkRow>(
        'SELECT * FROM rendition_chunks WHERE media_id = $1 AND rendition = $2 ORDER BY chunk',
        [mediaId, rendition],
      );
      return rows;
    },

    /**
     * Runs `fn` with the rendition's chunks while holding its row: writers of its growing playlist
     * go one after the other, each seeing every chunk stored before it (a playlist never shrinks).
     */
    async withChunksLocked<T>(mediaId: string, rendition: string, fn: (chunks: ChunkRow[]) => Promise<T>): Promise<T> {
      return inTransaction(db, async (c) => {
        await c.query('SELECT 1 FROM renditions WHERE media_id = $1 AND name = $2 FOR UPDATE', [mediaId, rendition]);
        const { rows } = await c.query<ChunkRow>(
          'SELECT * FROM rendition_chunks WHERE media_id = $1 AND rendition = $2 ORDER BY chunk',
          [mediaId, rendition],
        );
        return fn(rows);
      });
    },

    /** Seconds of a rendition published while it encodes; they only grow, and only while its attempt encodes it. */
    renditionStored: (mediaId: string, name: string, storedSeconds: number, by: RenditionWriter) =>
      writeRendition(
        mediaId,
        name,
        { stored_seconds: storedSeconds },
        by,
        `status = 'Encoding' AND attempts = $attempt AND stored_seconds < ${Number(storedSeconds)}`,
      ),
  };
}

export type MediaRepository = ReturnType<typeof createMediaRepository>;
