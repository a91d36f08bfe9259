// Is console/dist older than its sources? The build stamps a hash of every input into dist/build-info.json; the
// test harness and `npm run build:console -- --if-stale` compare it with the sources as they are now.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST_DIR = join(CONSOLE_DIR, 'dist');
export const BUILD_INFO = join(DIST_DIR, 'build-info.json');
const ROOT = join(CONSOLE_DIR, '..');

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'generated' || name === 'dist' || name === 'node_modules') return [];
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** A hash of everything the bundle is made from. */
export function sourceHash(): string {
  const inputs = [
    ...files(join(CONSOLE_DIR, 'src')),
    ...files(join(CONSOLE_DIR, 'build')),
    join(CONSOLE_DIR, 'index.html'),
    join(CONSOLE_DIR, 'vite.config.ts'),
    ...files(join(ROOT, 'catalog')),
    join(ROOT, 'package-lock.json'),
  ].sort();
  const h = createHash('sha256');
  for (const f of inputs) h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export interface BuildInfo {
  sourceHash: string;
  builtAt: string;
  /** gzip -9 sizes in bytes */
  jsGzip: number;
  cssGzip: number;
  basemapGzip: number;
  budgetBytes: number;
}

export function readBuildInfo(): BuildInfo | undefined {
  try {
    return JSON.parse(readFileSync(BUILD_INFO, 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
}

export function isStale(): boolean {
  const info = readBuildInfo();
  return !info || !existsSync(join(DIST_DIR, 'index.html')) || info.sourceHash !== sourceHash();
}
