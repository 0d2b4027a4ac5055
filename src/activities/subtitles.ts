import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { attachmentStorageKey } from '../domain/attachments.ts';
import type { SourceSubtitle } from '../media/probe.ts';
import { FfmpegError, runFfmpeg } from '../media/runner.ts';
import { sourceInputArgs } from '../media/source-formats.ts';
import { readWebVtt, sourceSubtitleArgs } from '../media/timed-text.ts';
import type { ActivityDeps } from './deps.ts';

/** The attachment key of a source's subtitle stream: the same on every run, so a retry finds it made. */
export const sourceSubtitleKey = (stream: number) => `source-${stream}`;

/**
 * The source's own text subtitle streams as attachments (origin `source`), WebVTT made by ffmpeg
 * from the local source file. One that cannot be read is left out with a warning event; it never
 * fails the media. A stream already taken (a retried probe, a media processed again) is kept.
 */
export async function takeSourceSubtitles(
  deps: ActivityDeps,
  mediaId: string,
  source: string,
  streams: SourceSubtitle[],
  dir: string,
): Promise<string[]> {
  const taken: string[] = [];
  for (const s of streams) {
    const key = sourceSubtitleKey(s.index);
    if (await deps.attachments.get(mediaId, key)) continue;
    const output = path.join(dir, `${key}.vtt`);
    try {
      await runFfmpeg(deps.ffmpegPath, sourceSubtitleArgs(sourceInputArgs(source), source, s.index, output), {
        timeoutMs: deps.ffmpegTimeoutMs,
      });
    } catch (err) {
      if (!(err instanceof FfmpegError)) throw err;
      await deps.medias.addEvent(mediaId, {
        type: 'attachment.skipped',
        level: 'warn',
        message: `subtitle stream ${s.index} (${s.codec}) of the source could not be read: ${err.message}`,
        data: { stream: s.index, codec: s.codec },
      });
      continue;
    }
    const vtt = await readFile(output);
    if (!readWebVtt(vtt.toString('utf8'))?.cues) continue;
    const storageKey = attachmentStorageKey(mediaId, key, randomUUID(), true);
    const size = await deps.storage.put(storageKey, vtt);
    const added = await deps.attachments.add(mediaId, {
      key,
      kind: s.captions ? 'captions' : 'subtitles',
      language: s.language,
      label: s.title,
      is_default: s.isDefault,
      content_type: 'text/vtt',
      size,
      filename: null,
      storage_key: storageKey,
      origin: 'source',
    });
    if (typeof added === 'string') await deps.storage.deletePrefix(storageKey);
    else taken.push(key);
  }
  return taken;
}
