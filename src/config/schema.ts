import { z } from 'zod';

const rung = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only'),
  height: z.number().int().min(16).max(4320),
  video_bitrate: z.number().int().positive().describe('kb/s'),
  max_rate: z.number().int().positive().optional().describe('kb/s; default 1.07 × video_bitrate'),
});

/** Sizes in bytes, or strings such as "2GiB", "500MB", "10 KiB". */
const byteSize = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$/i.exec(v);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `not a size: "${v}" (use bytes or e.g. "2GiB")` });
    return z.NEVER;
  }
  const units: Record<string, number> = {
    b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4,
  };
  return Math.round(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
});

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Base URL clients reach the API at, used in links; defaults to http://host:port. */
    public_url: z.string().url().optional(),
  }).prefault({}),
  database: z.strictObject({
    url: z.string().default('postgres://gilfoyle:gilfoyle@127.0.0.1:5432/gilfoyle'),
    pool_size: z.number().int().min(1).max(100).default(10),
  }).prefault({}),
  rabbitmq: z.strictObject({
    url: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
    queue: z.string().default('gilfoyle.media.uploaded'),
    prefetch: z.number().int().min(1).max(1000).default(10),
  }).prefault({}),
  temporal: z.strictObject({
    address: z.string().default('127.0.0.1:7233'),
    namespace: z.string().default('default'),
    task_queue: z.string().default('gilfoyle'),
    ui_url: z.string().default('http://127.0.0.1:8233'),
  }).prefault({}),
  storage: z.strictObject({
    driver: z.enum(['fs']).default('fs'),
    fs: z.strictObject({ root: z.string().default('./.data/storage') }).prefault({}),
  }).prefault({}),
  settings: z.strictObject({
    max_file_size: byteSize.default(2 * 1024 ** 3),
  }).prefault({}),
  encoding: z.strictObject({
    ffmpeg_path: z.string().default('ffmpeg'),
    ffprobe_path: z.string().default('ffprobe'),
    temp_dir: z.string().optional().describe('default: the OS temp folder'),
    max_attempts: z.number().int().min(1).max(20).default(3),
    /** Encodes one worker runs at once. */
    concurrency: z.number().int().min(1).max(64).default(2),
    /** x264 threads per encode; 0 lets x264 decide. */
    threads: z.number().int().min(0).max(64).default(0),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow']).default('veryfast'),
    timeout_seconds: z.number().int().positive().default(6 * 3600),
    gop_seconds: z.number().positive().default(2),
    segment_seconds: z.number().positive().default(4),
    max_frame_rate: z.number().positive().max(240).default(60),
    audio_bitrate: z.number().int().positive().default(128),
    renditions: z.array(rung).min(1).default([
      { name: '1080p', height: 1080, video_bitrate: 5000 },
      { name: '720p', height: 720, video_bitrate: 2800 },
      { name: '480p', height: 480, video_bitrate: 1400 },
      { name: '360p', height: 360, video_bitrate: 800 },
    ]),
  }).prefault({}).superRefine((e, ctx) => {
    const ratio = e.segment_seconds / e.gop_seconds;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9 || ratio < 1) {
      ctx.addIssue({ code: 'custom', path: ['segment_seconds'], message: 'must be a multiple of gop_seconds' });
    }
    const names = new Set<string>();
    e.renditions.forEach((r, i) => {
      if (names.has(r.name) || r.name === 'audio') {
        ctx.addIssue({ code: 'custom', path: ['renditions', i, 'name'], message: `duplicate or reserved name "${r.name}"` });
      }
      names.add(r.name);
    });
  }),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  }).prefault({}),
});

export type Config = z.output<typeof configSchema>;
