import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { videoCodecFromInit } from '../../src/media/codec-string.ts';

/** A box: 32-bit size, type, payload. */
const box = (type: string, ...payload: Buffer[]) => {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};
/** An init segment whose only video sample entry carries `config` as its decoder configuration box. */
const initWith = (entry: string, configType: string, config: number[]) =>
  Buffer.concat([
    box('ftyp', Buffer.from('iso6')),
    box(
      'moov',
      box('mvhd', Buffer.alloc(100)),
      box(
        'trak',
        box(
          'mdia',
          box(
            'minf',
            box(
              'stbl',
              box(
                'stsd',
                Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]),
                box(entry, Buffer.alloc(78), box(configType, Buffer.from(config))),
              ),
            ),
          ),
        ),
      ),
    ),
  ]);

describe('codec strings from init segments', () => {
  it('reads H.264 profile, constraints and level from avcC', () => {
    expect(videoCodecFromInit(initWith('avc1', 'avcC', [1, 0x64, 0x00, 0x1f, 0xff]))).toBe('avc1.64001f');
    expect(videoCodecFromInit(initWith('avc1', 'avcC', [1, 0x42, 0xe0, 0x1e]))).toBe('avc1.42e01e');
  });

  it('reads HEVC space, tier, profile, compatibility, level and constraints from hvcC', () => {
    // Main, compatibility flags 1 and 2 (0x60000000 → reversed 0x6), level 93 (3.1), constraints 0xB0.
    const main = [1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93];
    expect(videoCodecFromInit(initWith('hvc1', 'hvcC', main))).toBe('hvc1.1.6.L93.B0');
    // Main 10, high tier, level 120.
    const main10 = [1, 0x22, 0x20, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120];
    expect(videoCodecFromInit(initWith('hev1', 'hvcC', main10))).toBe('hev1.2.4.H120.90');
  });

  it('reads AV1 profile, level, tier and bit depth from av1C', () => {
    expect(videoCodecFromInit(initWith('av01', 'av1C', [0x81, 0x08, 0x0c, 0]))).toBe('av01.0.08M.08');
    expect(videoCodecFromInit(initWith('av01', 'av1C', [0x81, 0x2d, 0xc0, 0]))).toBe('av01.1.13H.10');
  });

  it('gives null for an audio-only or unknown init segment, and for truncated data', () => {
    expect(videoCodecFromInit(initWith('mp4a', 'esds', [0, 0, 0, 0]))).toBeNull();
    expect(videoCodecFromInit(Buffer.from('not an mp4 file'))).toBeNull();
    expect(videoCodecFromInit(initWith('avc1', 'avcC', [1, 0x64, 0x00, 0x1f]).subarray(0, 60))).toBeNull();
  });

  it('agrees with what x264 wrote into a real init segment', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-codec-'));
    try {
      await execa('ffmpeg', [
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=1280x720:rate=30:duration=0.5',
        '-pix_fmt',
        'yuv420p',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-profile:v',
        'high',
        '-level',
        '3.1',
        '-f',
        'hls',
        '-hls_segment_type',
        'fmp4',
        '-hls_fmp4_init_filename',
        'init.mp4',
        '-hls_segment_filename',
        path.join(dir, 's%d.m4s'),
        path.join(dir, 'p.m3u8'),
      ]);
      expect(videoCodecFromInit(await readFile(path.join(dir, 'init.mp4')))).toBe('avc1.64001f');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
