import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { defaultAdminDir } from '../../src/api/routes/admin/admin.handlers.ts';

describe('committed admin build', () => {
  it('is what building admin/src gives now (npm run build:admin)', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'gilfoyle-admin-build-'));
    try {
      await execa(
        'npx',
        ['vite', 'build', '--config', 'admin/vite.config.ts', '--outDir', out, '--logLevel', 'error'],
        {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          // Jest sets NODE_ENV=test, which would give a development build.
          env: { NODE_ENV: 'production' },
        },
      );
      const files = async (dir: string) => (await readdir(dir, { recursive: true })).map(String).sort();
      const built = await files(out);
      expect(await files(defaultAdminDir)).toEqual(built);
      for (const f of built.filter((f) => /\.(html|js|css)$/.test(f))) {
        expect(readFileSync(path.join(defaultAdminDir, f), 'utf8')).toBe(readFileSync(path.join(out, f), 'utf8'));
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
