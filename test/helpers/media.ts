import { execa } from 'execa';

/** Small generated sources (ffmpeg lavfi), so no media file is committed. */
export async function makeVideo(
  file: string,
  { seconds = 3, width = 640, height = 360, fps = 25, audio = true }: { seconds?: number; width?: number; height?: number; fps?: number; audio?: boolean } = {},
) {
  await execa('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    ...(audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
    ...(audio ? ['-c:a', 'aac', '-b:a', '96k'] : []),
    '-shortest', file,
  ]);
}

export async function makeAudio(file: string, { seconds = 3 }: { seconds?: number } = {}) {
  await execa('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=330:sample_rate=44100:duration=${seconds}`, '-ac', '2', file]);
}

export async function probeDuration(input: string): Promise<number> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', input]);
  return Number((JSON.parse(stdout) as { format: { duration: string } }).format.duration);
}

export async function probeStreams(input: string): Promise<{ codec_type: string; codec_name: string; width?: number; height?: number }[]> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', input]);
  return (JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string; width?: number; height?: number }[] }).streams;
}

/** Decodes the whole input; throws with ffmpeg's errors if any frame fails. */
export async function decodeFully(input: string): Promise<void> {
  const { stderr } = await execa('ffmpeg', ['-v', 'error', '-xerror', '-i', input, '-f', 'null', '-']);
  if (stderr.trim()) throw new Error(`decode errors in ${input}: ${stderr}`);
}
