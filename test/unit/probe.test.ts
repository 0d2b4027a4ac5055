import { parseFrameRate, parseProbe, unplayableReason } from '../../src/media/probe.ts';

/** Trimmed ffprobe output of a phone video recorded in portrait (rotation in the display matrix). */
const phoneVideo = {
  streams: [
    {
      codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p',
      avg_frame_rate: '30000/1001', r_frame_rate: '30/1', bit_rate: '8000000',
      side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }],
    },
    { codec_type: 'audio', codec_name: 'aac', channels: 6, sample_rate: '48000', bit_rate: '256000' },
  ],
  format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '12.345000', size: '12000000', bit_rate: '8100000' },
};

describe('parseProbe', () => {
  it('turns ffprobe JSON into a Probe with rotation applied to the displayed size', () => {
    const p = parseProbe(phoneVideo);
    expect(p.duration).toBeCloseTo(12.345);
    expect(p.video).toMatchObject({ width: 1920, height: 1080, displayWidth: 1080, displayHeight: 1920, rotation: 270 });
    expect(p.video!.frameRate).toBeCloseTo(29.97, 2);
    expect(p.audio).toEqual({ codec: 'aac', channels: 6, sampleRate: 48000, bitrate: 256000 });
    expect(unplayableReason(p)).toBeNull();
  });

  it('ignores cover art, so an mp3 with a picture is audio-only', () => {
    const p = parseProbe({
      streams: [
        { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
        { codec_type: 'video', codec_name: 'mjpeg', width: 500, height: 500, disposition: { attached_pic: 1 } },
      ],
      format: { format_name: 'mp3', duration: '3.0' },
    });
    expect(p.video).toBeNull();
    expect(p.audio?.codec).toBe('mp3');
  });

  it('says why a file without streams or duration cannot be processed', () => {
    expect(unplayableReason(parseProbe({ streams: [], format: { duration: '1' } }))).toMatch(/no audio or video/);
    expect(unplayableReason(parseProbe({ streams: [{ codec_type: 'audio', codec_name: 'aac' }], format: {} }))).toMatch(/no duration/);
  });

  it('parses frame rates', () => {
    expect(parseFrameRate('25/1')).toBe(25);
    expect(parseFrameRate('0/0')).toBe(0);
    expect(parseFrameRate(undefined)).toBe(0);
  });
});
