// Node's flags for the platform are given in four places that cannot import one another: package.json's `start`,
// the image's CMD, the demo script and the harness the tests and benchmarks start Pantau with
// (test/support/process.ts NODE_FLAGS). The figures in the README are measured with the harness's; this holds the
// other three to them, so what is measured is what runs.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS, ROOT } from '../support/process.js';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The flags of a node command line: every `--x` word before the script. */
function flagsOf(words: string[]): string[] {
  const node = words.indexOf('node');
  expect(node, `no node in ${words.join(' ')}`).toBeGreaterThanOrEqual(0);
  const out: string[] = [];
  for (const w of words.slice(node + 1)) {
    if (!w.startsWith('--')) break;
    out.push(w);
  }
  return out;
}

describe('node flags for the platform', () => {
  it('include the young generation size the benchmarks were measured with', () => {
    expect(NODE_FLAGS).toContain('--max-semi-space-size=64');
  });

  it('npm start gives the same flags', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toMatch(/scripts\/start\.mjs$/);
    expect(flagsOf(start.split(/\s+/))).toEqual(NODE_FLAGS);
  });

  it('the image runs dist/platform/main.js with the same flags', () => {
    const cmd = read('Dockerfile').split('\n').find((l) => l.startsWith('CMD ["node"'))!;
    const words = JSON.parse(cmd.slice('CMD '.length)) as string[];
    expect(words.at(-1)).toBe('dist/platform/main.js');
    expect(flagsOf(words)).toEqual(NODE_FLAGS);
  });

  it('npm run demo starts the platform with the same flags', () => {
    const line = read('scripts/demo.sh').split('\n').find((l) => /^start platform node /.test(l))!;
    const words = line.split(/\s+/);
    expect(words).toContain('dist/platform/main.js');
    expect(flagsOf(words)).toEqual(NODE_FLAGS);
  });
});
