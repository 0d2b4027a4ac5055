import { addTokenToPlaylist, checkPlaybackToken, issuePlaybackToken } from '../../src/api/security/playback-token.ts';

const secret = 'x'.repeat(40);
const id = '7c6b5d0e-3f52-4c1e-9a54-2d9f1c6b7a10';

describe('playback tokens', () => {
  it('are valid for their media until they expire', () => {
    const now = Date.UTC(2026, 0, 1);
    const { token, expires } = issuePlaybackToken(secret, id, 60, now);
    expect(expires.getTime()).toBe(now + 60_000);
    expect(checkPlaybackToken(secret, id, token, now + 59_000)).toBe('valid');
    expect(checkPlaybackToken(secret, id, token, now + 61_000)).toBe('expired');
    expect(checkPlaybackToken(secret, '00000000-0000-4000-8000-000000000000', token, now)).toBe('invalid');
    expect(checkPlaybackToken('y'.repeat(40), id, token, now)).toBe('invalid');
    expect(checkPlaybackToken(secret, id, undefined, now)).toBe('missing');
    // A later expiry with the old signature does not pass.
    const [exp, sig] = token.split('.');
    expect(checkPlaybackToken(secret, id, `${Number(exp) + 3600}.${sig}`, now)).toBe('invalid');
    expect(checkPlaybackToken(secret, id, 'garbage', now)).toBe('invalid');
  });
});

describe('playlists of a private media', () => {
  it('carry the token in every URI of an HLS playlist', () => {
    const master = [
      '#EXTM3U',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,URI="audio.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="audio"',
      '360p.m3u8',
      '',
    ].join('\n');
    expect(addTokenToPlaylist('master.m3u8', master, 't.1')).toBe(
      [
        '#EXTM3U',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,URI="audio.m3u8?token=t.1"',
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="audio"',
        '360p.m3u8?token=t.1',
        '',
      ].join('\n'),
    );
    const media = '#EXTM3U\n#EXT-X-MAP:URI="360p_init.mp4"\n#EXTINF:4.0,\n360p_0.m4s\n#EXT-X-ENDLIST\n';
    expect(addTokenToPlaylist('360p.m3u8', media, 'a')).toBe(
      '#EXTM3U\n#EXT-X-MAP:URI="360p_init.mp4?token=a"\n#EXTINF:4.0,\n360p_0.m4s?token=a\n#EXT-X-ENDLIST\n',
    );
  });

  it('carry it in DASH templates and storyboard cues, and leave absolute URLs alone', () => {
    const mpd =
      '<SegmentTemplate initialization="360p_init.mp4" media="360p_$Number%05d$.m4s" startNumber="0"/><BaseURL>https://cdn.example.com/</BaseURL>';
    expect(addTokenToPlaylist('manifest.mpd', mpd, 'a')).toBe(
      '<SegmentTemplate initialization="360p_init.mp4?token=a" media="360p_$Number%05d$.m4s?token=a" startNumber="0"/><BaseURL>https://cdn.example.com/</BaseURL>',
    );
    const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg#xywh=0,0,160,90\n';
    expect(addTokenToPlaylist('storyboard.vtt', vtt, 'a')).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard.jpg?token=a#xywh=0,0,160,90\n',
    );
  });
});
