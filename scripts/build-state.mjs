// Is dist/ older than the sources it is compiled from? Used by `npm start` (scripts/start.mjs), the test harness
// and the benchmarks, so that each of them runs the compiled platform the image ships and never a stale one.
// Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The platform's compiled entry point: what `npm start`, the image, the tests and the benchmarks run. */
export const ENTRY = join(ROOT, 'dist', 'platform', 'main.js');
const SOURCE = /\.(ts|tsx|mts|js|mjs|json|css|html|svg)$/;

// Everything at the top of the repository may feed the build (tsconfig.build.json's `include`, a web console's
// sources for `npm run build:console`, modules a worker thread loads) except these.
const NOT_INPUTS = new Set(['node_modules', 'dist', 'test', 'bench', 'docs', 'data', 'coverage', 'scratch', 'scripts']);

/** Newest modification time (ms) of the build's inputs. */
export function newestSource() {
  // an installed copy without sources (the image ships dist/ only) has nothing to rebuild from
  if (!existsSync(join(ROOT, 'tsconfig.build.json'))) return 0;
  let newest = 0;
  const walk = (dir, top) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      // build outputs at any depth (console/dist, console/src/generated) are not inputs: newer than dist/ by construction
      if (entry.name.startsWith('.') || entry.name === 'node_modules' || (entry.isDirectory() && (entry.name === 'dist' || entry.name === 'generated')) || (top && NOT_INPUTS.has(entry.name))) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, false);
      else if (SOURCE.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(ROOT, true);
  return newest;
}

/** Why dist/ must be rebuilt, or undefined when it is current. */
export function staleReason() {
  if (!existsSync(ENTRY)) return 'dist/ is missing';
  if (newestSource() > statSync(ENTRY).mtimeMs) return 'sources changed since the last build';
  return undefined;
}

/** Build (`npm run build`) when dist/ is missing or stale; its output goes to stderr. Throws if the build fails. */
export function ensureBuilt() {
  const reason = staleReason();
  if (reason === undefined) return false;
  process.stderr.write(`pantau: ${reason}: npm run build …\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // a heap bound meant for the platform (NODE_OPTIONS, README *Memory*) is not the compiler's: tsc needs more
  const NODE_OPTIONS = (process.env.NODE_OPTIONS ?? '').replace(/--max-old-space-size=\d+/g, '').trim();
  const result = spawnSync(npm, ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 2, 2], env: { ...process.env, NODE_OPTIONS } });
  if (result.status !== 0) throw new Error(`npm run build failed (${result.error?.message ?? `exit ${result.status}`})`);
  return true;
}

// `node scripts/build-state.mjs`: build if needed (the test harness and the benchmarks call it this way)
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureBuilt();
  } catch (err) {
    process.stderr.write(`pantau: ${err.message}\n`);
    process.exit(1);
  }
}
