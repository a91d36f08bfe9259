// Where the console and public-page tests put their screenshots. `npm run screenshots` writes them to docs/img (the
// pictures the docs show); an ordinary `npm test` to a folder of its own under the system's temp directory, so a
// run leaves the working tree as it found it.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DOCS_IMG = join(import.meta.dirname, '..', '..', 'docs', 'img');

/** The folder for screenshots (created): docs/img with PANTAU_SCREENSHOTS=docs, else a temp folder. */
export function screenshotDir(): string {
  const dir = process.env.PANTAU_SCREENSHOTS === 'docs' ? DOCS_IMG : join(tmpdir(), 'pantau-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
