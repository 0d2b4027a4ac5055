/** Reading rendition playlists and writing the master playlist. Pure text functions. */

export interface MediaSegment {
  uri: string;
  duration: number;
}

export interface MediaPlaylist {
  targetDuration: number;
  initUri: string | null;
  segments: MediaSegment[];
  ended: boolean;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const out: MediaPlaylist = { targetDuration: 0, initUri: null, segments: [], ended: false };
  let pendingDuration: number | null = null;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) out.targetDuration = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-MAP:')) out.initUri = /URI="([^"]+)"/.exec(line)?.[1] ?? null;
    else if (line.startsWith('#EXTINF:')) pendingDuration = parseFloat(line.slice(8));
    else if (line === '#EXT-X-ENDLIST') out.ended = true;
    else if (!line.startsWith('#') && pendingDuration !== null) {
      out.segments.push({ uri: line, duration: pendingDuration });
      pendingDuration = null;
    }
  }
  return out;
}

/**
 * BANDWIDTH and AVERAGE-BANDWIDTH of a rendition from its segment sizes. The peak is the
 * RFC 8216 one: the highest bit rate of any contiguous run of segments lasting between 0.5
 * and 1.5 target durations (so a tiny last segment does not inflate it); the init segment
 * counts toward the first.
 */
export function measureBandwidth(segments: { duration: number; bytes: number }[], initBytes = 0, targetDuration = 0) {
  const bytes = segments.map((s, i) => s.bytes + (i === 0 ? initBytes : 0));
  const totalBytes = bytes.reduce((a, b) => a + b, 0);
  const totalDuration = segments.reduce((a, s) => a + s.duration, 0);
  const average = totalDuration > 0 ? (totalBytes * 8) / totalDuration : 0;
  const target = targetDuration || Math.max(0, ...segments.map((s) => Math.round(s.duration)));
  let peak = 0;
  for (let i = 0; i < segments.length; i++) {
    let runBytes = 0;
    let runSeconds = 0;
    for (let j = i; j < segments.length && runSeconds + segments[j]!.duration <= 1.5 * target; j++) {
      runBytes += bytes[j]!;
      runSeconds += segments[j]!.duration;
      if (runSeconds >= 0.5 * target) peak = Math.max(peak, (runBytes * 8) / runSeconds);
    }
  }
  return { bandwidth: Math.ceil(peak || average), averageBandwidth: Math.ceil(average) };
}

/**
 * A rendition's media playlist, written by Gilfoyle from its segments (a chunked rendition is
 * the list of every chunk's segments). `EVENT`: it grows as segments land, and a player reloads
 * it; `ended` adds ENDLIST (nothing more comes). `VOD`: final.
 */
export function buildMediaPlaylist(p: {
  initUri: string;
  segments: MediaSegment[];
  /** Fixed for the playlist's whole life (an EVENT playlist must not change it): at least every EXTINF, rounded. */
  targetDuration: number;
  type: 'EVENT' | 'VOD';
  ended: boolean;
}): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.round(p.targetDuration))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    `#EXT-X-PLAYLIST-TYPE:${p.type}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${p.initUri}"`,
  ];
  for (const s of p.segments) lines.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  if (p.ended || p.type === 'VOD') lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** What the master playlist says of a rendition. */
export interface MasterEntry {
  type: 'video' | 'audio';
  name: string;
  playlist: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
  /** Audio channels; 2 when absent. */
  channels?: number;
}

/** An encoded rendition: its master playlist entry, and its files (for DASH and the download). */
export interface VariantEntry extends MasterEntry {
  /** Init segment and media segments (file names) with their durations in seconds. */
  init: string;
  segments: MediaSegment[];
  /** Where its timeline starts (the first segment's time), in seconds: chunked media start theirs later than 0. */
  timelineOffset?: number;
}

const audioGroup = 'audio';

/**
 * The master playlist: video variants first (highest first, so players start on video),
 * each pointing at the audio group when there is one; an audio-only media lists its
 * audio rendition as the only variant.
 */
export function buildMasterPlaylist(variants: MasterEntry[]): string {
  const video = variants.filter((v) => v.type === 'video').sort((a, b) => b.bandwidth - a.bandwidth);
  const audio = variants.find((v) => v.type === 'audio');
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (video.length === 0) {
    if (audio) {
      lines.push(
        `#EXT-X-STREAM-INF:BANDWIDTH=${audio.bandwidth},AVERAGE-BANDWIDTH=${audio.averageBandwidth},CODECS="${audio.codecs}"`,
        audio.playlist,
      );
    }
    return lines.join('\n') + '\n';
  }
  if (audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audioGroup}",NAME="default",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels ?? 2}",URI="${audio.playlist}"`,
    );
  }
  for (const v of video) {
    const bandwidth = v.bandwidth + (audio?.bandwidth ?? 0);
    const average = v.averageBandwidth + (audio?.averageBandwidth ?? 0);
    const codecs = audio ? `${v.codecs},${audio.codecs}` : v.codecs;
    const attrs = [
      `BANDWIDTH=${bandwidth}`,
      `AVERAGE-BANDWIDTH=${average}`,
      `RESOLUTION=${v.width}x${v.height}`,
      `FRAME-RATE=${(v.frameRate ?? 0).toFixed(3)}`,
      `CODECS="${codecs}"`,
      ...(audio ? [`AUDIO="${audioGroup}"`] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.playlist);
  }
  return lines.join('\n') + '\n';
}

export const aacLcCodec = 'mp4a.40.2';

/** A text track of the streams (a subtitles or captions attachment). */
export interface TextTrack {
  key: string;
  kind: 'subtitles' | 'captions';
  language: string | null;
  label: string | null;
  isDefault: boolean;
  /** Its HLS media playlist (file name). */
  playlist: string;
  /** Its WebVTT (file name), for DASH. */
  file: string;
}

const subtitlesGroup = 'subs';
/** A quoted-string of RFC 8216 holds no double quote, CR or LF. */
const quoted = (s: string) => s.replace(/["\r\n]/g, "'");

/** A track's NAME in the master playlist: its label, or its language, or its key; unique within the group. */
export function textTrackNames(tracks: TextTrack[]): string[] {
  const seen = new Set<string>();
  return tracks.map((t) => {
    let name = quoted(t.label ?? t.language ?? t.key);
    if (seen.has(name)) name = `${name} (${t.key})`;
    seen.add(name);
    return name;
  });
}

/**
 * The master playlist with its text tracks: one `EXT-X-MEDIA:TYPE=SUBTITLES` each (captions say
 * so in CHARACTERISTICS; none is FORCED), and every variant naming the group. CLOSED-CAPTIONS=NONE:
 * Gilfoyle's renditions carry no CEA-608/708 captions in the video.
 */
export function withTextTracks(master: string, tracks: TextTrack[]): string {
  if (tracks.length === 0) return master;
  const names = textTrackNames(tracks);
  const media = tracks.map((t, i) =>
    [
      '#EXT-X-MEDIA:TYPE=SUBTITLES',
      `GROUP-ID="${subtitlesGroup}"`,
      `NAME="${names[i]}"`,
      ...(t.language ? [`LANGUAGE="${quoted(t.language)}"`] : []),
      `DEFAULT=${t.isDefault ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      'FORCED=NO',
      ...(t.kind === 'captions'
        ? [
            'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"',
          ]
        : []),
      `URI="${t.playlist}"`,
    ].join(','),
  );
  const out: string[] = [];
  let placed = false;
  for (const line of master.split('\n')) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      if (!placed) out.push(...media);
      placed = true;
      out.push(`${line},SUBTITLES="${subtitlesGroup}",CLOSED-CAPTIONS=NONE`);
    } else out.push(line);
  }
  return out.join('\n');
}

/** A text track's HLS media playlist: its whole WebVTT as one segment as long as the media. */
export function buildTextPlaylist(segment: string, durationSeconds: number): string {
  const duration = Math.max(durationSeconds, 0.001);
  return (
    [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${Math.ceil(duration)}`,
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      `#EXTINF:${duration.toFixed(6)},`,
      segment,
      '#EXT-X-ENDLIST',
    ].join('\n') + '\n'
  );
}
