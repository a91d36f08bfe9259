// `npm run build:console`: type-check the console, cut the base map from world-atlas, bundle with Vite (hashed
// names), then hold the bundle to its budget: at most 400 KiB of JavaScript and CSS gzipped, map and chart
// libraries included. Over budget, the build fails. `--if-stale` builds only when the sources changed since the
// last build (what the test harness calls).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { buildBasemap } from './basemap.js';
import { BUILD_INFO, CONSOLE_DIR, DIST_DIR, isStale, sourceHash, type BuildInfo } from './stale.js';

export const BUDGET_BYTES = 400 * 1024;

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export async function buildConsole(): Promise<BuildInfo> {
  const hash = sourceHash();
  const tsc = join(CONSOLE_DIR, '..', 'node_modules', 'typescript', 'bin', 'tsc');
  for (const project of ['tsconfig.json', 'tsconfig.node.json']) execFileSync(process.execPath, [tsc, '-p', join(CONSOLE_DIR, project)], { stdio: 'inherit' });
  buildBasemap();
  await build({ configFile: join(CONSOLE_DIR, 'vite.config.ts') });
  const assets = join(DIST_DIR, 'assets');
  let jsGzip = 0, cssGzip = 0, basemapGzip = 0;
  for (const f of readdirSync(assets)) {
    const gz = gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
    if (f.endsWith('.js')) jsGzip += gz;
    else if (f.endsWith('.css')) cssGzip += gz;
    else if (f.startsWith('basemap')) basemapGzip += gz;
  }
  const info: BuildInfo = { sourceHash: hash, builtAt: new Date().toISOString(), jsGzip, cssGzip, basemapGzip, budgetBytes: BUDGET_BYTES };
  writeFileSync(BUILD_INFO, JSON.stringify(info, null, 2) + '\n');
  console.log(`console: JS ${kib(jsGzip)} + CSS ${kib(cssGzip)} gzipped = ${kib(jsGzip + cssGzip)} of the ${kib(BUDGET_BYTES)} budget; base map ${kib(basemapGzip)} gzipped (data, loaded after first paint)`);
  if (jsGzip + cssGzip > BUDGET_BYTES) {
    throw new Error(`console bundle over budget: ${kib(jsGzip + cssGzip)} gzipped > ${kib(BUDGET_BYTES)}`);
  }
  return info;
}

/** Builds when the sources changed since the last build; true when it built. */
export async function buildConsoleIfStale(): Promise<boolean> {
  if (!isStale()) return false;
  await buildConsole();
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const onlyIfStale = process.argv.includes('--if-stale');
  (onlyIfStale ? buildConsoleIfStale().then((built) => { if (!built) console.log('console: up to date'); }) : buildConsole()).catch((err: Error) => {
    console.error(`build:console: ${err.message}`);
    process.exit(1);
  });
}
