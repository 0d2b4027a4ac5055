import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  downloadName,
  posterName,
  storyboardImageName,
  storyboardVttName,
  streamKey,
} from '../domain/paths.ts';
import type { PictureSettings } from '../domain/workflow.ts';
import type { VariantEntry } from '../media/hls.ts';
import { downloadArgs, planStoryboard, posterArgs, storyboardArgs, storyboardVtt } from '../media/pictures.ts';
import { runFfmpeg } from '../media/runner.ts';
import { activityContext, fetchStored, storeForMedia, withHeartbeat, withTempDir, type ActivityDeps } from './support.ts';

export interface PicturesInput {
  mediaId: string;
  sourceKey: string;
  /** An encoded rendition to take the storyboard from: far cheaper to decode than the source. */
  storyboardFrom?: VariantEntry;
  duration: number;
  displayWidth: number;
  displayHeight: number;
  settings: PictureSettings;
}

export interface DownloadInput {
  mediaId: string;
  /** The rendition remuxed into the download with the audio; absent for audio-only media. */
  video?: VariantEntry;
  audio?: VariantEntry;
}

const isFile = async (file: string) => (await stat(file).catch(() => null))?.isFile() === true;

export const createPackageActivities = (deps: ActivityDeps) => {
  // Pictures and the download may wait: they run like the ladder, at its CPU priority, paused
  // while a playable encode runs on this worker.
  const run = (args: string[], signal?: AbortSignal) =>
    runFfmpeg(deps.ffmpegPath, args, {
      signal,
      timeoutMs: deps.ffmpegTimeoutMs,
      priority: deps.backgroundPriority,
      ...(deps.foreground ? { onSpawn: (pid: number) => deps.foreground!.trackBackground(pid) } : {}),
    });

  /** A rendition's playlist as a local file, its init and segments beside it, so ffmpeg can read it as local HLS. */
  async function fetchRendition(mediaId: string, v: VariantEntry, dir: string): Promise<string> {
    // A local store keeps a rendition's files side by side, as its playlist names them: read in place.
    const local = await deps.storage.localFile(streamKey(mediaId, v.playlist));
    if (local) return local;
    await mkdir(dir, { recursive: true });
    for (const name of [v.playlist, v.init, ...v.segments.map((s) => s.uri)]) {
      await fetchStored(deps, mediaId, streamKey(mediaId, name), path.join(dir, name));
    }
    return path.join(dir, v.playlist);
  }

  return {
    /** Poster at a fraction of the duration, and the storyboard sprite with its WebVTT. */
    async makePictures({ mediaId, sourceKey, storyboardFrom, duration, displayWidth, displayHeight, settings }: PicturesInput): Promise<string[]> {
      const ctx = activityContext();
      return withHeartbeat(ctx, () => ({ step: 'pictures' }), () => withTempDir(deps.tempDir, `${mediaId}-pictures`, async (dir) => {
        const source = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
        const rendition = storyboardFrom ? await fetchRendition(mediaId, storyboardFrom, path.join(dir, 'storyboard-source')) : null;
        const made: string[] = [];
        const missing: string[] = [];
        // A damaged source may give no frame where the poster is asked for (ffmpeg then exits 0
        // and writes nothing): try the encoded rendition, then the first frame.
        const poster = path.join(dir, posterName);
        const attempts = [
          { input: source, at: duration * settings.posterAt },
          ...(rendition ? [{ input: rendition, at: duration * settings.posterAt }] : []),
          { input: rendition ?? source, at: 0 },
        ];
        for (const a of attempts) {
          await run(posterArgs(a.input, poster, a.at, displayWidth, displayHeight), ctx?.cancellationSignal);
          if (await isFile(poster)) break;
        }
        if (await isFile(poster)) made.push(posterName);
        else missing.push(posterName);
        if (settings.storyboard) {
          const plan = planStoryboard(duration, displayWidth, displayHeight, settings.storyboard);
          await run(storyboardArgs(rendition ?? source, path.join(dir, storyboardImageName), plan), ctx?.cancellationSignal);
          if (await isFile(path.join(dir, storyboardImageName))) {
            await writeFile(path.join(dir, storyboardVttName), storyboardVtt(plan, duration, storyboardImageName));
            made.push(storyboardImageName, storyboardVttName);
          } else {
            missing.push(storyboardImageName);
          }
        }
        if (missing.length) {
          await deps.medias.addEvent(mediaId, {
            type: 'media.pictures_missing',
            level: 'warn',
            message: `no frame could be taken for ${missing.join(' and ')}: the media streams without them`,
            data: { missing },
          });
        }
        await storeForMedia(deps, ctx, mediaId, async () => {
          for (const name of made) await deps.storage.putFile(streamKey(mediaId, name), path.join(dir, name));
        });
        await deps.medias.addEvent(mediaId, { type: 'media.pictures', message: `poster${settings.storyboard ? ' and storyboard' : ''} made`, data: { files: made } });
        return made;
      }));
    },

    /** The progressive download: the download rung and the audio remuxed into one MP4 (M4A for audio-only media). */
    async makeDownload({ mediaId, video, audio }: DownloadInput): Promise<string> {
      const ctx = activityContext();
      return withHeartbeat(ctx, () => ({ step: 'download' }), () => withTempDir(deps.tempDir, `${mediaId}-download`, async (dir) => {
        const inputs: string[] = [];
        if (video) inputs.push(await fetchRendition(mediaId, video, path.join(dir, video.name)));
        if (audio) inputs.push(await fetchRendition(mediaId, audio, path.join(dir, audio.name)));
        const download = downloadName(!video);
        await run(downloadArgs(inputs, path.join(dir, download)), ctx?.cancellationSignal);
        await storeForMedia(deps, ctx, mediaId, () => deps.storage.putFile(streamKey(mediaId, download), path.join(dir, download)));
        await deps.medias.addEvent(mediaId, {
          type: 'media.download',
          message: `${download} written${video ? ` (${video.name})` : ''}`,
          data: { file: download, ...(video ? { rendition: video.name } : {}) },
        });
        return download;
      }));
    },
  };
};
