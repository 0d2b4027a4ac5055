import {
  parseFrameRate,
  parseProbe,
  stillImage,
  unplayableReason,
  unreadableReason,
  type RawProbe,
} from '../../src/media/probe.ts';

/** Trimmed ffprobe output of a phone video recorded in portrait (rotation in the display matrix). */
const phoneVideo = {
  streams: [
    {
      codec_type: 'video',
      codec_name: 'h264',
      width: 1920,
      height: 1080,
      pix_fmt: 'yuv420p',
      avg_frame_rate: '30000/1001',
      r_frame_rate: '30/1',
      bit_rate: '8000000',
      side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }],
    },
    { codec_type: 'audio', codec_name: 'aac', profile: 'LC', channels: 6, sample_rate: '48000', bit_rate: '256000' },
  ],
  format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '12.345000', size: '12000000', bit_rate: '8100000' },
};

describe('parseProbe', () => {
  it('turns ffprobe JSON into a Probe with rotation applied to the displayed size', () => {
    const p = parseProbe(phoneVideo);
    expect(p.duration).toBeCloseTo(12.345);
    expect(p.video).toMatchObject({
      width: 1920,
      height: 1080,
      displayWidth: 1080,
      displayHeight: 1920,
      rotation: 270,
    });
    expect(p.video!.frameRate).toBeCloseTo(29.97, 2);
    expect(p.audio).toEqual({ codec: 'aac', profile: 'LC', channels: 6, sampleRate: 48000, bitrate: 256000 });
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
    expect(unplayableReason(parseProbe({ streams: [], format: { duration: '1' } }))).toMatch(
      /no video or audio stream/,
    );
    expect(unplayableReason(parseProbe({ streams: [{ codec_type: 'audio', codec_name: 'aac' }], format: {} }))).toMatch(
      /no duration/,
    );
  });

  it('parses frame rates', () => {
    expect(parseFrameRate('25/1')).toBe(25);
    expect(parseFrameRate('0/0')).toBe(0);
    expect(parseFrameRate(undefined)).toBe(0);
  });
});

/** ffprobe's JSON of a picture: what it reports for a JPEG photo (read without its extension). */
const jpegPhoto: RawProbe = {
  streams: [
    { codec_type: 'video', codec_name: 'mjpeg', width: 640, height: 480, avg_frame_rate: '25/1', pix_fmt: 'yuvj420p' },
  ],
  format: { format_name: 'jpeg_pipe' },
};

describe('still images', () => {
  it('are recognised by their image demuxer, or as a picture codec holding one frame', () => {
    expect(stillImage(jpegPhoto)?.label).toBe('JPEG');
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'png', width: 320, height: 240 }],
        format: { format_name: 'png_pipe' },
      })?.label,
    ).toBe('PNG');
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'mjpeg', width: 320, height: 240 }],
        format: { format_name: 'image2', duration: '0.04' },
      })?.label,
    ).toBe('JPEG');
    // A one-frame GIF, or a PNG track of one frame in a MOV.
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'gif', width: 320, height: 240, nb_frames: '1' }],
        format: { format_name: 'gif', duration: '0.1' },
      })?.label,
    ).toBe('GIF');
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'png', width: 320, height: 240, nb_frames: '1' }],
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '0.04' },
      })?.label,
    ).toBe('PNG');
  });

  it('do not include moving pictures in picture codecs, nor cover art', () => {
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'gif', width: 320, height: 240, nb_frames: '25' }],
        format: { format_name: 'gif', duration: '1' },
      }),
    ).toBeNull();
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'mjpeg', width: 640, height: 480, nb_frames: '750' }],
        format: { format_name: 'avi', duration: '30' },
      }),
    ).toBeNull();
    expect(
      stillImage({
        streams: [{ codec_type: 'video', codec_name: 'h264', width: 640, height: 480, nb_frames: '1' }],
        format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '0.04' },
      }),
    ).toBeNull();
    expect(
      stillImage({
        streams: [
          { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
          { codec_type: 'video', codec_name: 'png', width: 500, height: 500, disposition: { attached_pic: 1 } },
        ],
        format: { format_name: 'mp3', duration: '3.0' },
      }),
    ).toBeNull();
  });

  it('are not video: alone the file is refused as a picture, beside audio the picture is ignored', () => {
    const photo = parseProbe(jpegPhoto);
    expect(photo.video).toBeNull();
    expect(unplayableReason(photo, jpegPhoto)).toBe(
      'the file is a still image (JPEG), not a video: upload a video or audio file',
    );
    const withAudio: RawProbe = {
      streams: [
        { codec_type: 'video', codec_name: 'png', width: 320, height: 240, nb_frames: '1' },
        { codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000' },
      ],
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '60' },
    };
    const p = parseProbe(withAudio);
    expect(p.video).toBeNull();
    expect(p.audio?.codec).toBe('aac');
    expect(unplayableReason(p, withAudio)).toBeNull();
  });
});

describe('unplayableReason', () => {
  it('names what a file without video or audio holds', () => {
    const subtitles: RawProbe = {
      streams: [{ codec_type: 'subtitle', codec_name: 'subrip' }],
      format: { format_name: 'matroska,webm', duration: '4' },
    };
    expect(unplayableReason(parseProbe(subtitles), subtitles)).toBe(
      'the file has no video or audio stream (it holds only subtitles)',
    );
    const coverAndData: RawProbe = {
      streams: [
        { codec_type: 'video', codec_name: 'mjpeg', width: 500, height: 500, disposition: { attached_pic: 1 } },
        { codec_type: 'data', codec_name: 'bin_data' },
      ],
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '1' },
    };
    expect(unplayableReason(parseProbe(coverAndData), coverAndData)).toBe(
      'the file has no video or audio stream (it holds only cover art and data)',
    );
    expect(unplayableReason(parseProbe({ streams: [], format: { duration: '1' } }), { streams: [] })).toBe(
      'the file has no video or audio stream',
    );
  });
});

describe('unreadableReason', () => {
  const file = '/tmp/gilfoyle-probe-1234-abcd/source';

  it("says an MP4 without its moov atom is incomplete, without ffprobe's dump", () => {
    const stderr = `[mov,mp4,m4a,3gp,3g2,mj2 @ 0x556f61f92180] moov atom not found\n${file}: Invalid data found when processing input`;
    const why = unreadableReason(stderr, file);
    expect(why).toMatch(/^it is an incomplete MP4 or MOV file: its index \(the moov atom\) is missing/);
    expect(why).not.toMatch(/\/tmp|0x|\n/);
  });

  it('says a file in no known format is not a video or audio file', () => {
    expect(unreadableReason(`${file}: Invalid data found when processing input`, file)).toBe(
      'it is not a video or audio file (its content is in no format FFmpeg recognises)',
    );
    expect(
      unreadableReason(
        `[matroska,webm @ 0x55d1c0a0e6c0] EBML header parsing failed\n${file}: Invalid data found when processing input`,
        file,
      ),
    ).toBe('it is a damaged Matroska or WebM file: its header cannot be read');
  });

  it("quotes ffprobe's last line, without the path and pointer, when the cause is not a known one", () => {
    expect(unreadableReason(`[mpegts @ 0x5600aa] something odd\n${file}: Operation not permitted`, file)).toBe(
      'FFmpeg cannot read it (ffprobe: Operation not permitted)',
    );
    expect(unreadableReason(`${file}: End of file`, file)).toBe(
      'it is truncated: it ends before FFmpeg could read its header (ffprobe: End of file)',
    );
    expect(unreadableReason('', file)).toBe('FFmpeg cannot read it');
  });
});
