// `npm start`: the compiled platform (dist/platform/main.js) in this very process, so signals reach it directly.
// Builds first when dist/ is missing or older than the sources; the image ships dist/ ready and never builds.
import { pathToFileURL } from 'node:url';
import { ENTRY, ensureBuilt } from './build-state.mjs';

try {
  ensureBuilt();
} catch (err) {
  process.stderr.write(`pantau: could not build: ${err.message}\n`);
  process.exit(1);
}
process.setSourceMapsEnabled(true);
await import(pathToFileURL(ENTRY).href);
