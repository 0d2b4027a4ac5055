import { textTrackFileOf } from '../../src/domain/attachments.ts';
import { fitFilters } from '../../src/domain/images.ts';
import { withDashTextTracks } from '../../src/media/dash.ts';
import { buildMasterPlaylist, buildTextPlaylist, withTextTracks, type TextTrack } from '../../src/media/hls.ts';
import { readWebVtt, sniffTimedText, withTimestampMap } from '../../src/media/timed-text.ts';

const track = (key: string, o: Partial<TextTrack> = {}): TextTrack => ({
  key,
  kind: 'subtitles',
  language: 'en',
  label: null,
  isDefault: false,
  playlist: `text_${key}.m3u8`,
  file: `text_${key}.vtt`,
  ...o,
});

describe('timed text', () => {
  it('knows WebVTT, SRT and ASS by their first bytes, and nothing else', () => {
    expect(sniffTimedText('\uFEFFWEBVTT\n\n00:01.000 --> 00:02.000\nhi')).toBe('webvtt');
    expect(sniffTimedText('WEBVTT - a title\n')).toBe('webvtt');
    expect(sniffTimedText('1\r\n00:00:01,000 --> 00:00:02,500\r\nhi')).toBe('srt');
    expect(sniffTimedText('[Script Info]\nScriptType: v4.00+')).toBe('ass');
    expect(sniffTimedText('#EXTM3U\n#EXTINF:1,\nx.ts')).toBeNull();
    expect(sniffTimedText("ffconcat version 1.0\nfile 'a.mp4'")).toBeNull();
    expect(sniffTimedText('WEBVTTX\n')).toBeNull();
    expect(sniffTimedText('')).toBeNull();
  });

  it('counts cues, and refuses a cue that ends before it starts', () => {
    expect(readWebVtt('WEBVTT\n\n00:01.000 --> 00:02.000\na\n\n01:00:03.500 --> 01:00:04.000\nb\n')).toEqual({
      cues: 2,
      endSeconds: 3604,
    });
    expect(readWebVtt('WEBVTT\n\n')).toEqual({ cues: 0, endSeconds: 0 });
    expect(readWebVtt('WEBVTT\n\n00:03.000 --> 00:02.000\na\n')).toBeNull();
    expect(readWebVtt('not vtt')).toBeNull();
  });

  it('maps cue time 0 to the start of the fMP4 timeline in 90 kHz units', () => {
    expect(withTimestampMap('WEBVTT\n\n00:01.000 --> 00:02.000\na\n', 1)).toBe(
      'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00.000\n\n00:01.000 --> 00:02.000\na\n',
    );
    expect(withTimestampMap('WEBVTT\r\n\r\n', 0).split('\n')[1]).toBe('X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000');
  });

  it('names the stream files of a text track, and nothing else', () => {
    expect(textTrackFileOf('text_en.vtt')).toEqual({ key: 'en', file: 'vtt' });
    expect(textTrackFileOf('text_fr-cc.m3u8')).toEqual({ key: 'fr-cc', file: 'playlist' });
    expect(textTrackFileOf('hlstext_en.vtt')).toEqual({ key: 'en', file: 'hls-segment' });
    expect(textTrackFileOf('hlstext_en.m3u8')).toBeNull();
    expect(textTrackFileOf('storyboard.vtt')).toBeNull();
    expect(textTrackFileOf('text_.vtt')).toBeNull();
  });
});

describe('text tracks in the manifests', () => {
  const master = buildMasterPlaylist([
    {
      type: 'video',
      name: '720p',
      playlist: '720p.m3u8',
      bandwidth: 3e6,
      averageBandwidth: 2e6,
      codecs: 'avc1.64001f',
      width: 1280,
      height: 720,
      frameRate: 30,
    },
    {
      type: 'audio',
      name: 'audio',
      playlist: 'audio.m3u8',
      bandwidth: 1.4e5,
      averageBandwidth: 1.3e5,
      codecs: 'mp4a.40.2',
    },
  ]);

  it('lists each track in the HLS master playlist, and every variant names the group', () => {
    const out = withTextTracks(master, [
      track('en', { label: 'English', isDefault: true }),
      track('en2', { label: 'English', kind: 'captions' }),
      track('x"y', { language: null, label: 'a "quoted"\nlabel' }),
    ]);
    const media = out.split('\n').filter((l) => l.includes('TYPE=SUBTITLES'));
    expect(media[0]).toBe(
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="text_en.m3u8"',
    );
    expect(media[1]).toContain('NAME="English (en2)"');
    expect(media[1]).toContain(
      'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"',
    );
    expect(media[2]).toContain("NAME=\"a 'quoted''label\"");
    expect(media[2]).not.toContain('LANGUAGE=');
    const variants = out.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
    expect(variants).toHaveLength(1);
    expect(variants[0]).toMatch(/,SUBTITLES="subs",CLOSED-CAPTIONS=NONE$/);
    // The media lines come before the first variant.
    expect(out.indexOf('TYPE=SUBTITLES')).toBeLessThan(out.indexOf('#EXT-X-STREAM-INF'));
    expect(withTextTracks(master, [])).toBe(master);
  });

  it('adds a text AdaptationSet per track to the DASH manifest', () => {
    const mpd = '<MPD><Period id="0"><AdaptationSet id="0"/><AdaptationSet id="1"/></Period></MPD>';
    const out = withDashTextTracks(mpd, [
      track('en', { isDefault: true, label: 'A & B' }),
      track('fr', { kind: 'captions', language: 'fr' }),
    ]);
    expect(out).toContain(
      '<AdaptationSet id="2" contentType="text" mimeType="text/vtt" lang="en"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/><Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/><Label>A &amp; B</Label><Representation id="text_en" bandwidth="256"><BaseURL>text_en.vtt</BaseURL></Representation></AdaptationSet>',
    );
    expect(out).toContain(
      '<AdaptationSet id="3" contentType="text" mimeType="text/vtt" lang="fr"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="caption"/>',
    );
    expect(out.endsWith('</Period></MPD>')).toBe(true);
  });

  it('makes a one-segment VOD playlist as long as the media', () => {
    expect(buildTextPlaylist('hlstext_en.vtt', 12.34)).toBe(
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:13\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:12.340000,\nhlstext_en.vtt\n#EXT-X-ENDLIST\n',
    );
  });
});

describe('image fit modes', () => {
  it('fits inside, crops to fill, or pads, and scales by one side alone', () => {
    expect(fitFilters(200, 100, 'preserve')).toEqual(['scale=200:100:force_original_aspect_ratio=decrease']);
    expect(fitFilters(200, 100, 'crop')).toEqual([
      'scale=200:100:force_original_aspect_ratio=increase',
      'crop=200:100',
    ]);
    expect(fitFilters(200, 100, 'pad')).toEqual([
      'scale=200:100:force_original_aspect_ratio=decrease',
      'pad=200:100:(ow-iw)/2:(oh-ih)/2',
    ]);
    expect(fitFilters(200, null, 'crop')).toEqual(['scale=200:-2']);
    expect(fitFilters(null, 90, 'preserve')).toEqual(['scale=-2:90']);
    expect(fitFilters(null, null, 'pad')).toEqual([]);
  });
});
