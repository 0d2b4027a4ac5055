import type { RunOptions } from '../media/runner.ts';
import { runFfmpeg } from '../media/runner.ts';
import type { ActivityDeps } from './deps.ts';

/**
 * ffmpeg for work that may wait (the ladder above the playable rung, pictures, the download): at
 * encoding.background_priority, and paused while a playable encode runs on this worker.
 */
export const backgroundFfmpeg =
  (deps: ActivityDeps) =>
  (args: string[], signal?: AbortSignal, opts: Pick<RunOptions, 'onProgress'> = {}) =>
    runFfmpeg(deps.ffmpegPath, args, {
      signal,
      timeoutMs: deps.ffmpegTimeoutMs,
      priority: deps.backgroundPriority,
      ...(deps.foreground ? { onSpawn: (pid: number) => deps.foreground!.trackBackground(pid) } : {}),
      ...opts,
    });
