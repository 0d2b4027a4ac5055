import { isSafeStreamFileName } from '../../src/domain/paths.ts';

describe('stream path safety', () => {
  it.each(['master.m3u8', '720p.m3u8', '720p_00001.m4s', 'audio_init.mp4'])('accepts %s', (name) => {
    expect(isSafeStreamFileName(name)).toBe(true);
  });
  it.each(['..', '../x', '..%2fetc', '/etc/passwd', 'a/b', 'a\\b', '.hidden', '', 'x..y', 'a\0b', '%2e%2e'])(
    'refuses %j',
    (name) => {
      expect(isSafeStreamFileName(name)).toBe(false);
    },
  );
});
