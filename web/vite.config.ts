import { defineConfig } from 'vite';

// The viewer page: built to web/dist and served by `comboseg serve` (no dev server needed).
export default defineConfig({
  root: __dirname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192 },
  logLevel: 'warn',
});
