import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

describe('config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('has working one-machine defaults without a file', () => {
    const c = loadConfig({ env: {}, defaultFile: path.join(dir, 'absent.yml') });
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.storage.driver).toBe('fs');
    expect(c.encoding.max_attempts).toBe(3);
    expect(c.encoding.renditions.map((r) => r.name)).toEqual(['1080p', '720p', '480p', '360p']);
  });

  it('reads YAML, then applies GILFOYLE_* env overrides', async () => {
    const file = path.join(dir, 'g.yml');
    await writeFile(file, 'server:\n  port: 9090\nsettings:\n  max_file_size: 10MiB\nencoding:\n  max_attempts: 5\n');
    const c = loadConfig({
      file,
      env: { GILFOYLE_ENCODING_MAX_ATTEMPTS: '2', GILFOYLE_STORAGE_FS_ROOT: '/srv/media' },
    });
    expect(c.server.port).toBe(9090);
    expect(c.settings.max_file_size).toBe(10 * 1024 * 1024);
    expect(c.encoding.max_attempts).toBe(2);
    expect(c.storage.fs.root).toBe('/srv/media');
  });

  it('names the key of a bad value', async () => {
    const file = path.join(dir, 'bad.yml');
    await writeFile(file, 'encoding:\n  max_attempts: zero\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/encoding\.max_attempts/);
  });

  it('names an unknown key', async () => {
    const file = path.join(dir, 'unknown.yml');
    await writeFile(file, 'sever:\n  port: 1\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/sever/);
  });

  it('refuses a segment length that is not a multiple of the GOP', () => {
    expect(() =>
      loadConfig({ env: { GILFOYLE_ENCODING_SEGMENT_SECONDS: '3' }, defaultFile: path.join(dir, 'x') }),
    ).toThrow(/encoding\.segment_seconds: must be a multiple of gop_seconds/);
  });

  it('refuses a chunk length that is not a multiple of the segment length, and takes 0 (no chunks)', () => {
    const load = (v: string) =>
      loadConfig({ env: { GILFOYLE_ENCODING_CHUNK_SECONDS: v }, defaultFile: path.join(dir, 'x') });
    expect(() => load('10')).toThrow(/encoding\.chunk_seconds: must be 0 or a multiple of segment_seconds/);
    expect(load('0').encoding.chunk_seconds).toBe(0);
    expect(load('8').encoding.chunk_seconds).toBe(8);
  });

  it('fails clearly on a missing named file', () => {
    expect(() => loadConfig({ file: path.join(dir, 'nope.yml'), env: {} })).toThrow(ConfigError);
  });
});
