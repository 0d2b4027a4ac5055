import { execa } from 'execa';

export interface VideoOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  audio?: boolean;
  /** Channel layout of the audio, e.g. '5.1'. */
  audioLayout?: string;
  /** Rotation metadata (degrees clockwise), as phones write for portrait video. */
  rotate?: number;
  /** Drop every 4th frame: a variable frame rate source. */
  vfr?: boolean;
  /** x264 constant quality (higher: smaller file), for long sources under an upload size limit. */
  crf?: number;
}

/** Small generated sources (ffmpeg lavfi), so no media file is committed. */
export async function makeVideo(file: string, o: VideoOptions = {}) {
  const { seconds = 3, width = 640, height = 360, fps = 25, audio = true } = o;
  const out = o.rotate ? `${file}.norotate.mp4` : file;
  const odd = width % 2 === 1 || height % 2 === 1;
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    ...(audio
      ? [
          '-f',
          'lavfi',
          '-i',
          `sine=frequency=440:sample_rate=48000:duration=${seconds}${o.audioLayout ? `,aformat=channel_layouts=${o.audioLayout}` : ''}`,
        ]
      : []),
    ...(o.vfr ? ['-vf', "select='not(eq(mod(n\\,4)\\,0))'", '-fps_mode', 'vfr'] : []),
    // testsrc2 rounds odd sizes down; scale to them, in 4:4:4 which H.264 allows at odd sizes.
    ...(odd ? ['-vf', `scale=${width}:${height}`, '-pix_fmt', 'yuv444p'] : ['-pix_fmt', 'yuv420p']),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    ...(o.crf ? ['-crf', String(o.crf)] : []),
    ...(audio ? ['-c:a', 'aac', '-b:a', '96k'] : []),
    '-shortest',
    out,
  ]);
  if (o.rotate) {
    // ffmpeg 5.1 writes the display matrix from the rotate tag only when stream-copying.
    await execa('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      out,
      '-c',
      'copy',
      '-metadata:s:v:0',
      `rotate=${o.rotate}`,
      file,
    ]);
    await execa('rm', ['-f', out]);
  }
}

export async function makeAudio(file: string, { seconds = 3 }: { seconds?: number } = {}) {
  await execa('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=330:sample_rate=44100:duration=${seconds}`,
    '-ac',
    '2',
    file,
  ]);
}

export async function probeDuration(input: string): Promise<number> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'json', input]);
  return Number((JSON.parse(stdout) as { format: { duration: string } }).format.duration);
}

export async function probeStreams(
  input: string,
): Promise<{ codec_type: string; codec_name: string; width?: number; height?: number }[]> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', input]);
  return (
    JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string; width?: number; height?: number }[] }
  ).streams;
}

/** Decodes the whole input; throws with ffmpeg's errors if any frame fails. */
export async function decodeFully(input: string): Promise<void> {
  const { stderr } = await execa('ffmpeg', ['-v', 'error', '-xerror', '-i', input, '-f', 'null', '-']);
  if (stderr.trim()) throw new Error(`decode errors in ${input}: ${stderr}`);
}

/** Deterministic "random" bytes (xorshift32), so a corrupted file is the same on every run. */
export function noise(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
