import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The admin page, served by the API process at /admin from the committed admin/dist.
// Build: npx vite build --config admin/vite.config.ts
// Dev:   npx vite --config admin/vite.config.ts (proxies the API to GILFOYLE_API_URL, default :8080)
const api = process.env.GILFOYLE_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    // hls.js (full build: the light one lacks the alternate audio Gilfoyle's HLS uses) is its
    // own ~580 kB chunk, loaded only by the player.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/medias': api, '/healthz': api },
  },
});
