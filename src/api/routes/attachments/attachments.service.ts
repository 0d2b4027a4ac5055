import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AttachmentRow } from '../../../db/attachments.ts';
import {
  isTextTrack,
  textTrackFileName,
  textTrackPlaylistName,
  type AttachmentKind,
} from '../../../domain/attachments.ts';
import { chunkedTimelineOffsetSeconds } from '../../../domain/chunks.ts';
import { HttpError } from '../../../domain/errors.ts';
import type { TextTrack } from '../../../media/hls.ts';
import { FfmpegError, runFfmpeg } from '../../../media/runner.ts';
import { readWebVtt, sniffTimedText, webVttArgs } from '../../../media/timed-text.ts';
import type { AppDeps } from '../../deps.ts';

/** An attachment as the API shows it. */
export const toAttachmentJson = (a: AttachmentRow) => ({
  key: a.key,
  kind: a.kind,
  language: a.language,
  label: a.label,
  default: a.is_default,
  content_type: a.content_type,
  size: Number(a.size),
  filename: a.filename,
  origin: a.origin,
  url:
    a.kind === 'file'
      ? `/medias/${a.media_id}/attachments/${a.key}`
      : `/medias/${a.media_id}/stream/${textTrackFileName(a.key)}`,
  created_at: a.created_at.toISOString(),
});

/** A key for an attachment sent without one: its kind and language, and a few random characters. */
export const madeUpKey = (kind: AttachmentKind, language: string | undefined) =>
  `${kind}-${language ? `${language.slice(0, 20)}-` : ''}${randomBytes(4).toString('hex')}`;

/** The text tracks of a media's streams (its subtitles and captions), in the order they were added. */
export async function textTracksOf(deps: Pick<AppDeps, 'attachments'>, mediaId: string): Promise<TextTrack[]> {
  return (await deps.attachments.list(mediaId))
    .filter((a) => isTextTrack(a.kind))
    .map((a) => ({
      key: a.key,
      kind: a.kind as TextTrack['kind'],
      language: a.language,
      label: a.label,
      isDefault: a.is_default,
      playlist: textTrackPlaylistName(a.key),
      file: textTrackFileName(a.key),
    }));
}

/** Where a media's fMP4 timeline starts: later than 0 when its renditions were encoded in chunks. */
export async function timelineOffsetOf(deps: Pick<AppDeps, 'medias'>, mediaId: string): Promise<number> {
  const renditions = await deps.medias.listRenditions(mediaId);
  return renditions.some((r) => r.chunks_total !== null) ? chunkedTimelineOffsetSeconds : 0;
}

/** No media is this long: a cue ending later is a timing gone wrong. */
const maxCueEndSeconds = 48 * 3600;

/**
 * An uploaded timed-text file (stored at `key`) as checked WebVTT: WebVTT, SRT or ASS/SSA by its
 * first bytes, read by that demuxer alone and written as WebVTT by ffmpeg; refused (400) when it
 * is none of them, ffmpeg cannot read it, or it has no cue.
 */
export async function convertTimedText(
  deps: Pick<AppDeps, 'storage' | 'config'>,
  key: string,
): Promise<{ vtt: Buffer; cues: number }> {
  const dir = await mkdtemp(path.join(deps.config.encoding.temp_dir ?? os.tmpdir(), 'gilfoyle-text-'));
  try {
    const input = path.join(dir, 'input');
    const output = path.join(dir, 'output.vtt');
    await deps.storage.getToFile(key, input);
    const head = Buffer.alloc(4096);
    const file = await open(input);
    const { bytesRead } = await file.read(head, 0, head.length, 0).finally(() => file.close());
    const format = sniffTimedText(head.subarray(0, bytesRead).toString('utf8'));
    if (!format) {
      throw new HttpError(
        400,
        'file: not timed text: subtitles, captions and chapters are taken as WebVTT (starting "WEBVTT"), SRT (a cue number, then "00:00:01,000 --> 00:00:02,000") or ASS/SSA (starting "[Script Info]")',
      );
    }
    try {
      await runFfmpeg(deps.config.encoding.ffmpeg_path, webVttArgs(format, input, output), {
        timeoutMs: deps.config.attachments.convert_timeout_seconds * 1000,
      });
    } catch (err) {
      if (err instanceof FfmpegError) {
        const why = err.stderrTail.split('\n').filter(Boolean).slice(-2).join('; ') || err.message;
        throw new HttpError(400, `file: not valid ${format === 'ass' ? 'ASS/SSA' : format.toUpperCase()}: ${why}`);
      }
      throw err;
    }
    const vtt = await readFile(output);
    const read = readWebVtt(vtt.toString('utf8'));
    const name = format === 'ass' ? 'ASS/SSA' : format.toUpperCase();
    if (!read || read.cues === 0) throw new HttpError(400, `file: the ${name} file has no cue`);
    // ffmpeg turns a cue that ends before it starts into one that ends some 1193 hours in.
    if (read.endSeconds > maxCueEndSeconds) {
      throw new HttpError(
        400,
        `file: a cue of the ${name} file ends ${Math.round(read.endSeconds / 3600)} hours in: its timings are not valid (an end before its start?)`,
      );
    }
    return { vtt, cues: read.cues };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
