// The repository's documentation stands alone: the README, docs/ and the per-directory READMEs point at nothing
// outside the repository (no external specification, no machine paths), and the contract they refer to exists
// and carries a version.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/process.js';

function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const dir of readdirSync(ROOT, { withFileTypes: true })) {
    if (!dir.isDirectory() || dir.name.startsWith('.') || dir.name === 'node_modules' || dir.name === 'dist') continue;
    for (const f of readdirSync(join(ROOT, dir.name))) if (f.endsWith('.md')) files.push(join(dir.name, f));
  }
  return files;
}

describe('documentation', () => {
  it('refers to nothing outside the repository', () => {
    const files = markdownFiles();
    expect(files).toContain('docs/contract.md');
    const outside: string[] = [];
    for (const file of files) {
      readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
        if (/\bSPEC\b|\/work\/|shared\/SPEC|DOMAIN\.md|STYLE\.md/.test(line)) outside.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(outside).toEqual([]);
  });

  it('the README points at the versioned contract, which exists', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/contract.md)');
    const contract = readFileSync(join(ROOT, 'docs', 'contract.md'), 'utf8');
    expect(contract).toMatch(/^# .*version \d+/m);
    for (const section of ['1. Processes and configuration', '2. Sensor kinds', '3. MQTT', 'Rejection reasons', '4. InfluxDB schema', '5. HTTP API', '6. Dashboards', '7. Scale-out']) {
      expect(contract).toContain(`## ${section}`.replace('## Rejection', '### Rejection'));
    }
    expect(existsSync(join(ROOT, 'docs', 'scale-out.md'))).toBe(true);
  });
});
