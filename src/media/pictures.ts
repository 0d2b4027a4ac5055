/** Poster and storyboard: pure planning and ffmpeg argv, like the encode builders. */

export interface StoryboardSettings {
  thumbnailWidth: number;
  columns: number;
  maxThumbnails: number;
  minIntervalSeconds: number;
}

export interface StoryboardPlan {
  count: number;
  interval: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

export function planStoryboard(
  duration: number,
  displayWidth: number,
  displayHeight: number,
  s: StoryboardSettings,
): StoryboardPlan {
  const count = Math.max(1, Math.min(s.maxThumbnails, Math.floor(duration / s.minIntervalSeconds)));
  const tileWidth = even(Math.min(s.thumbnailWidth, displayWidth));
  const tileHeight = even((tileWidth * displayHeight) / displayWidth);
  const columns = Math.min(s.columns, count);
  return { count, interval: duration / count, columns, rows: Math.ceil(count / columns), tileWidth, tileHeight };
}

/** One sprite sheet of `count` thumbnails taken every `interval` seconds. */
/** `inputArgs`: how the input may be read (sourceInputArgs, renditionInputArgs). */
export const storyboardArgs = (
  input: string,
  output: string,
  p: StoryboardPlan,
  inputArgs: string[] = [],
): string[] => [
  '-hide_banner',
  '-nostdin',
  '-y',
  '-loglevel',
  'error',
  ...inputArgs,
  '-i',
  input,
  '-map',
  '0:v:0',
  '-an',
  '-sn',
  '-dn',
  '-vf',
  `fps=1/${p.interval.toFixed(6)}:round=down,scale=${p.tileWidth}:${p.tileHeight},setsar=1,tile=${p.columns}x${p.rows}`,
  '-frames:v',
  '1',
  '-q:v',
  '4',
  '-update',
  '1',
  output,
];

const vttTime = (t: number) => {
  const ms = Math.round(t * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
};

/** WebVTT whose cues point at regions of the sprite (`#xywh=`), as seek-bar previews expect. */
export function storyboardVtt(p: StoryboardPlan, duration: number, spriteName: string): string {
  const cues: string[] = ['WEBVTT', ''];
  for (let i = 0; i < p.count; i++) {
    const start = i * p.interval;
    const end = i === p.count - 1 ? duration : (i + 1) * p.interval;
    const x = (i % p.columns) * p.tileWidth;
    const y = Math.floor(i / p.columns) * p.tileHeight;
    cues.push(
      `${vttTime(start)} --> ${vttTime(end)}`,
      `${spriteName}#xywh=${x},${y},${p.tileWidth},${p.tileHeight}`,
      '',
    );
  }
  return cues.join('\n');
}

/** A poster frame at `at` seconds, no larger than 1280 on its long side. */
export function posterArgs(
  input: string,
  output: string,
  at: number,
  displayWidth: number,
  displayHeight: number,
  inputArgs: string[] = [],
): string[] {
  const scale = Math.min(1, 1280 / Math.max(displayWidth, displayHeight));
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'error',
    '-ss',
    at.toFixed(3),
    ...inputArgs,
    '-i',
    input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    `scale=${even(displayWidth * scale)}:${even(displayHeight * scale)},setsar=1`,
    '-frames:v',
    '1',
    '-q:v',
    '3',
    '-update',
    '1',
    output,
  ];
}

/** Remux HLS renditions (video and/or audio playlists) into one progressive file with moov first. */
export const downloadArgs = (inputs: string[], output: string): string[] => [
  '-hide_banner',
  '-nostdin',
  '-y',
  '-loglevel',
  'error',
  ...inputs.flatMap((i) => ['-i', i]),
  ...inputs.flatMap((_, n) => ['-map', `${n}`]),
  '-c',
  'copy',
  '-movflags',
  '+faststart',
  output,
];
