/**
 * Timed text: what an uploaded subtitle file is, the ffmpeg arguments that make WebVTT of it, and
 * the checks of what came out. Pure functions; the runner runs the arguments.
 */
import { quietArgs } from './ffmpeg-args.ts';

export type TimedTextFormat = 'webvtt' | 'srt' | 'ass';

/**
 * The format of a timed-text file from its first bytes, or null. Only these three are taken, and
 * each is then read with its own demuxer (never ffmpeg's probing), so a playlist, a concat list or
 * anything else uploaded as subtitles is refused before ffmpeg sees it.
 */
export function sniffTimedText(head: string): TimedTextFormat | null {
  const text = head.replace(/^\uFEFF/, '').trimStart();
  if (/^WEBVTT(?:[ \t].*)?(?:\r?\n|$)/.test(text)) return 'webvtt';
  if (/^\[Script Info\]/i.test(text)) return 'ass';
  // SubRip: a cue number, then a timing line "00:00:01,000 --> 00:00:02,500".
  if (/^\d+[ \t]*\r?\n[ \t]*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}[ \t]*-->[ \t]*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}/.test(text))
    return 'srt';
  return null;
}

/** The WebVTT output of the first subtitle stream mapped. */
const webVttOutput = (output: string) => ['-c:s', 'webvtt', '-f', 'webvtt', '-y', output];

/** ffmpeg's arguments that read `input` as `format` (that demuxer, files only) and write WebVTT to `output`. */
export function webVttArgs(format: TimedTextFormat, input: string, output: string): string[] {
  return [
    ...quietArgs,
    '-protocol_whitelist',
    'file',
    '-f',
    format,
    '-i',
    input,
    '-map',
    '0:s:0',
    ...webVttOutput(output),
  ];
}

/** ffmpeg's arguments that write subtitle stream `stream` (an index of the source) as WebVTT. */
export function sourceSubtitleArgs(inputArgs: string[], input: string, stream: number, output: string): string[] {
  return [...quietArgs, ...inputArgs, '-i', input, '-map', `0:${stream}`, ...webVttOutput(output)];
}

const timing = /^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})[ \t]+-->[ \t]+(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})/;
const seconds = (h: string | undefined, m: string, s: string, ms: string) =>
  Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000;

/** What a WebVTT file holds: its cues' count and where the last one ends; null when it is not WebVTT. */
export function readWebVtt(text: string): { cues: number; endSeconds: number } | null {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (!/^WEBVTT(?:[ \t].*)?$/.test(lines[0] ?? '')) return null;
  let cues = 0;
  let end = 0;
  for (const line of lines) {
    const m = timing.exec(line.trim());
    if (!m) continue;
    const start = seconds(m[1], m[2]!, m[3]!, m[4]!);
    const stop = seconds(m[5], m[6]!, m[7]!, m[8]!);
    if (stop < start) return null;
    cues++;
    end = Math.max(end, stop);
  }
  return { cues, endSeconds: end };
}

/**
 * The WebVTT as the one segment of an HLS subtitle playlist: its cue times are the media's, whose
 * fMP4 timeline starts `timelineOffsetSeconds` in (chunked renditions start theirs later than 0),
 * so X-TIMESTAMP-MAP says that cue time 0 is that media time (in 90 kHz units, RFC 8216 3.5).
 */
export function withTimestampMap(vtt: string, timelineOffsetSeconds: number): string {
  const text = vtt.replace(/^\uFEFF/, '');
  const nl = text.indexOf('\n');
  const header = nl === -1 ? text : text.slice(0, nl).replace(/\r$/, '');
  const rest = nl === -1 ? '' : text.slice(nl + 1);
  const map = `X-TIMESTAMP-MAP=MPEGTS:${Math.round(timelineOffsetSeconds * 90000)},LOCAL:00:00:00.000`;
  return `${header}\n${map}\n${rest}`;
}
