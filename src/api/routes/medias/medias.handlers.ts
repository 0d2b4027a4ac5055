import { randomUUID } from 'node:crypto';
import type { RouteHandler } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { HttpError } from '../../../domain/errors.ts';
import { dashManifestName, masterPlaylistName, mediaPrefix } from '../../../domain/paths.ts';
import { MediaStatus, processingStatuses } from '../../../domain/status.ts';
import type { Config } from '../../../config/schema.ts';
import type { AppEnv } from '../../deps.ts';
import { contentDisposition, sendStored } from '../../send-stored.ts';
import { issuePlaybackToken, playbackCookieName } from '../../security/playback-token.ts';
import type * as routes from './medias.routes.ts';
import { toEventJson, toMediaJson, toRenditionJson } from './medias.schemas.ts';

const notFound = (id: string) => new HttpError(404, `media ${id} not found`);

/** A private media needs playback tokens, which need a signing secret. */
function requireSigning(config: Config): string {
  const secret = config.playback.signing_secret;
  if (!secret)
    throw new HttpError(
      409,
      'private medias need playback.signing_secret in the configuration (GILFOYLE_PLAYBACK_SIGNING_SECRET)',
    );
  return secret;
}

/**
 * Making a media private: it needs a signing secret, and API keys, without which anyone could
 * list the medias and mint their playback tokens (privacy in name only).
 */
function requirePrivacy(config: Config) {
  requireSigning(config);
  if (!config.auth.api_keys.length)
    throw new HttpError(
      400,
      'private: true needs auth.api_keys in the configuration (GILFOYLE_AUTH_API_KEYS): without API keys anyone may list the medias and mint their playback tokens',
    );
}

export const listMedias: RouteHandler<typeof routes.listMedias, AppEnv> = async (c) => {
  const { limit, offset, q, status } = c.req.valid('query');
  const { items, total } = await c.var.deps.medias.list(limit, offset, { q, status });
  const ui = c.var.deps.config;
  return c.json({ code: 200, data: items.map((m) => toMediaJson(m, ui)), metadata: { total, limit, offset } }, 200);
};

export const createMedia: RouteHandler<typeof routes.createMedia, AppEnv> = async (c) => {
  const body = c.req.valid('json');
  if (body.private) requirePrivacy(c.var.deps.config);
  const media = body.clip
    ? await createClip(c.var.deps, body.title, body.private ?? false, body.clip)
    : await c.var.deps.medias.create(randomUUID(), body.title, body.private ?? false);
  return c.json({ code: 200, data: toMediaJson(media, c.var.deps.config) }, 200);
};

/** A clip of a Ready media's range: checked against the parent, then scheduled at once. */
async function createClip(
  deps: AppEnv['Variables']['deps'],
  title: string,
  isPrivate: boolean,
  clip: { media_id: string; start: number; end: number },
) {
  const parent = await deps.medias.get(clip.media_id);
  if (!parent) throw new HttpError(400, `clip.media_id: media ${clip.media_id} not found`);
  if (parent.status !== MediaStatus.Ready)
    throw new HttpError(
      409,
      `clip.media_id: media ${clip.media_id} is ${parent.status}: clips are cut from Ready medias`,
    );
  const duration = parent.duration ?? 0;
  if (clip.start >= duration)
    throw new HttpError(
      400,
      `clip.start: ${clip.start} s is past the end of media ${clip.media_id} (${duration.toFixed(3)} s)`,
    );
  if (clip.end <= clip.start)
    throw new HttpError(400, `clip.end: ${clip.end} s is not after clip.start (${clip.start} s)`);
  if (clip.end > duration + 0.0005)
    throw new HttpError(
      400,
      `clip.end: ${clip.end} s is past the end of media ${clip.media_id} (${duration.toFixed(3)} s)`,
    );
  const media = await deps.medias.createClip(randomUUID(), title, isPrivate, {
    mediaId: clip.media_id,
    start: clip.start,
    end: Math.min(clip.end, duration),
  });
  if (!media)
    throw new HttpError(409, `clip.media_id: media ${clip.media_id} changed meanwhile and is no longer Ready`);
  deps.metrics.uploads.inc({ kind: media.source_kind ?? 'video', via: 'clip' });
  return media;
}

export const getMedia: RouteHandler<typeof routes.getMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const media = await c.var.deps.medias.get(id);
  if (!media) throw notFound(id);
  return c.json({ code: 200, data: toMediaJson(media, c.var.deps.config) }, 200);
};

export const updateMedia: RouteHandler<typeof routes.updateMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const change = c.req.valid('json');
  if (change.private) requirePrivacy(c.var.deps.config);
  const media = await c.var.deps.medias.update(id, change);
  if (!media) throw notFound(id);
  return c.json({ code: 200, data: toMediaJson(media, c.var.deps.config) }, 200);
};

export const deleteMedia: RouteHandler<typeof routes.deleteMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias, storage, stopWorkflow, logger } = c.var.deps;
  const media = await medias.get(id);
  const failed = (err: unknown) => {
    logger.warn({ mediaId: id, err: (err as Error).message }, 'delete failed');
    return new HttpError(503, `could not delete media ${id} now (repeat the DELETE): ${(err as Error).message}`);
  };
  // The pipeline is stopped first, then the rows go, then the files. An encode still finishing
  // finds the media gone after storing its files, and removes them again (storeForMedia).
  if (media) {
    try {
      await stopWorkflow(id, 'media deleted through the API');
    } catch (err) {
      throw failed(err);
    }
    await medias.delete(id);
  }
  let removed: number;
  try {
    removed = await storage.deletePrefix(mediaPrefix(id));
  } catch (err) {
    throw failed(err);
  }
  // Files left by a DELETE whose file step failed are removed by repeating it (then 200, not 404).
  if (!media && removed === 0) throw notFound(id);
  return c.json({ code: 200, data: { id } }, 200);
};

/**
 * Server-Sent Events of one media: what is stored after the client's last event, then each new
 * one as it is written (looked for every events_stream.poll_ms), a `state` event (the media and
 * its renditions, no id) whenever the media changed, and a heartbeat comment when quiet. Ends once the media has been Ready or Errored for the grace period, or is deleted, or after
 * events_stream.max_seconds (the client then resumes with Last-Event-ID).
 */
export const streamEvents: RouteHandler<typeof routes.streamEvents, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { after } = c.req.valid('query');
  const resumeAt = c.req.valid('header')['last-event-id'];
  const { medias, config } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  const {
    heartbeat_seconds: heartbeat,
    grace_seconds: grace,
    poll_ms: pollMs,
    max_seconds: maxSeconds,
  } = config.events_stream;
  const closesAt = Date.now() + maxSeconds * 1000;
  let last = resumeAt !== undefined ? Number(resumeAt) : after;
  return streamSSE(
    c,
    async (stream) => {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      let settledAt: number | null = null;
      let stateAt = 0;
      let lastWrite = Date.now();
      while (!closed) {
        const media = await medias.get(id);
        for (const e of await medias.eventsAfter(id, last, 500)) {
          await stream.writeSSE({ id: String(e.id), event: e.type, data: JSON.stringify(toEventJson(e)) });
          last = Number(e.id);
          lastWrite = Date.now();
        }
        if (!media) {
          await stream.writeSSE({ event: 'gone', data: JSON.stringify({ id, message: `media ${id} was deleted` }) });
          break;
        }
        // The media's state (progress moves between events) whenever it changed: a page follows it with no polling.
        if (media.updated_at.getTime() !== stateAt) {
          stateAt = media.updated_at.getTime();
          const renditions = (await medias.listRenditions(id)).map(toRenditionJson);
          await stream.writeSSE({
            event: 'state',
            data: JSON.stringify({ media: toMediaJson(media, config), renditions }),
          });
          lastWrite = Date.now();
        }
        const settled = media.status === MediaStatus.Ready || media.status === MediaStatus.Errored;
        settledAt = settled ? (settledAt ?? Date.now()) : null;
        if (settledAt !== null && Date.now() - settledAt >= grace * 1000) break;
        if (Date.now() >= closesAt) break; // the client resumes after its last event id
        if (Date.now() - lastWrite >= heartbeat * 1000) {
          await stream.write(': heartbeat\n\n');
          lastWrite = Date.now();
        }
        await stream.sleep(pollMs);
      }
    },
    async (err) => {
      // The database went away mid-stream: the client reconnects with Last-Event-ID.
      c.var.deps.logger.warn({ mediaId: id, err: err.message }, 'event stream ended on an error');
    },
  );
};

export const listEvents: RouteHandler<typeof routes.listEvents, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { limit, offset } = c.req.valid('query');
  const { medias } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  const { items, total } = await medias.listEvents(id, limit, offset);
  return c.json({ code: 200, data: items.map(toEventJson), metadata: { total, limit, offset } }, 200);
};

export const listRenditions: RouteHandler<typeof routes.listRenditions, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias } = c.var.deps;
  if (!(await medias.get(id))) throw notFound(id);
  return c.json({ code: 200, data: (await medias.listRenditions(id)).map(toRenditionJson) }, 200);
};

/** Workflow calls that fail because Temporal is unreachable answer 503, not 500. */
async function temporalCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new HttpError(503, `could not ${what} now, the workflow service did not answer: ${(err as Error).message}`);
  }
}

export const retryMedia: RouteHandler<typeof routes.retryMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias, config, logger, workflowRunning } = c.var.deps;
  const media = await medias.get(id);
  if (!media) throw notFound(id);
  if (media.status !== MediaStatus.Errored)
    throw new HttpError(409, `media ${id} is ${media.status}: only an Errored media can be retried`);
  if (!media.source_key) throw new HttpError(409, `media ${id} has no source to process: upload one`);
  // The failed run marks the media Errored a moment before it closes; a new run can start only after.
  if (await temporalCall('retry', () => workflowRunning(id))) {
    throw new HttpError(409, `media ${id}: its last run is still closing, retry in a moment`);
  }
  const scheduled = await medias.retry(id, 'requested through the API');
  if (!scheduled) throw new HttpError(409, `media ${id} is no longer Errored: it was retried or changed meanwhile`);
  logger.info({ mediaId: id }, 'retry scheduled');
  return c.json({ code: 202, data: toMediaJson(scheduled, config) }, 202);
};

export const cancelMedia: RouteHandler<typeof routes.cancelMedia, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { force } = c.req.valid('query');
  const { medias, config, logger, cancelWorkflow, stopWorkflow } = c.var.deps;
  const media = await medias.get(id);
  if (!media) throw notFound(id);
  if (!processingStatuses.includes(media.status)) {
    throw new HttpError(
      409,
      `media ${id} is ${media.status}: only a media being processed (${processingStatuses.join(' or ')}) can be cancelled`,
    );
  }
  let how: string;
  if (force) {
    // The run is not asked: it is terminated, and the media marked here.
    await temporalCall('cancel', () => stopWorkflow(id, 'cancelled by force through the API'));
    how = 'by force (its run was terminated)';
  } else if (await temporalCall('cancel', () => cancelWorkflow(id))) {
    await medias.addEvent(id, {
      type: 'media.cancel_requested',
      message:
        'cancellation requested through the API: the run stops its activities, then marks the media Errored (?force=true terminates a run that does not answer)',
    });
    logger.info({ mediaId: id }, 'cancellation requested');
    return c.json({ code: 202, data: toMediaJson(media, config) }, 202);
  } else {
    // No run is open: the message is still on its way (the run that a late message may start
    // finds the media no longer waiting), or the run ended without finishing the media.
    how = media.workflow_run_id ? 'after its run had ended without finishing it' : 'before a run took it';
  }
  const cancelled = await medias.cancel(id, how);
  if (!cancelled) throw new HttpError(409, `media ${id} changed while it was being cancelled`);
  logger.info({ mediaId: id, how }, 'cancelled');
  return c.json({ code: 202, data: toMediaJson(cancelled, config) }, 202);
};

export const createPlaybackToken: RouteHandler<typeof routes.createPlaybackToken, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias, config } = c.var.deps;
  const secret = requireSigning(config);
  const body = c.req.header('content-type')?.includes('json') ? c.req.valid('json') : {};
  if (!(await medias.get(id))) throw notFound(id);
  const ttl = body.ttl_seconds ?? config.playback.token_ttl_seconds;
  const { token, expires } = issuePlaybackToken(secret, id, ttl);
  const query = `token=${encodeURIComponent(token)}`;
  const stream = (file: string) => `/medias/${id}/stream/${file}?${query}`;
  return c.json(
    {
      code: 200,
      data: {
        token,
        expires_at: expires.toISOString(),
        query,
        cookie: `${playbackCookieName(id)}=${token}`,
        links: { master: stream(masterPlaylistName), dash: stream(dashManifestName) },
      },
    },
    200,
  );
};

/** GET /medias/{id}/source: the stored source with its original name and type (a presigned redirect on S3). */
export const getSource: RouteHandler<typeof routes.getSource, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const { medias, storage, config } = c.var.deps;
  const media = await medias.get(id);
  if (!media) throw new HttpError(404, `media ${id} not found`);
  const missing = () => new HttpError(409, `media ${id} has no source stored (it is ${media.status})`);
  const info = media.source_key ? await storage.stat(media.source_key) : null;
  if (!media.source_key || !info) throw missing();
  const headers = {
    'Content-Type': media.source_content_type ?? 'application/octet-stream',
    'Content-Disposition': contentDisposition(media.source_filename ?? `${id}-source`),
    'Cache-Control': 'private, no-store',
    // The type is the uploader's word: never sniffed into something a browser runs.
    'X-Content-Type-Options': 'nosniff',
  };
  const url = await storage.readUrl(media.source_key, config.storage.presign_expiry_seconds, {
    // Unknown to Gilfoyle (a direct upload): the type the object was stored with stands.
    contentType: media.source_content_type ?? undefined,
    contentDisposition: headers['Content-Disposition'],
  });
  if (url) return c.redirect(url, 302) as never;
  return sendStored(
    c,
    media.source_key,
    info,
    (now) => ({ ...headers, 'Last-Modified': now.modified.toUTCString() }),
    missing,
  ) as never;
};
