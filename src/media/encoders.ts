import { execa } from 'execa';
import type { VideoCodec } from '../domain/renditions.ts';

/** The FFmpeg encoder each codec of the ladder is encoded with (see ffmpeg-args.ts). */
export const encoderOf: Record<VideoCodec, string> = { h264: 'libx264', hevc: 'libx265', av1: 'libsvtav1' };
export const audioEncoder = 'aac';

/** Encoder names from `ffmpeg -encoders` output (lines like " V....D libx264   libx264 H.264 …"). */
export function parseEncoderList(output: string): Set<string> {
  const names = new Set<string>();
  for (const line of output.split('\n')) {
    const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

export async function availableEncoders(ffmpegPath: string): Promise<Set<string>> {
  const { stdout } = await execa(ffmpegPath, ['-hide_banner', '-encoders'], { timeout: 30_000, stdin: 'ignore' });
  return parseEncoderList(stdout);
}

/** Config problems: every rung whose codec this ffmpeg cannot encode, named by its config key. */
export function missingEncoders(codecs: VideoCodec[], available: Set<string>): string[] {
  const problems: string[] = [];
  codecs.forEach((codec, i) => {
    const encoder = encoderOf[codec];
    if (!available.has(encoder))
      problems.push(
        `encoding.renditions.${i}.codec: ${codec} needs the ffmpeg encoder ${encoder}, which this ffmpeg lacks`,
      );
  });
  if (!available.has(audioEncoder)) problems.push(`encoding.ffmpeg_path: this ffmpeg has no ${audioEncoder} encoder`);
  return problems;
}

/** What keeps this ffmpeg from encoding the ladder's codecs (none: it can); throws when ffmpeg cannot be run. */
export async function encoderProblems(ffmpegPath: string, codecs: VideoCodec[]): Promise<string[]> {
  return missingEncoders(codecs, await availableEncoders(ffmpegPath));
}
