import { textTrackNames, type TextTrack, type VariantEntry } from './hls.ts';

/** DASH over the very fMP4 files the HLS playlists use: one encode, two formats. */

const timescale = 1000;

const isoDuration = (seconds: number) => `PT${seconds.toFixed(3)}S`;
const attrs = (a: Record<string, string | number | undefined>) =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`)
    .join(' ');

/** SegmentTemplate with a SegmentTimeline; runs of equal durations are folded with @r. */
function segmentTemplate(v: VariantEntry): string {
  const first = v.segments[0]?.uri ?? '';
  // Segment files are NAME_00000.m4s…: the template is NAME_$Number%05d$.m4s from the first one's number.
  const m = /^(.*_)(\d+)(\.m4s)$/.exec(first);
  if (!m) throw new Error(`segment ${first} does not follow the NAME_NNNNN.m4s pattern`);
  const width = m[2]!.length;
  const runs: { d: number; r: number }[] = [];
  for (const s of v.segments) {
    const d = Math.round(s.duration * timescale);
    const last = runs[runs.length - 1];
    if (last && last.d === d) last.r++;
    else runs.push({ d, r: 0 });
  }
  // A timeline that starts later than 0 (a chunked media's) is shifted back by presentationTimeOffset.
  const offset = Math.round((v.timelineOffset ?? 0) * timescale);
  const timeline = runs
    .map((r, i) => `<S ${attrs({ t: i === 0 ? offset : undefined, d: r.d, r: r.r || undefined })}/>`)
    .join('');
  return (
    `<SegmentTemplate ${attrs({ timescale, initialization: v.init, media: `${m[1]}$Number%0${width}d$${m[3]}`, startNumber: Number(m[2]), presentationTimeOffset: offset || undefined })}>` +
    `<SegmentTimeline>${timeline}</SegmentTimeline></SegmentTemplate>`
  );
}

const codecFamily = (codecs: string) => codecs.split('.')[0]!;

/** The static MPD of a media: one video AdaptationSet per codec family, one audio AdaptationSet. */
export function buildDashManifest(variants: VariantEntry[], durationSeconds: number, segmentSeconds: number): string {
  const video = variants.filter((v) => v.type === 'video').sort((a, b) => b.bandwidth - a.bandwidth);
  const audio = variants.filter((v) => v.type === 'audio');
  const families = [...new Set(video.map((v) => codecFamily(v.codecs)))];
  const sets: string[] = [];
  families.forEach((family) => {
    const reps = video.filter((v) => codecFamily(v.codecs) === family);
    sets.push(
      `<AdaptationSet ${attrs({ id: sets.length, contentType: 'video', mimeType: 'video/mp4', segmentAlignment: 'true', startWithSAP: 1, maxWidth: Math.max(...reps.map((r) => r.width ?? 0)), maxHeight: Math.max(...reps.map((r) => r.height ?? 0)) })}>` +
        reps
          .map(
            (v) =>
              `<Representation ${attrs({ id: v.name, bandwidth: v.bandwidth, codecs: v.codecs, width: v.width, height: v.height, frameRate: v.frameRate ? Number(v.frameRate.toFixed(3)) : undefined, sar: '1:1' })}>${segmentTemplate(v)}</Representation>`,
          )
          .join('') +
        `</AdaptationSet>`,
    );
  });
  for (const a of audio) {
    sets.push(
      `<AdaptationSet ${attrs({ id: sets.length, contentType: 'audio', mimeType: 'audio/mp4', lang: 'und', segmentAlignment: 'true', startWithSAP: 1 })}>` +
        `<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${a.channels ?? 2}"/>` +
        `<Representation ${attrs({ id: a.name, bandwidth: a.bandwidth, codecs: a.codecs, audioSamplingRate: 48000 })}>${segmentTemplate(a)}</Representation>` +
        `</AdaptationSet>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<MPD ${attrs({ xmlns: 'urn:mpeg:dash:schema:mpd:2011', profiles: 'urn:mpeg:dash:profile:isoff-live:2011', type: 'static', mediaPresentationDuration: isoDuration(durationSeconds), minBufferTime: isoDuration(segmentSeconds) })}>\n` +
    `<Period id="0" start="PT0S">\n${sets.join('\n')}\n</Period>\n</MPD>\n`
  );
}

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The manifest with its text tracks: one text AdaptationSet per track, its WebVTT as a sidecar
 * file (BaseURL), its Role subtitle or caption (and main for the default one). Cue times are the
 * Period's: the media AdaptationSets' presentationTimeOffset already starts them at 0.
 */
export function withDashTextTracks(mpd: string, tracks: TextTrack[]): string {
  if (tracks.length === 0) return mpd;
  let id = (mpd.match(/<AdaptationSet /g) ?? []).length;
  const names = textTrackNames(tracks);
  const sets = tracks.map(
    (t, i) =>
      `<AdaptationSet ${attrs({ id: id++, contentType: 'text', mimeType: 'text/vtt', lang: t.language ?? undefined })}>` +
      `<Role schemeIdUri="urn:mpeg:dash:role:2011" value="${t.kind === 'captions' ? 'caption' : 'subtitle'}"/>` +
      (t.isDefault ? '<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>' : '') +
      `<Label>${xmlText(names[i]!)}</Label>` +
      `<Representation ${attrs({ id: `text_${t.key}`, bandwidth: 256 })}><BaseURL>${xmlText(t.file)}</BaseURL></Representation>` +
      '</AdaptationSet>',
  );
  return mpd.replace('</Period>', `${sets.join('\n')}\n</Period>`);
}
