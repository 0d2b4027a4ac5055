import path from 'node:path';
import { downloadName, streamKey } from '../domain/paths.ts';
import type { VariantEntry } from '../media/hls.ts';
import { downloadArgs } from '../media/pictures.ts';
import { activityContext, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { backgroundFfmpeg } from './ffmpeg.ts';
import { storeForMedia } from './media-guard.ts';
import { fetchRendition } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

export interface DownloadInput {
  mediaId: string;
  /** The rendition remuxed into the download with the audio; absent for audio-only media. */
  video?: VariantEntry;
  audio?: VariantEntry;
}

export const createDownloadActivities = (deps: ActivityDeps) => {
  const run = backgroundFfmpeg(deps);
  return {
    /** The progressive download: the download rung and the audio remuxed into one MP4 (M4A for audio-only media). */
    async makeDownload({ mediaId, video, audio }: DownloadInput): Promise<string> {
      const ctx = activityContext();
      return withHeartbeat(
        ctx,
        () => ({ step: 'download' }),
        () =>
          withTempDir(deps.tempDir, `${mediaId}-download`, async (dir) => {
            const inputs: string[] = [];
            if (video) inputs.push(await fetchRendition(deps, mediaId, video, path.join(dir, video.name)));
            if (audio) inputs.push(await fetchRendition(deps, mediaId, audio, path.join(dir, audio.name)));
            const download = downloadName(!video);
            await run(downloadArgs(inputs, path.join(dir, download)), ctx?.cancellationSignal);
            await storeForMedia(deps, ctx, mediaId, () =>
              deps.storage.putFile(streamKey(mediaId, download), path.join(dir, download)),
            );
            await deps.medias.addEvent(mediaId, {
              type: 'media.download',
              message: `${download} written${video ? ` (${video.name})` : ''}`,
              data: { file: download, ...(video ? { rendition: video.name } : {}) },
            });
            return download;
          }),
      );
    },
  };
};
