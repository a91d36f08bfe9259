// The console's bundle: hashed file names under /assets/ (served with a one-year cache), one JS entry, CSS in a
// file (the page's Content-Security-Policy allows no inline style or script), no source maps shipped.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // every asset a file of its own: an inlined data: URL would be fine for the CSP, but files cache better
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    minify: process.env.PANTAU_CONSOLE_NOMINIFY ? false : 'oxc',
    reportCompressedSize: false,
  },
});
