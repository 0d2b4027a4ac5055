/**
 * Checks of one media's output folder (flat, local): HLS master + fMP4 renditions, the DASH
 * manifest over the same segments, the progressive download and the storyboard. Each check
 * reads files and asks ffprobe/ffmpeg, throws an Error naming the file and the violation,
 * and returns what it measured so a test can assert more.
 *
 * Neither ffprobe nor ffmpeg 5.1 needs extra flags to read a local fMP4 HLS playlist
 * (`.m4s`/`.mp4` are in the HLS demuxer's default allowed_extensions) or a local MPD.
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';

// ---------------------------------------------------------------- small utilities

function fail(message: string): never {
  throw new Error(message);
}

/** Output files are flat names: no folder, no `..`, nothing absolute or remote. */
function flatFile(dir: string, name: string, where: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..')) {
    fail(`${where}: "${name}" is not a flat file name inside the output folder`);
  }
  return path.join(dir, name);
}

async function fileBytes(file: string, where: string): Promise<number> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) fail(`${where}: ${path.basename(file)} is not a file`);
    size = s.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail(`${where}: ${path.basename(file)} does not exist`);
    throw e;
  }
  if (size === 0) fail(`${where}: ${path.basename(file)} is empty`);
  return size;
}

/** An init segment holds a moov; a media segment a moof followed by its mdat. */
async function checkFmp4Structure(file: string, kind: 'init' | 'media', where: string): Promise<void> {
  let types: string[];
  try {
    types = (await mp4Boxes(file)).map((b) => b.type);
  } catch (e) {
    fail(`${where}: ${path.basename(file)} is not ISO-BMFF: ${(e as Error).message}`);
  }
  const ok =
    kind === 'init'
      ? types.includes('moov')
      : types.includes('moof') && types.lastIndexOf('mdat') > types.indexOf('moof');
  if (!ok) fail(`${where}: ${path.basename(file)} is not an fMP4 ${kind} segment (boxes: ${types.join(' ')})`);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      fail(`${path.basename(file)} does not exist in ${path.dirname(file)}`);
    throw e;
  }
}

/** "30000/1001" → 29.97; "0/0" or garbage → undefined. */
function ratio(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const [n, d] = text.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  const value = d === undefined ? n : d > 0 ? n / d : NaN;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

const fmt = (n: number) => n.toFixed(3);

// ---------------------------------------------------------------- ffprobe

interface ProbedStream {
  index: number;
  codec_type: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  start_time?: string;
  channels?: number;
}

async function probeStreamsOf(input: string): Promise<ProbedStream[]> {
  const { stdout } = await execa('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=index,codec_type,codec_name,width,height,r_frame_rate,avg_frame_rate,start_time,channels',
    '-of',
    'json',
    input,
  ]);
  return (JSON.parse(stdout) as { streams?: ProbedStream[] }).streams ?? [];
}

async function probeKeyframes(input: string): Promise<number[]> {
  // Packets flagged K (sync samples), not decoded frames: not every decoder honours -skip_frame
  // nokey (ffmpeg 5.1's AV1 decoders return every frame), while the container's flags are exact.
  const { stdout } = await execa('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'json',
    input,
  ]);
  const packets = (JSON.parse(stdout) as { packets?: { pts_time?: string; flags?: string }[] }).packets ?? [];
  return packets
    .filter((p) => p.flags?.includes('K'))
    .map((p, i) => {
      const t = Number(p.pts_time);
      if (p.pts_time === undefined || !Number.isFinite(t))
        fail(`${path.basename(input)}: keyframe ${i} has no pts_time`);
      return t;
    })
    .sort((a, b) => a - b);
}

// ---------------------------------------------------------------- HLS master

export interface MasterVariant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  resolution?: { width: number; height: number };
  frameRate?: number;
  codecs: string;
  audioGroup?: string;
}

export interface MasterAudioMedia {
  groupId: string;
  uri: string;
}

export interface MasterPlaylist {
  variants: MasterVariant[];
  audio: MasterAudioMedia[];
}

/** `A=1,B="x,y",C=2` → { A: '1', B: 'x,y', C: '2' } */
function parseAttributes(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(list)) !== null) {
    const value = m[2] ?? '';
    out[m[1] ?? ''] = value.startsWith('"') ? value.slice(1, -1) : value;
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

function positiveInt(value: string | undefined, what: string): number {
  if (value === undefined) fail(`${what} is missing`);
  if (!/^\d+$/.test(value)) fail(`${what} is not a decimal integer: "${value}"`);
  const n = Number(value);
  if (n <= 0) fail(`${what} must be > 0, got ${n}`);
  return n;
}

/** Parses (and validates) a master playlist. Pure, synchronous. */
export function parseMaster(text: string): MasterPlaylist {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines[0] !== '#EXTM3U') fail('master.m3u8: first line is not #EXTM3U');
  if (lines.some((l) => l.startsWith('#EXTINF:')))
    fail('master.m3u8: contains #EXTINF; this is a media playlist, not a master');
  const variants: MasterVariant[] = [];
  const audio: MasterAudioMedia[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = parseAttributes(line.slice('#EXT-X-MEDIA:'.length));
      if (a.TYPE !== 'AUDIO') continue;
      if (!a['GROUP-ID']) fail(`master.m3u8 line ${i + 1}: EXT-X-MEDIA TYPE=AUDIO without GROUP-ID`);
      if (!a.URI) fail(`master.m3u8 line ${i + 1}: EXT-X-MEDIA TYPE=AUDIO without URI`);
      audio.push({ groupId: a['GROUP-ID'], uri: a.URI });
    } else if (line.startsWith('#EXT-X-STREAM-INF:')) {
      const where = `master.m3u8 line ${i + 1}`;
      const a = parseAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
      const uri = lines[i + 1];
      if (uri === undefined || uri.startsWith('#')) fail(`${where}: EXT-X-STREAM-INF is not followed by a URI line`);
      const bandwidth = positiveInt(a.BANDWIDTH, `${where}: BANDWIDTH`);
      const averageBandwidth = positiveInt(a['AVERAGE-BANDWIDTH'], `${where}: AVERAGE-BANDWIDTH`);
      if (averageBandwidth > bandwidth)
        fail(`${where}: AVERAGE-BANDWIDTH ${averageBandwidth} > BANDWIDTH ${bandwidth}`);
      if (!a.CODECS) fail(`${where}: CODECS is missing`);
      const v: MasterVariant = { uri, bandwidth, averageBandwidth, codecs: a.CODECS };
      if (a.RESOLUTION !== undefined) {
        const r = /^(\d+)x(\d+)$/.exec(a.RESOLUTION);
        if (!r) fail(`${where}: RESOLUTION "${a.RESOLUTION}" is not WxH`);
        v.resolution = { width: Number(r[1]), height: Number(r[2]) };
      }
      if (a['FRAME-RATE'] !== undefined) {
        const fr = Number(a['FRAME-RATE']);
        if (!(fr > 0)) fail(`${where}: FRAME-RATE "${a['FRAME-RATE']}" is not a positive number`);
        v.frameRate = fr;
      }
      if (a.AUDIO !== undefined) v.audioGroup = a.AUDIO;
      variants.push(v);
      i++;
    }
  }
  if (variants.length === 0) fail('master.m3u8: no EXT-X-STREAM-INF variant');
  for (const v of variants) {
    if (v.audioGroup !== undefined && !audio.some((m) => m.groupId === v.audioGroup)) {
      fail(
        `master.m3u8: variant ${v.uri} uses AUDIO="${v.audioGroup}" but no EXT-X-MEDIA TYPE=AUDIO has that GROUP-ID`,
      );
    }
  }
  return { variants, audio };
}

// ---------------------------------------------------------------- HLS rendition

export interface HlsSegmentFacts {
  uri: string;
  duration: number;
  bytes: number;
}

export interface HlsRenditionReport {
  targetDuration: number;
  initUri: string;
  initBytes: number;
  segments: HlsSegmentFacts[];
  /** Sum of EXTINF durations, seconds. */
  duration: number;
  /** pts (seconds) of every video keyframe; only for a rendition with video. */
  keyframeTimes?: number[];
  video?: { codec: string; width: number; height: number; frameRate?: number; startTime: number };
  audio?: { codec: string; channels: number };
  /** RFC 8216 peak: max bit rate of contiguous segment runs of 0.5–1.5 × target duration, init counted with the first (bits/s). */
  peakBitrate: number;
  /** (init + all segments) * 8 / total duration (bits/s). */
  averageBitrate: number;
}

/** Keyframe pts times (seconds) of the first video stream of a local HLS playlist. */
export async function keyframeTimes(dir: string, playlistName: string): Promise<number[]> {
  return probeKeyframes(flatFile(dir, playlistName, playlistName));
}

export async function checkHlsRendition(dir: string, playlistName: string): Promise<HlsRenditionReport> {
  const playlist = flatFile(dir, playlistName, playlistName);
  const lines = (await readText(playlist))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const where = playlistName;
  if (lines[0] !== '#EXTM3U') fail(`${where}: first line is not #EXTM3U`);

  let targetDuration: number | undefined;
  let playlistType: string | undefined;
  let initUri: string | undefined;
  let ended = false;
  let pending: number | undefined;
  const entries: { uri: string; duration: number }[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      targetDuration = positiveInt(
        line.slice('#EXT-X-TARGETDURATION:'.length),
        `${where} line ${i + 1}: EXT-X-TARGETDURATION`,
      );
    } else if (line.startsWith('#EXT-X-PLAYLIST-TYPE:')) {
      playlistType = line.slice('#EXT-X-PLAYLIST-TYPE:'.length);
    } else if (line.startsWith('#EXT-X-MAP:')) {
      if (initUri !== undefined) fail(`${where}: more than one EXT-X-MAP`);
      initUri = parseAttributes(line.slice('#EXT-X-MAP:'.length)).URI;
      if (!initUri) fail(`${where} line ${i + 1}: EXT-X-MAP without URI`);
    } else if (line.startsWith('#EXTINF:')) {
      const d = parseFloat(line.slice('#EXTINF:'.length));
      if (!(d > 0)) fail(`${where} line ${i + 1}: EXTINF duration "${line}" is not > 0`);
      pending = d;
    } else if (line === '#EXT-X-ENDLIST') {
      ended = true;
    } else if (!line.startsWith('#')) {
      if (pending === undefined) fail(`${where} line ${i + 1}: URI "${line}" has no EXTINF`);
      entries.push({ uri: line, duration: pending });
      pending = undefined;
    }
  });
  if (!ended) fail(`${where}: no #EXT-X-ENDLIST (a VOD playlist must end)`);
  if (playlistType !== 'VOD') fail(`${where}: EXT-X-PLAYLIST-TYPE is ${playlistType ?? 'missing'}, expected VOD`);
  if (targetDuration === undefined) fail(`${where}: EXT-X-TARGETDURATION is missing`);
  if (initUri === undefined) fail(`${where}: no EXT-X-MAP (fMP4 renditions need an init segment)`);
  if (entries.length === 0) fail(`${where}: no segments`);
  const target = targetDuration;
  entries.forEach((e, i) => {
    if (Math.round(e.duration) > target) {
      fail(
        `${where}: segment ${i} (${e.uri}) lasts ${e.duration} s, rounds to ${Math.round(e.duration)} > TARGETDURATION ${target}`,
      );
    }
  });

  const initFile = flatFile(dir, initUri, where);
  const initBytes = await fileBytes(initFile, `${where} EXT-X-MAP`);
  await checkFmp4Structure(initFile, 'init', `${where} EXT-X-MAP`);
  const segments: HlsSegmentFacts[] = [];
  for (const [i, e] of entries.entries()) {
    const file = flatFile(dir, e.uri, where);
    const bytes = await fileBytes(file, `${where} segment ${i}`);
    await checkFmp4Structure(file, 'media', `${where} segment ${i}`);
    segments.push({ ...e, bytes });
  }

  // Peak segment bit rate as RFC 8216 §4.3.4.2 defines BANDWIDTH: the largest bit rate of any
  // contiguous run of segments lasting 0.5–1.5 × the target duration (the whole rendition when shorter).
  const bytesOf = (i: number) => segments[i]!.bytes + (i === 0 ? initBytes : 0);
  const totalBytes = segments.reduce((sum, _s, i) => sum + bytesOf(i), 0);
  const duration = segments.reduce((sum, s) => sum + s.duration, 0);
  let peakBitrate = 0;
  for (let i = 0; i < segments.length; i++) {
    for (let j = i, bytes = 0, secs = 0; j < segments.length; j++) {
      bytes += bytesOf(j);
      secs += segments[j]!.duration;
      if (secs > 1.5 * target) break;
      if (secs >= 0.5 * target) peakBitrate = Math.max(peakBitrate, (bytes * 8) / secs);
    }
  }
  if (peakBitrate === 0) peakBitrate = (totalBytes * 8) / duration;
  const report: HlsRenditionReport = {
    targetDuration: target,
    initUri,
    initBytes,
    segments,
    duration,
    peakBitrate,
    averageBitrate: (totalBytes * 8) / duration,
  };

  const streams = await probeStreamsOf(playlist);
  const a = streams.find((s) => s.codec_type === 'audio');
  if (a) report.audio = { codec: a.codec_name ?? 'unknown', channels: a.channels ?? 0 };
  const v = streams.find((s) => s.codec_type === 'video');
  if (!v && !a) fail(`${where}: ffprobe finds neither video nor audio`);
  if (v) {
    if (!v.width || !v.height) fail(`${where}: ffprobe reports no video size`);
    const frameRate = ratio(v.avg_frame_rate) ?? ratio(v.r_frame_rate);
    const keyframes = await probeKeyframes(playlist);
    if (keyframes.length === 0) fail(`${where}: ffprobe finds no video keyframe`);
    const startTime =
      Number.isFinite(Number(v.start_time)) && v.start_time !== undefined ? Number(v.start_time) : (keyframes[0] ?? 0);
    // Half a frame when the frame rate is known, else 20 ms.
    const tolerance = frameRate ? 0.5 / frameRate : 0.02;
    let start = 0;
    segments.forEach((s, i) => {
      const t = startTime + start;
      const nearest = keyframes.reduce((best, k) => (Math.abs(k - t) < Math.abs(best - t) ? k : best), Infinity);
      if (Math.abs(nearest - t) > tolerance) {
        fail(
          `${where}: segment ${i} (${s.uri}) starts at ${fmt(t)} s (stream start ${fmt(startTime)} + EXTINF sum ${fmt(start)}) ` +
            `but the nearest keyframe is at ${fmt(nearest)} s (tolerance ${fmt(tolerance)} s)`,
        );
      }
      start += s.duration;
    });
    report.keyframeTimes = keyframes;
    report.video = {
      codec: v.codec_name ?? 'unknown',
      width: v.width,
      height: v.height,
      startTime,
      ...(frameRate ? { frameRate } : {}),
    };
  }
  return report;
}

// ---------------------------------------------------------------- ladder (master + renditions)

/** RFC 6381 sample-entry prefixes per ffprobe codec name. Unknown codecs are not checked. */
const codecPrefixes: Record<string, string[]> = {
  h264: ['avc1', 'avc3'],
  hevc: ['hvc1', 'hev1'],
  av1: ['av01'],
  vp9: ['vp09'],
  aac: ['mp4a.40'],
  mp3: ['mp4a.40.34', 'mp4a.6b'],
  opus: ['opus'],
  flac: ['flac'],
  ac3: ['ac-3'],
  eac3: ['ec-3'],
};

function checkCodecListed(codecs: string, codecName: string, where: string) {
  const prefixes = codecPrefixes[codecName];
  if (!prefixes) return;
  const listed = codecs.split(',').map((c) => c.trim().toLowerCase());
  if (!listed.some((c) => prefixes.some((p) => c.startsWith(p)))) {
    fail(`${where}: CODECS="${codecs}" lists no ${prefixes.join('/')} entry for the ${codecName} stream ffprobe finds`);
  }
}

export interface LadderVariantReport {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  /** video (or audio-only) rendition peak + audio rendition peak, bits/s. */
  measuredPeak: number;
  measuredAverage: number;
  width?: number;
  height?: number;
  frameRate?: number;
  rendition: HlsRenditionReport;
}

export interface LadderReport {
  master: MasterPlaylist;
  audioOnly: boolean;
  variants: LadderVariantReport[];
  audio?: { uri: string; rendition: HlsRenditionReport };
  /** The keyframe times every video rung shares (those of the first rung). */
  keyframeTimes?: number[];
}

/**
 * `keyframeTolerance`: how far apart (seconds) the same keyframe may be on two rungs. The default
 * demands identical times; a ladder mixing codecs needs one encoder reorder delay (B-frames), since
 * ffmpeg 5.1 writes fMP4 fragments without the edit list that would remove it.
 */
export async function checkLadder(
  dir: string,
  { keyframeTolerance = 0.01 }: { keyframeTolerance?: number } = {},
): Promise<LadderReport> {
  const master = parseMaster(await readText(path.join(dir, 'master.m3u8')));
  const audioRenditions = new Map<string, HlsRenditionReport>();
  for (const m of master.audio) audioRenditions.set(m.groupId, await checkHlsRendition(dir, m.uri));

  const variants: LadderVariantReport[] = [];
  let reference: { uri: string; times: number[] } | undefined;
  let audioOnly = true;
  for (const v of master.variants) {
    const where = `master.m3u8 variant ${v.uri}`;
    const rendition = await checkHlsRendition(dir, v.uri);
    const group = v.audioGroup === undefined ? undefined : audioRenditions.get(v.audioGroup);
    const measuredPeak = rendition.peakBitrate + (group?.peakBitrate ?? 0);
    const measuredAverage = rendition.averageBitrate + (group?.averageBitrate ?? 0);
    if (measuredPeak > v.bandwidth) {
      fail(
        `${where}: measured peak ${Math.ceil(measuredPeak)} bit/s (rendition ${Math.ceil(rendition.peakBitrate)}` +
          `${group ? ` + audio ${Math.ceil(group.peakBitrate)}` : ''}) exceeds BANDWIDTH=${v.bandwidth}`,
      );
    }
    if (rendition.video) {
      audioOnly = false;
      const { width, height } = rendition.video;
      if (!v.resolution) fail(`${where}: video variant without RESOLUTION (ffprobe: ${width}x${height})`);
      if (v.resolution.width !== width || v.resolution.height !== height) {
        fail(
          `${where}: RESOLUTION=${v.resolution.width}x${v.resolution.height} but ffprobe reports ${width}x${height}`,
        );
      }
      checkCodecListed(v.codecs, rendition.video.codec, where);
      const times = rendition.keyframeTimes ?? [];
      if (!reference) {
        reference = { uri: v.uri, times };
      } else {
        const ref = reference;
        if (times.length !== ref.times.length) {
          fail(
            `${where}: ${times.length} keyframes but ${ref.uri} has ${ref.times.length} ` +
              `(${v.uri}: ${times.map(fmt).join(' ')}; ${ref.uri}: ${ref.times.map(fmt).join(' ')})`,
          );
        }
        times.forEach((t, i) => {
          const r = ref.times[i] ?? NaN;
          if (!(Math.abs(t - r) <= keyframeTolerance)) {
            fail(
              `${where}: keyframe ${i} at ${fmt(t)} s but ${ref.uri} has it at ${fmt(r)} s (> ${keyframeTolerance} s apart)`,
            );
          }
        });
      }
    } else if (v.resolution) {
      fail(`${where}: RESOLUTION=${v.resolution.width}x${v.resolution.height} on a rendition without video`);
    }
    const audioCodec = group?.audio?.codec ?? rendition.audio?.codec;
    if (audioCodec) checkCodecListed(v.codecs, audioCodec, where);
    variants.push({
      uri: v.uri,
      bandwidth: v.bandwidth,
      averageBandwidth: v.averageBandwidth,
      measuredPeak,
      measuredAverage,
      rendition,
      ...(rendition.video ? { width: rendition.video.width, height: rendition.video.height } : {}),
      ...(rendition.video?.frameRate ? { frameRate: rendition.video.frameRate } : {}),
    });
  }
  const firstAudio = master.audio[0];
  const firstAudioRendition = firstAudio ? audioRenditions.get(firstAudio.groupId) : undefined;
  return {
    master,
    audioOnly,
    variants,
    ...(firstAudio && firstAudioRendition ? { audio: { uri: firstAudio.uri, rendition: firstAudioRendition } } : {}),
    ...(reference ? { keyframeTimes: reference.times } : {}),
  };
}

// ---------------------------------------------------------------- DASH

export interface DashRepresentation {
  id: string;
  bandwidth: number;
  width?: number;
  height?: number;
  codecs: string;
  contentType?: string;
  init: string;
  segments: string[];
}

export interface DashReport {
  mediaPresentationDuration: number;
  representations: DashRepresentation[];
}

type XmlNode = Record<string, unknown>;

/** ISO 8601 duration as used in MPDs: PnYnMnDTnHnMnS (years and months only when 0). */
export function parseIsoDuration(text: string): number {
  const t = text.trim();
  const n = '(\\d+(?:\\.\\d+)?)';
  const m = new RegExp(`^P(?:${n}Y)?(?:${n}M)?(?:${n}D)?(?:T(?:${n}H)?(?:${n}M)?(?:${n}S)?)?$`).exec(t);
  if (!m || t === 'P' || t.endsWith('T')) fail(`"${text}" is not an ISO 8601 duration (PnDTnHnMnS)`);
  const [, y, mo, d, h, min, s] = m;
  if (Number(y ?? 0) !== 0 || Number(mo ?? 0) !== 0) fail(`"${text}": durations in years or months are ambiguous`);
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

const mpdArrays = new Set(['Period', 'AdaptationSet', 'Representation', 'S', 'SegmentURL', 'BaseURL']);

function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const v = node?.[name];
  return Array.isArray(v) ? (v as XmlNode[]) : v && typeof v === 'object' ? [v as XmlNode] : [];
}
function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return children(node, name)[0];
}
function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@${name}`];
  return v === undefined ? undefined : String(v);
}
/** First defined attribute along a chain of nodes (inner first), for MPD inheritance. */
function inherited(nodes: (XmlNode | undefined)[], name: string): string | undefined {
  for (const n of nodes) {
    const v = attr(n, name);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** $RepresentationID$, $Number$, $Number%05d$, $Bandwidth$, $Time$, $$ */
function expandTemplate(
  template: string,
  vars: { RepresentationID: string; Bandwidth: number; Number?: number; Time?: number },
  where: string,
): string {
  return template.replace(
    /\$(RepresentationID|Number|Bandwidth|Time|)(?:%0(\d+)d)?\$/g,
    (_all, name: string, width: string | undefined) => {
      if (name === '') return '$';
      const value = vars[name as keyof typeof vars];
      if (value === undefined) fail(`${where}: template "${template}" uses $${name}$, which has no value here`);
      const s = String(value);
      return width ? s.padStart(Number(width), '0') : s;
    },
  );
}

/** Outputs are one flat folder served next to the MPD: a BaseURL may only be "" or "./". */
function checkBaseUrls(nodes: (XmlNode | undefined)[], where: string): void {
  for (const n of nodes) {
    const v = n?.BaseURL;
    for (const b of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
      const text = String(typeof b === 'object' && b !== null ? ((b as XmlNode)['#text'] ?? '') : b).trim();
      if (text !== '' && text !== './') fail(`${where}: BaseURL "${text}" points away from the output folder`);
    }
  }
}

async function ffmpegDecode(input: string, where: string): Promise<void> {
  // -map 0: the DASH demuxer exposes every Representation as a stream; decode them all.
  const r = await execa('ffmpeg', ['-nostdin', '-v', 'error', '-xerror', '-i', input, '-map', '0', '-f', 'null', '-'], {
    reject: false,
  });
  if (r.exitCode !== 0 || r.stderr.trim())
    fail(`${where}: ffmpeg cannot decode it (exit ${r.exitCode}): ${r.stderr.trim()}`);
}

export async function checkDash(dir: string, manifestName = 'manifest.mpd'): Promise<DashReport> {
  const file = flatFile(dir, manifestName, manifestName);
  const where = manifestName;
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    parseAttributeValue: false,
    parseTagValue: false,
    isArray: (name) => mpdArrays.has(name),
  });
  let doc: XmlNode;
  try {
    doc = parser.parse(await readText(file), true) as XmlNode;
  } catch (e) {
    fail(`${where}: not well-formed XML: ${(e as Error).message}`);
  }
  const mpd = child(doc, 'MPD');
  if (!mpd) fail(`${where}: no <MPD> root element`);
  const type = attr(mpd, 'type');
  if (type !== 'static')
    fail(`${where}: MPD@type is ${type === undefined ? 'missing' : `"${type}"`}, expected "static"`);
  const mpdDurationText = attr(mpd, 'mediaPresentationDuration');
  if (mpdDurationText === undefined) fail(`${where}: MPD@mediaPresentationDuration is missing`);
  const mediaPresentationDuration = parseIsoDuration(mpdDurationText);
  if (!(mediaPresentationDuration > 0)) fail(`${where}: mediaPresentationDuration ${mpdDurationText} is not > 0`);

  const periods = children(mpd, 'Period');
  if (periods.length === 0) fail(`${where}: no <Period>`);
  const representations: DashRepresentation[] = [];
  for (const [pi, period] of periods.entries()) {
    const periodStart = attr(period, 'start') ? parseIsoDuration(attr(period, 'start') ?? '') : 0;
    const periodDuration = attr(period, 'duration')
      ? parseIsoDuration(attr(period, 'duration') ?? '')
      : periods.length === 1
        ? mediaPresentationDuration - periodStart
        : undefined;
    const sets = children(period, 'AdaptationSet');
    if (sets.length === 0) fail(`${where}: Period ${pi} has no <AdaptationSet>`);
    for (const [ai, set] of sets.entries()) {
      const reps = children(set, 'Representation');
      if (reps.length === 0) fail(`${where}: AdaptationSet ${ai} has no <Representation>`);
      for (const rep of reps) {
        const id = attr(rep, 'id');
        const rw = `${where}: Representation ${id ?? '(no id)'}`;
        if (!id) fail(`${rw}: @id is missing`);
        const bandwidth = positiveInt(attr(rep, 'bandwidth'), `${rw}: @bandwidth`);
        const codecs = inherited([rep, set], 'codecs');
        if (!codecs) fail(`${rw}: @codecs is missing (on Representation and AdaptationSet)`);
        const chain = [rep, set, period];
        checkBaseUrls([...chain, mpd], rw);
        const vars = { RepresentationID: id, Bandwidth: bandwidth };

        let init: string | undefined;
        const segments: string[] = [];
        const templateNode = chain.map((n) => child(n, 'SegmentTemplate')).find(Boolean);
        const listNode = chain.map((n) => child(n, 'SegmentList')).find(Boolean);
        if (templateNode) {
          // Attributes of SegmentTemplate inherit from outer levels too.
          const templates = chain.map((n) => child(n, 'SegmentTemplate'));
          const media = inherited(templates, 'media');
          if (!media) fail(`${rw}: SegmentTemplate@media is missing`);
          const initTemplate =
            inherited(templates, 'initialization') ?? attr(child(templateNode, 'Initialization'), 'sourceURL');
          if (!initTemplate) fail(`${rw}: SegmentTemplate has no initialization`);
          init = expandTemplate(initTemplate, vars, rw);
          const timescale = Number(inherited(templates, 'timescale') ?? 1);
          const startNumber = Number(inherited(templates, 'startNumber') ?? 1);
          const timeline = templates.map((t) => child(t, 'SegmentTimeline')).find(Boolean);
          if (timeline) {
            const ss = children(timeline, 'S');
            if (ss.length === 0) fail(`${rw}: SegmentTimeline has no <S>`);
            let t = 0;
            let n = startNumber;
            ss.forEach((s, si) => {
              if (attr(s, 't') !== undefined) t = Number(attr(s, 't'));
              const d = Number(attr(s, 'd'));
              if (!(d > 0)) fail(`${rw}: SegmentTimeline S[${si}]@d is not > 0`);
              let r = Number(attr(s, 'r') ?? 0);
              if (r < 0) {
                // Repeat until the next S@t or the end of the Period.
                const nextT = attr(ss[si + 1], 't');
                const end =
                  nextT !== undefined
                    ? Number(nextT)
                    : periodDuration !== undefined
                      ? periodDuration * timescale
                      : undefined;
                if (end === undefined) fail(`${rw}: S@r=-1 with no end to repeat to`);
                r = Math.ceil((end - t) / d) - 1;
              }
              for (let k = 0; k <= r; k++) {
                segments.push(expandTemplate(media, { ...vars, Number: n++, Time: t }, rw));
                t += d;
              }
            });
          } else {
            const d = Number(inherited(templates, 'duration'));
            if (!(d > 0)) fail(`${rw}: SegmentTemplate has neither SegmentTimeline nor @duration`);
            if (periodDuration === undefined) fail(`${rw}: cannot count segments without a Period duration`);
            const count = Math.ceil((periodDuration * timescale) / d - 1e-9);
            for (let k = 0; k < count; k++)
              segments.push(expandTemplate(media, { ...vars, Number: startNumber + k, Time: k * d }, rw));
          }
        } else if (listNode) {
          init = attr(child(listNode, 'Initialization'), 'sourceURL');
          if (!init) fail(`${rw}: SegmentList has no <Initialization sourceURL>`);
          const urls = children(listNode, 'SegmentURL');
          if (urls.length === 0) fail(`${rw}: SegmentList has no <SegmentURL>`);
          urls.forEach((u, ui) => {
            const m = attr(u, 'media');
            if (!m) fail(`${rw}: SegmentURL[${ui}]@media is missing`);
            segments.push(m);
          });
        } else {
          fail(`${rw}: neither SegmentTemplate nor SegmentList (SegmentBase is not supported)`);
        }
        const initFile = flatFile(dir, init, rw);
        await fileBytes(initFile, `${rw} initialization`);
        await checkFmp4Structure(initFile, 'init', `${rw} initialization`);
        for (const [si, s] of segments.entries()) {
          const file = flatFile(dir, s, rw);
          await fileBytes(file, `${rw} segment ${si}`);
          await checkFmp4Structure(file, 'media', `${rw} segment ${si}`);
        }

        const width = inherited([rep, set], 'width');
        const height = inherited([rep, set], 'height');
        const contentType = inherited([set], 'contentType') ?? inherited([rep, set], 'mimeType')?.split('/')[0];
        representations.push({
          id,
          bandwidth,
          codecs,
          init,
          segments,
          ...(width ? { width: Number(width) } : {}),
          ...(height ? { height: Number(height) } : {}),
          ...(contentType ? { contentType } : {}),
        });
      }
    }
  }
  await ffmpegDecode(file, where);
  return { mediaPresentationDuration, representations };
}

// ---------------------------------------------------------------- MP4 boxes

export interface Mp4Box {
  type: string;
  offset: number;
  size: number;
}

/** Top-level ISO-BMFF boxes with offsets and sizes (32-bit size, 64-bit largesize, size 0 = to end). */
export async function mp4Boxes(file: string): Promise<Mp4Box[]> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const boxes: Mp4Box[] = [];
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset < fileSize) {
      const where = `${path.basename(file)}: box at offset ${offset}`;
      if (fileSize - offset < 8) fail(`${where}: ${fileSize - offset} trailing bytes, too few for a box header`);
      const { bytesRead } = await fh.read(header, 0, 16, offset);
      const size32 = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (!/^[\x20-\x7e]{4}$/.test(type)) fail(`${where}: type ${JSON.stringify(type)} is not a 4-character code`);
      let size: number;
      let headerSize = 8;
      if (size32 === 1) {
        if (bytesRead < 16) fail(`${where} (${type}): truncated 64-bit largesize`);
        const big = header.readBigUInt64BE(8);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${where} (${type}): largesize ${big} is too large`);
        size = Number(big);
        headerSize = 16;
      } else if (size32 === 0) {
        size = fileSize - offset;
      } else {
        size = size32;
      }
      if (size < headerSize) fail(`${where} (${type}): size ${size} is smaller than its header`);
      if (offset + size > fileSize)
        fail(`${where} (${type}): size ${size} runs past the end of the file (${fileSize} bytes)`);
      boxes.push({ type, offset, size });
      offset += size;
    }
    return boxes;
  } finally {
    await fh.close();
  }
}

/** Types of the top-level boxes, in file order. */
export async function mp4TopLevelBoxes(file: string): Promise<string[]> {
  return (await mp4Boxes(file)).map((b) => b.type);
}

/** `moov` before the first `mdat`, so a progressive download can start playing at once. */
export async function checkFaststart(file: string): Promise<string[]> {
  const types = await mp4TopLevelBoxes(file);
  const moov = types.indexOf('moov');
  const mdat = types.indexOf('mdat');
  const name = path.basename(file);
  if (moov < 0) fail(`${name}: no top-level moov box (boxes: ${types.join(' ')})`);
  if (mdat < 0) fail(`${name}: no top-level mdat box (boxes: ${types.join(' ')})`);
  if (moov > mdat) fail(`${name}: moov comes after mdat, not faststart (boxes: ${types.join(' ')})`);
  return types;
}

// ---------------------------------------------------------------- storyboard

export interface StoryboardCue {
  start: number;
  end: number;
  image: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface StoryboardReport {
  spriteWidth: number;
  spriteHeight: number;
  cues: StoryboardCue[];
}

/** `01:02:03.456` or `02:03.456` → seconds. */
function vttTime(text: string, where: string): number {
  const m = /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/.exec(text);
  if (!m) fail(`${where}: "${text}" is not a WebVTT timestamp (HH:MM:SS.mmm)`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

/** Parses a storyboard WebVTT (cue text `sprite.jpg#xywh=x,y,w,h`). Pure, synchronous. */
export function parseStoryboardVtt(text: string, name = 'storyboard.vtt'): StoryboardCue[] {
  const blocks = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n(?:[ \t]*\r?\n)+/)
    .map((b) => b.split(/\r?\n/));
  const header = blocks.shift()?.[0] ?? '';
  if (!/^WEBVTT(?:[ \t].*)?$/.test(header)) fail(`${name}: first line is not "WEBVTT"`);
  const cues: StoryboardCue[] = [];
  for (const lines of blocks) {
    if (lines.every((l) => l.trim() === '')) continue;
    if (/^(NOTE|STYLE|REGION)(\s|$)/.test(lines[0] ?? '')) continue;
    const timingIndex = lines.findIndex((l) => l.includes('-->'));
    if (timingIndex < 0 || timingIndex > 1) fail(`${name}: block "${lines.join(' | ')}" has no timing line`);
    const where = `${name} cue ${cues.length}`;
    const t = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t].*)?$/.exec(lines[timingIndex] ?? '');
    if (!t) fail(`${where}: malformed timing line "${lines[timingIndex]}"`);
    const start = vttTime(t[1] ?? '', where);
    const end = vttTime(t[2] ?? '', where);
    const payload = lines.slice(timingIndex + 1).filter((l) => l.trim() !== '');
    if (payload.length !== 1) fail(`${where}: expected one text line, got ${payload.length}`);
    const r = /^([^#\s]+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec((payload[0] ?? '').trim());
    if (!r) fail(`${where}: text "${payload[0]}" is not "image.jpg#xywh=x,y,w,h"`);
    cues.push({ start, end, image: r[1] ?? '', x: Number(r[2]), y: Number(r[3]), w: Number(r[4]), h: Number(r[5]) });
  }
  return cues;
}

export async function checkStoryboard(dir: string, duration: number): Promise<StoryboardReport> {
  const name = 'storyboard.vtt';
  const cues = parseStoryboardVtt(await readText(path.join(dir, name)), name);
  if (cues.length === 0) fail(`${name}: no cues`);
  const image = cues[0]?.image ?? '';
  const sprite = flatFile(dir, image, name);
  await fileBytes(sprite, `${name} sprite`);
  const video = (await probeStreamsOf(sprite)).find((s) => s.codec_type === 'video');
  if (!video?.width || !video.height) fail(`${name}: ffprobe reports no image size for ${image}`);
  const spriteWidth = video.width;
  const spriteHeight = video.height;
  const eps = 0.0005;
  cues.forEach((c, i) => {
    const where = `${name} cue ${i} (${fmt(c.start)}-${fmt(c.end)} s)`;
    if (c.image !== image) fail(`${where}: refers to ${c.image}, the other cues to ${image}`);
    if (!(c.end > c.start)) fail(`${where}: ends before it starts`);
    if (c.w <= 0 || c.h <= 0) fail(`${where}: empty region ${c.w}x${c.h}`);
    if (c.x + c.w > spriteWidth || c.y + c.h > spriteHeight) {
      fail(
        `${where}: region x=${c.x},y=${c.y},w=${c.w},h=${c.h} lies outside the ${spriteWidth}x${spriteHeight} sprite ${image}`,
      );
    }
    const prev = cues[i - 1];
    if (prev) {
      if (c.start < prev.start - eps)
        fail(`${where}: starts before cue ${i - 1} (${fmt(prev.start)} s); cues are out of order`);
      if (c.start < prev.end - eps) fail(`${where}: overlaps cue ${i - 1}, which ends at ${fmt(prev.end)} s`);
    }
  });
  const first = cues[0];
  const last = cues[cues.length - 1];
  if (first && Math.abs(first.start) > eps) fail(`${name}: first cue starts at ${fmt(first.start)} s, not 0`);
  if (last && last.end < duration - 1 - eps)
    fail(`${name}: last cue ends at ${fmt(last.end)} s, before duration ${fmt(duration)} - 1 s`);
  return { spriteWidth, spriteHeight, cues };
}

// ---------------------------------------------------------------- chunked renditions

interface ProbedPacket {
  pts: number;
  dts: number;
  key: boolean;
}

/** The video (or audio) packets of a local HLS playlist, in decode order, with their timestamps in seconds. */
export async function probePackets(input: string, stream: 'v:0' | 'a:0' = 'v:0'): Promise<ProbedPacket[]> {
  const { stdout } = await execa('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    stream,
    '-show_entries',
    'packet=pts_time,dts_time,flags',
    '-of',
    'json',
    input,
  ]);
  const packets = (JSON.parse(stdout) as { packets?: { pts_time?: string; dts_time?: string; flags?: string }[] })
    .packets;
  return (packets ?? []).map((p) => ({
    pts: Number(p.pts_time),
    dts: Number(p.dts_time),
    key: p.flags?.includes('K') ?? false,
  }));
}

/**
 * What a chunk edge must hold, read by ffprobe from the served files: decode timestamps continue
 * across every edge (no gap or overlap larger than one frame), as everywhere else in the stream.
 * Returns the largest deviation found, seconds.
 */
export async function checkDecodeContinuity(dir: string, playlistName: string, frameRate: number): Promise<number> {
  const packets = await probePackets(flatFile(dir, playlistName, playlistName));
  if (packets.length < 2) fail(`${playlistName}: too few packets to check continuity`);
  const frame = 1 / frameRate;
  let worst = 0;
  for (let i = 1; i < packets.length; i++) {
    const step = packets[i]!.dts - packets[i - 1]!.dts;
    const off = Math.abs(step - frame);
    worst = Math.max(worst, off);
    if (off > frame) {
      fail(
        `${playlistName}: decode timestamps jump by ${fmt(step)} s between packets ${i - 1} and ${i} ` +
          `(at ${fmt(packets[i - 1]!.dts)} s): a gap or overlap of more than one frame (${fmt(frame)} s)`,
      );
    }
  }
  return worst;
}

/** Average PSNR (dB, the luma's and chroma's "average") of a rendition against its source, scaled to the rendition's size. */
export async function psnrAgainst(rendition: string, source: string, width: number, height: number): Promise<number> {
  const { stderr } = await execa('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-i',
    rendition,
    '-i',
    source,
    '-lavfi',
    // Both on one timeline from their first frame (a chunked rendition starts its own later).
    `[0:v]setpts=PTS-STARTPTS[r];[1:v]scale=${width}:${height}:flags=bicubic,setpts=PTS-STARTPTS[s];[r][s]psnr`,
    '-f',
    'null',
    '-',
  ]);
  const m = /PSNR .*average:([\d.]+|inf)/.exec(stderr);
  if (!m) fail(`no PSNR in ffmpeg's output for ${path.basename(rendition)}: ${stderr.slice(-400)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}
