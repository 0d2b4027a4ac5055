import { z } from 'zod';
import { parseRange } from '../domain/addresses.ts';
import { eventFilterEntry } from '../domain/webhooks.ts';

export const videoCodecs = ['h264', 'hevc', 'av1'] as const;

const rung = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only'),
    height: z.number().int().min(16).max(4320).optional().describe('short side of the picture, pixels'),
    width: z
      .number()
      .int()
      .min(16)
      .max(7680)
      .optional()
      .describe('long side of the picture, pixels (instead of height)'),
    video_bitrate: z.number().int().positive().describe('kb/s'),
    max_rate: z.number().int().positive().optional().describe('kb/s; default 1.07 × video_bitrate'),
    codec: z.enum(videoCodecs).default('h264'),
    max_frame_rate: z
      .number()
      .positive()
      .max(240)
      .optional()
      .describe('frame rate cap of this rung; default encoding.max_frame_rate'),
  })
  .refine((r) => (r.height === undefined) !== (r.width === undefined), { message: 'give either height or width' });

/** Sizes in bytes, or strings such as "2GiB", "500MB", "10 KiB". */
const byteSize = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$/i.exec(v);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `not a size: "${v}" (use bytes or e.g. "2GiB")` });
    return z.NEVER;
  }
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
    tb: 1e12,
    tib: 1024 ** 4,
  };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Base URL clients reach the API at, used in links; defaults to http://host:port. */
      public_url: z.string().url().optional(),
      /**
       * Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed: a request from one
       * of them is from the address it names; from anyone else, from its own socket address.
       */
      trusted_proxies: z
        .array(
          z
            .string()
            .refine(
              (v) => parseRange(v) !== null,
              'a trusted proxy is an IP address or a CIDR range (10.0.0.0/8, fd00::/8)',
            ),
        )
        .default([]),
    })
    .prefault({}),
  database: z
    .strictObject({
      url: z.string().default('postgres://gilfoyle:gilfoyle@127.0.0.1:5432/gilfoyle'),
      pool_size: z.number().int().min(1).max(100).default(10),
    })
    .prefault({}),
  rabbitmq: z
    .strictObject({
      url: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
      queue: z.string().default('gilfoyle.media.uploaded'),
      prefetch: z.number().int().min(1).max(1000).default(10),
      /** Every media event is published here (a durable topic exchange), routing key = the event's type. */
      events_exchange: z.string().min(1).default('gilfoyle.events'),
      /** The webhook dispatcher's queue, bound to events_exchange. */
      webhooks_queue: z.string().min(1).default('gilfoyle.webhooks'),
    })
    .prefault({}),
  temporal: z
    .strictObject({
      address: z.string().default('127.0.0.1:7233'),
      namespace: z.string().default('default'),
      task_queue: z.string().default('gilfoyle'),
      ui_url: z.string().default('http://127.0.0.1:8233'),
    })
    .prefault({}),
  storage: z
    .strictObject({
      driver: z.enum(['fs', 's3']).default('fs'),
      fs: z.strictObject({ root: z.string().default('./.data/storage') }).prefault({}),
      s3: z
        .strictObject({
          endpoint: z.string().url().optional().describe('for S3-compatible stores (MinIO…); absent for AWS'),
          region: z.string().default('us-east-1'),
          bucket: z.string().default('gilfoyle'),
          access_key_id: z
            .string()
            .optional()
            .describe('absent: the AWS SDK default chain (env, profile, instance role)'),
          secret_access_key: z.string().optional(),
          force_path_style: z.boolean().default(false).describe('true for MinIO and most S3-compatible stores'),
          public_url: z.string().url().optional().describe('public or CDN base URL of the bucket'),
          part_size: byteSize
            .default(5 * 1024 * 1024)
            .describe(
              'multipart part size (S3 minimum 5 MiB); two are in flight at once, and 10000 parts bound an object',
            ),
        })
        .prefault({}),
      /**
       * How segments and downloads are streamed: `redirect` answers 302 to a CDN or presigned URL
       * (an object store; the filesystem has none, so it is served as `proxy`), `proxy` streams
       * through Gilfoyle, `accel` (filesystem store behind nginx) checks the request and answers
       * with X-Accel-Redirect to `accel_location`, from which nginx sends the file itself.
       * Playlists are always served by Gilfoyle.
       */
      delivery: z.enum(['redirect', 'proxy', 'accel']).default('redirect'),
      accel_location: z
        .string()
        .regex(/^\/[A-Za-z0-9._~/-]*[^/]$/, 'a path such as /_gilfoyle_files, without a trailing slash')
        .default('/_gilfoyle_files')
        .describe("nginx's internal location whose alias is storage.fs.root (delivery: accel)"),
      presign_expiry_seconds: z
        .number()
        .int()
        .min(60)
        .max(7 * 24 * 3600)
        .default(3600),
    })
    .superRefine((st, ctx) => {
      if (st.delivery === 'accel' && st.driver !== 'fs')
        ctx.addIssue({
          code: 'custom',
          path: ['delivery'],
          message: 'accel needs storage.driver fs: nginx sends the files from storage.fs.root',
        });
    })
    .prefault({}),
  settings: z
    .strictObject({
      max_file_size: byteSize.default(2 * 1024 ** 3),
      /** Upload from URL (POST /medias/{id}/upload/url). */
      url_fetch: z
        .strictObject({
          timeout_seconds: z.number().int().min(1).default(3600),
          /** Private, loopback and link-local addresses are refused unless allowed (SSRF). */
          allow_private_addresses: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Resumable uploads (tus protocol): parts are kept on the API machine until the upload completes. */
  tus: z
    .strictObject({
      dir: z.string().default('./.data/tus'),
      /** An upload untouched for this long is expired and its parts deleted. */
      expiry_seconds: z
        .number()
        .int()
        .min(1)
        .default(24 * 3600),
      cleanup_interval_seconds: z.number().int().min(1).default(600),
    })
    .prefault({}),
  encoding: z
    .strictObject({
      ffmpeg_path: z.string().default('ffmpeg'),
      ffprobe_path: z.string().default('ffprobe'),
      temp_dir: z.string().optional().describe('default: the OS temp folder'),
      max_attempts: z.number().int().min(1).max(20).default(3),
      /** Encodes one worker runs at once. */
      concurrency: z.number().int().min(1).max(64).default(2),
      /** Encoder threads per encode; 0: the machine's cores divided by concurrency, so concurrent encodes share the cores. */
      threads: z.number().int().min(0).max(64).default(0).describe('0: the cores divided by concurrency'),
      /**
       * CPU priority of the encodes that may wait: the ladder above the playable rung, pictures and
       * the download. `idle` (Linux SCHED_IDLE): they use only what the playable rungs, the API and
       * the database leave, so a media is playable as soon as if it were alone; `low`: nice 10;
       * `normal`: everything alike.
       */
      background_priority: z.enum(['idle', 'low', 'normal']).default('idle'),
      /**
       * While an encode that makes a media playable runs on a worker, that worker pauses its
       * background ffmpegs (SIGSTOP, then SIGCONT): the media is playable as soon as if the worker
       * were idle, at the cost of the cores the playable encode leaves unused meanwhile.
       */
      playable_first: z.boolean().default(true),
      preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow']).default('veryfast'),
      timeout_seconds: z
        .number()
        .int()
        .positive()
        .default(6 * 3600),
      /** An encode whose worker stopped heartbeating this long ago (it died) is retried on another worker. */
      heartbeat_timeout_seconds: z.number().int().min(3).max(600).default(30),
      outage_patience_seconds: z
        .number()
        .int()
        .min(0)
        .max(3600)
        .default(120)
        .describe(
          'how long a worker activity waits for an unreachable database or object store before it fails (the API answers 503 at once)',
        ),
      gop_seconds: z.number().positive().default(2),
      segment_seconds: z.number().positive().default(4),
      /**
       * Sources longer than chunk_threshold_seconds are encoded in chunks of this many seconds
       * (a multiple of segment_seconds), each chunk of each rung its own activity, spread over
       * every worker; 0: never (each rung in one piece).
       */
      chunk_seconds: z.number().min(0).max(3600).default(12),
      /** Sources up to this long keep the whole-rendition path (a short clip gains nothing from chunks). */
      chunk_threshold_seconds: z.number().min(0).default(30),
      max_frame_rate: z.number().positive().max(240).default(60),
      audio_bitrate: z.number().int().positive().default(128).describe('kb/s of the AAC audio rendition'),
      /** Source audio that already is mono or stereo AAC-LC at 48 kHz (MP4/MOV) and no more than audio_bitrate is copied, not encoded again. */
      audio_copy: z.boolean().default(true),
      /** Rung remuxed into the progressive MP4 download; when absent, 720p if the ladder has it, else the largest planned. */
      mp4_rendition: z.string().optional(),
      /** Where the poster is taken, as a fraction of the duration. */
      poster_at: z.number().min(0).max(1).default(0.1),
      storyboard: z
        .strictObject({
          enabled: z.boolean().default(true),
          thumbnail_width: z.number().int().min(32).max(640).default(160),
          columns: z.number().int().min(1).max(50).default(10),
          max_thumbnails: z.number().int().min(1).max(1000).default(100),
          min_interval_seconds: z.number().positive().default(1),
        })
        .prefault({}),
      renditions: z
        .array(rung)
        .min(1)
        .prefault([
          { name: '1080p', height: 1080, video_bitrate: 5000 },
          { name: '720p', height: 720, video_bitrate: 2800 },
          { name: '480p', height: 480, video_bitrate: 1400 },
          { name: '360p', height: 360, video_bitrate: 800 },
        ]),
    })
    .prefault({})
    .superRefine((e, ctx) => {
      const ratio = e.segment_seconds / e.gop_seconds;
      if (Math.abs(ratio - Math.round(ratio)) > 1e-9 || ratio < 1) {
        ctx.addIssue({ code: 'custom', path: ['segment_seconds'], message: 'must be a multiple of gop_seconds' });
      }
      const chunkRatio = e.chunk_seconds / e.segment_seconds;
      if (e.chunk_seconds > 0 && (Math.abs(chunkRatio - Math.round(chunkRatio)) > 1e-9 || chunkRatio < 1)) {
        ctx.addIssue({
          code: 'custom',
          path: ['chunk_seconds'],
          message: 'must be 0 or a multiple of segment_seconds',
        });
      }
      if (e.mp4_rendition !== undefined && !e.renditions.some((r) => r.name === e.mp4_rendition)) {
        ctx.addIssue({
          code: 'custom',
          path: ['mp4_rendition'],
          message: `"${e.mp4_rendition}" is not the name of a rung in encoding.renditions`,
        });
      }
      const names = new Set<string>();
      e.renditions.forEach((r, i) => {
        if (names.has(r.name) || r.name === 'audio') {
          ctx.addIssue({
            code: 'custom',
            path: ['renditions', i, 'name'],
            message: `duplicate or reserved name "${r.name}"`,
          });
        }
        names.add(r.name);
        if (r.name.startsWith('download') || ['poster', 'storyboard', 'master', 'manifest'].includes(r.name)) {
          ctx.addIssue({ code: 'custom', path: ['renditions', i, 'name'], message: `reserved name "${r.name}"` });
        }
      });
    }),
  /**
   * Access control. The API is meant for a private network; when it is exposed, API keys guard
   * every management route and private medias need a signed, short-lived playback token.
   */
  auth: z
    .strictObject({
      /** Empty: no key is needed. Otherwise `Authorization: Bearer <key>` on every management route. */
      api_keys: z
        .array(
          z.strictObject({
            name: z.string().min(1).max(64).describe('shown in logs and metrics instead of the key'),
            key: z.string().min(16, 'an API key must be at least 16 characters'),
          }),
        )
        .default([]),
      public_health: z.boolean().default(true).describe('GET /healthz without a key'),
      public_metrics: z.boolean().default(true).describe('GET /metrics without a key'),
      /**
       * Uploads (each way of starting one) an API key may start per minute; 0: no limit. A user's
       * backend is one key importing a whole library: the default leaves it room (10 a second).
       */
      uploads_per_minute: z.number().int().min(0).default(600),
      /**
       * Without API keys: uploads a client at a public address may start per minute; 0: no limit.
       * Clients on a private network (loopback, RFC 1918, unique local, link-local) have no limit:
       * that is the user's own backend next to Gilfoyle.
       */
      anonymous_uploads_per_minute: z.number().int().min(0).default(60),
    })
    .prefault({}),
  playback: z
    .strictObject({
      /** HMAC key of playback tokens for private medias; without it no media can be made private. */
      signing_secret: z.string().min(32, 'the signing secret must be at least 32 characters').optional(),
      token_ttl_seconds: z
        .number()
        .int()
        .min(10)
        .max(7 * 24 * 3600)
        .default(3600),
    })
    .prefault({}),
  /**
   * Origins allowed to call the management API from a browser (CORS): [] none, ["*"] any; and the
   * origins whose pages may play the streams (players embedded in a customer's site): any by default.
   */
  cors: z
    .strictObject({
      origins: z.array(z.string()).default([]),
      stream_origins: z.array(z.string()).min(1, 'stream_origins needs at least one origin, or "*"').default(['*']),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest JSON request body. */
      json_body: byteSize.default(64 * 1024),
      /** Uploads one API process receives at once; more answer 429. */
      concurrent_uploads: z.number().int().min(1).max(10_000).default(16),
    })
    .prefault({}),
  /**
   * Webhooks (Standard Webhooks): endpoints are managed through the API (POST /webhooks), or
   * declared here. Every delivery is retried with exponential backoff and jitter until it is
   * answered 2xx or its window ends; an endpoint failing for disable_after_seconds is disabled.
   */
  webhooks: z
    .strictObject({
      endpoints: z
        .array(
          z.strictObject({
            url: z.url({ protocol: /^https?$/, error: 'an http or https URL' }),
            /** whsec_<base64>, as Standard Webhooks verifiers take it. */
            secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'a secret of the form whsec_<base64>'),
            events: z.array(eventFilterEntry).min(1).optional(),
            description: z.string().max(500).default(''),
          }),
        )
        .default([]),
      timeout_seconds: z.number().min(1).max(60).default(10),
      initial_backoff_seconds: z.number().min(0.1).max(3600).default(5),
      max_backoff_seconds: z.number().min(1).max(86_400).default(3600),
      retry_window_seconds: z
        .number()
        .min(1)
        .max(30 * 86_400)
        .default(86_400),
      disable_after_seconds: z
        .number()
        .min(1)
        .max(90 * 86_400)
        .default(5 * 86_400),
    })
    .prefault({}),
  /** GET /medias/{id}/events/stream (Server-Sent Events). */
  events_stream: z
    .strictObject({
      /** A comment line this often keeps proxies from closing a quiet stream. */
      heartbeat_seconds: z.number().min(0.1).max(300).default(15),
      /** The stream ends this long after the media is Ready or Errored (a retry within it keeps it open). */
      grace_seconds: z.number().min(0).max(3600).default(30),
      /** How often a stream looks for new events. */
      poll_ms: z.number().int().min(50).max(10_000).default(500),
      /** One connection lasts at most this long; the client reconnects with Last-Event-ID (EventSource does). */
      max_seconds: z.number().min(1).max(86_400).default(3600),
    })
    .prefault({}),
  /** Images on demand: GET /medias/{id}/thumbnail.{jpg,png,webp} and /animated.{gif,webp}, rendered from the renditions. */
  images: z
    .strictObject({
      /** Largest width or height of a thumbnail. */
      max_size: z.number().int().min(16).max(7680).default(1920),
      /** Longest animated image, in seconds. */
      animated_max_seconds: z.number().positive().max(60).default(10),
      /** Widest animated image. */
      animated_max_width: z.number().int().min(16).max(1920).default(640),
      animated_max_fps: z.number().int().min(1).max(60).default(30),
      /** ffmpeg runs at once in one API process; more requests wait their turn. */
      concurrency: z.number().int().min(1).max(64).default(2),
      render_timeout_seconds: z.number().min(1).max(600).default(60),
    })
    .prefault({}),
  /** Attachments of a media (POST /medias/{id}/attachments). */
  attachments: z
    .strictObject({
      /** Bytes one attachment may have (413 past it). Timed text is converted to WebVTT with ffmpeg. */
      max_size: z
        .number()
        .int()
        .min(1024)
        .max(1024 ** 3)
        .default(20 * 1024 * 1024),
      /** Longest a timed-text conversion may take. */
      convert_timeout_seconds: z.number().min(1).max(600).default(30),
    })
    .prefault({}),
  /** SIGTERM/SIGINT: in-flight requests finish, consuming stops, running encodes drain, then exit 0. */
  shutdown: z
    .strictObject({
      grace_seconds: z
        .number()
        .int()
        .min(1)
        .max(3600)
        .default(30)
        .describe('past this, encodes still running are cancelled (retried on another worker) and the process exits'),
      unready_seconds: z
        .number()
        .min(0)
        .max(300)
        .default(5)
        .describe(
          'on SIGTERM, the API answers 503 on /readyz this long while still serving, so a load balancer moves traffic away before it stops accepting (SIGINT: at once)',
        ),
    })
    .prefault({}),
  /** Prometheus metrics: the API serves /metrics; a process without the API (worker, bridge) serves them on port. */
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('127.0.0.1'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(9464)
        .describe('for worker and bridge processes that run no API'),
    })
    .prefault({}),
  /**
   * OpenTelemetry: one trace per media, from the API request through RabbitMQ, the bridge, the
   * workflow and its activities to each ffmpeg run. Spans are exported over OTLP/HTTP when
   * otlp_endpoint is set (e.g. Jaeger's http://127.0.0.1:4318), and not made at all otherwise.
   */
  tracing: z
    .strictObject({
      otlp_endpoint: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe('OTLP/HTTP collector base URL; traces go to <otlp_endpoint>/v1/traces'),
      service_name: z.string().min(1).max(100).default('gilfoyle').describe('service.name of every span'),
      sample_ratio: z.number().min(0).max(1).default(1).describe('share of new traces kept (parent-based)'),
      ui_url: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe('Jaeger UI, linked from the admin page'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      /** json: one JSON object a line; pretty: human-readable; auto: pretty on a terminal, JSON otherwise. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
