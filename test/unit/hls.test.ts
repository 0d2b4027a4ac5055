import { buildMasterPlaylist, measureBandwidth, parseMediaPlaylist } from '../../src/media/hls.ts';

const files = (name: string) => ({ init: `${name}_init.mp4`, segments: [{ uri: `${name}_00000.m4s`, duration: 4 }] });

describe('HLS playlists', () => {
  it('parses a VOD fMP4 playlist', () => {
    const p = parseMediaPlaylist(
      '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="720p_init.mp4"\n#EXTINF:4.000000,\n720p_00000.m4s\n#EXTINF:2.5,\n720p_00001.m4s\n#EXT-X-ENDLIST\n',
    );
    expect(p).toEqual({
      targetDuration: 4,
      initUri: '720p_init.mp4',
      segments: [
        { uri: '720p_00000.m4s', duration: 4 },
        { uri: '720p_00001.m4s', duration: 2.5 },
      ],
      ended: true,
    });
  });

  it('measures peak and average bandwidth from segment sizes', () => {
    expect(
      measureBandwidth(
        [
          { duration: 4, bytes: 1000 },
          { duration: 2, bytes: 1000 },
        ],
        0,
        4,
      ),
    ).toEqual({
      bandwidth: 4000,
      averageBandwidth: 2667,
    });
  });

  it('does not let a tiny last segment inflate the peak (RFC 8216 windows of 0.5–1.5 target durations)', () => {
    const segments = [
      { duration: 4, bytes: 64_000 },
      { duration: 4, bytes: 64_000 },
      { duration: 0.02, bytes: 1_000 },
    ];
    expect(measureBandwidth(segments, 1000, 4)).toEqual({ bandwidth: 130_000, averageBandwidth: 129_676 });
  });

  it('lists video variants first, highest first, with the audio group', () => {
    const text = buildMasterPlaylist([
      {
        type: 'audio',
        name: 'audio',
        playlist: 'audio.m3u8',
        bandwidth: 130000,
        averageBandwidth: 128000,
        codecs: 'mp4a.40.2',
        ...files('audio'),
      },
      {
        type: 'video',
        name: '360p',
        playlist: '360p.m3u8',
        bandwidth: 800000,
        averageBandwidth: 700000,
        codecs: 'avc1.64001e',
        width: 640,
        height: 360,
        frameRate: 30,
        ...files('360p'),
      },
      {
        type: 'video',
        name: '720p',
        playlist: '720p.m3u8',
        bandwidth: 2800000,
        averageBandwidth: 2500000,
        codecs: 'avc1.64001f',
        width: 1280,
        height: 720,
        frameRate: 30,
        ...files('720p'),
      },
    ]);
    const lines = text.trim().split('\n');
    expect(lines[3]).toMatch(/^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio".*CHANNELS="2",URI="audio.m3u8"$/);
    expect(lines[4]).toBe(
      '#EXT-X-STREAM-INF:BANDWIDTH=2930000,AVERAGE-BANDWIDTH=2628000,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"',
    );
    expect(lines[5]).toBe('720p.m3u8');
    expect(lines[7]).toBe('360p.m3u8');
  });

  it('says how many channels a copied mono audio has', () => {
    const text = buildMasterPlaylist([
      {
        type: 'audio',
        name: 'audio',
        playlist: 'audio.m3u8',
        bandwidth: 70000,
        averageBandwidth: 69000,
        codecs: 'mp4a.40.2',
        channels: 1,
        ...files('audio'),
      },
      {
        type: 'video',
        name: '360p',
        playlist: '360p.m3u8',
        bandwidth: 800000,
        averageBandwidth: 700000,
        codecs: 'avc1.64001e',
        width: 640,
        height: 360,
        frameRate: 30,
        ...files('360p'),
      },
    ]);
    expect(text).toContain('CHANNELS="1",URI="audio.m3u8"');
  });

  it('writes an audio-only master with one variant', () => {
    const text = buildMasterPlaylist([
      {
        type: 'audio',
        name: 'audio',
        playlist: 'audio.m3u8',
        bandwidth: 130000,
        averageBandwidth: 128000,
        codecs: 'mp4a.40.2',
        ...files('audio'),
      },
    ]);
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2"\naudio.m3u8',
    );
  });
});
