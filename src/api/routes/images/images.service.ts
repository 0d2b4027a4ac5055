import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { text as streamText } from 'node:stream/consumers';
import type { MediaRow, RenditionRow } from '../../../db/medias.ts';
import { HttpError } from '../../../domain/errors.ts';
import { imageKey, type ImageSpec } from '../../../domain/images.ts';
import { streamKey } from '../../../domain/paths.ts';
import { RenditionStatus } from '../../../domain/status.ts';
import { parseMediaPlaylist } from '../../../media/hls.ts';
import { animatedArgs, thumbnailArgs } from '../../../media/images.ts';
import { FfmpegError, runFfmpeg } from '../../../media/runner.ts';
import type { StoredObject } from '../../../storage/driver.ts';
import type { AppDeps } from '../../deps.ts';

/** Renderings under way in this process, by stored key: a second identical request waits for the first. */
const inFlight = new Map<string, Promise<void>>();

/** At most `images.concurrency` ffmpeg runs at once in this process. */
let running = 0;
const queue: (() => void)[] = [];
async function withSlot<T>(limit: number, fn: () => Promise<T>): Promise<T> {
  while (running >= limit) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

/**
 * The video rendition an image is made from: the smallest Ready one at least as large as asked,
 * else the largest (no size asked: the largest).
 */
export function renditionFor(renditions: RenditionRow[], width: number | null, height: number | null) {
  const ready = renditions
    .filter((r) => r.type === 'video' && r.status === RenditionStatus.Ready && r.playlist && r.width && r.height)
    .sort((a, b) => a.height! - b.height!);
  if (!width && !height) return ready[ready.length - 1] ?? null;
  return (
    ready.find((r) => (!width || r.width! >= width) && (!height || r.height! >= height)) ??
    ready[ready.length - 1] ??
    null
  );
}

/** The stored image of `spec`, rendered now if it never was (once, however many ask at the same time). */
export async function storedImage(
  deps: Pick<AppDeps, 'storage' | 'medias' | 'config' | 'metrics' | 'logger'>,
  media: MediaRow,
  spec: ImageSpec,
): Promise<{ key: string; info: StoredObject }> {
  const key = imageKey(media.id, spec);
  const found = await deps.storage.stat(key);
  if (found) return { key, info: found };
  let rendering = inFlight.get(key);
  if (!rendering) {
    rendering = render(deps, media, spec, key).finally(() => inFlight.delete(key));
    inFlight.set(key, rendering);
  }
  await rendering;
  const info = await deps.storage.stat(key);
  if (!info) throw new Error(`image ${key} was rendered but is not in storage`);
  return { key, info };
}

async function render(
  deps: Pick<AppDeps, 'storage' | 'medias' | 'config' | 'metrics' | 'logger'>,
  media: MediaRow,
  spec: ImageSpec,
  key: string,
): Promise<void> {
  const { storage, config } = deps;
  const size = spec.kind === 'thumbnail' ? { w: spec.width, h: spec.height } : { w: spec.width, h: null };
  const rendition = renditionFor(await deps.medias.listRenditions(media.id), size.w, size.h);
  if (!rendition) throw new HttpError(409, `media ${media.id} has no video rendition to take a picture from`);
  const playlist = parseMediaPlaylist(await streamText(await storage.get(streamKey(media.id, rendition.playlist!))));
  if (!playlist.initUri) throw new Error(`rendition ${rendition.name} of media ${media.id} has no init segment`);
  // Playlist time is media time: the first segment starts at 0.
  const from = spec.kind === 'thumbnail' ? spec.time : spec.start;
  const to = spec.kind === 'thumbnail' ? spec.time : spec.end;
  let start = 0;
  const covering: { uri: string; start: number }[] = [];
  for (const s of playlist.segments) {
    const end = start + s.duration;
    // A thumbnail takes the next segment too, so that a time at a segment's very end still finds its frame.
    if (end > from && (start <= to || (spec.kind === 'thumbnail' && covering.length === 1)))
      covering.push({ uri: s.uri, start });
    start = end;
  }
  if (covering.length === 0)
    throw new HttpError(
      400,
      `${spec.kind === 'thumbnail' ? 'time' : 'start'}: past the end of the media (${start.toFixed(3)} s)`,
    );
  await withSlot(config.images.concurrency, async () => {
    const dir = await mkdtemp(path.join(config.encoding.temp_dir ?? os.tmpdir(), 'gilfoyle-image-'));
    try {
      // The init segment and the media segments, one after the other: a fragmented MP4 ffmpeg reads.
      const input = path.join(dir, 'part.mp4');
      for (const [i, uri] of [playlist.initUri!, ...covering.map((c) => c.uri)].entries())
        await pipeline(await storage.get(streamKey(media.id, uri)), createWriteStream(input, { flags: i ? 'a' : 'w' }));
      const output = path.join(dir, `image.${spec.format}`);
      const offset = from - covering[0]!.start;
      const args =
        spec.kind === 'thumbnail'
          ? thumbnailArgs(input, offset, spec, output)
          : animatedArgs(input, offset, spec, output);
      const began = Date.now();
      try {
        await runFfmpeg(config.encoding.ffmpeg_path, args, { timeoutMs: config.images.render_timeout_seconds * 1000 });
      } catch (err) {
        if (err instanceof FfmpegError) throw new Error(`could not render ${key}: ${err.message}`);
        throw err;
      }
      const made = await stat(output).catch(() => null);
      if (!made?.size) throw new HttpError(400, `time: no frame of the media at ${from.toFixed(3)} s`);
      await storage.putFile(key, output);
      deps.metrics.imagesRendered.inc({ kind: spec.kind });
      deps.logger.info({ mediaId: media.id, key, rendition: rendition.name, ms: Date.now() - began }, 'image rendered');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
