import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { posterName, storyboardImageName, storyboardVttName, streamKey } from '../domain/paths.ts';
import type { PictureSettings } from '../domain/workflow.ts';
import type { VariantEntry } from '../media/hls.ts';
import { planStoryboard, posterArgs, storyboardArgs, storyboardVtt } from '../media/pictures.ts';
import { renditionInputArgs, sourceInputArgs } from '../media/source-formats.ts';
import { activityContext, withHeartbeat } from './context.ts';
import type { ActivityDeps } from './deps.ts';
import { backgroundFfmpeg } from './ffmpeg.ts';
import { storeForMedia } from './media-guard.ts';
import { fetchRendition, fetchStored } from './stored-files.ts';
import { withTempDir } from './temp-dirs.ts';

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

const isFile = async (file: string) => (await stat(file).catch(() => null))?.isFile() === true;

export const createPictureActivities = (deps: ActivityDeps) => {
  const run = backgroundFfmpeg(deps);
  return {
    /** Poster at a fraction of the duration, and the storyboard sprite with its WebVTT. */
    async makePictures({
      mediaId,
      sourceKey,
      storyboardFrom,
      duration,
      displayWidth,
      displayHeight,
      settings,
    }: PicturesInput): Promise<string[]> {
      const ctx = activityContext();
      return withHeartbeat(
        ctx,
        () => ({ step: 'pictures' }),
        () =>
          withTempDir(deps.tempDir, `${mediaId}-pictures`, async (dir) => {
            const source = await fetchStored(deps, mediaId, sourceKey, path.join(dir, 'source'));
            const rendition = storyboardFrom
              ? await fetchRendition(deps, mediaId, storyboardFrom, path.join(dir, 'storyboard-source'))
              : null;
            const made: string[] = [];
            const missing: string[] = [];
            // A damaged source may give no frame where the poster is asked for (ffmpeg then exits 0
            // and writes nothing): try the encoded rendition, then the first frame.
            const poster = path.join(dir, posterName);
            const from = (input: string) => ({
              input,
              args: input === source ? sourceInputArgs(source) : renditionInputArgs(),
            });
            const attempts = [
              { ...from(source), at: duration * settings.posterAt },
              ...(rendition ? [{ ...from(rendition), at: duration * settings.posterAt }] : []),
              { ...from(rendition ?? source), at: 0 },
            ];
            for (const a of attempts) {
              await run(
                posterArgs(a.input, poster, a.at, displayWidth, displayHeight, a.args),
                ctx?.cancellationSignal,
              );
              if (await isFile(poster)) break;
            }
            if (await isFile(poster)) made.push(posterName);
            else missing.push(posterName);
            if (settings.storyboard) {
              const plan = planStoryboard(duration, displayWidth, displayHeight, settings.storyboard);
              await run(
                storyboardArgs(
                  rendition ?? source,
                  path.join(dir, storyboardImageName),
                  plan,
                  from(rendition ?? source).args,
                ),
                ctx?.cancellationSignal,
              );
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
            await deps.medias.addEvent(mediaId, {
              type: 'media.pictures',
              message: `poster${settings.storyboard ? ' and storyboard' : ''} made`,
              data: { files: made },
            });
            return made;
          }),
      );
    },
  };
};
