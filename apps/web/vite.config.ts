import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The API serves the build on `/` (apps/api/src/plugins/web.ts). `pnpm --filter @spm/web dev` serves the
// sources with hot reload and passes API paths to an API started by `pnpm start` (SPM_API_URL to change).
const api = process.env.SPM_API_URL ?? 'http://127.0.0.1:5000';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline script anywhere: the Content-Security-Policy allows scripts from our origin only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: {
    proxy: Object.fromEntries(['/api', '/registry', '/docs', '/health', '/ready', '/metrics'].map((p) => [p, api])),
  },
});
