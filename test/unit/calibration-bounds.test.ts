import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrationBound, deviceConfigSchema } from '../../catalog/device-config.js';
import { CATALOG, KINDS } from '../../catalog/kinds.js';

describe('calibration offsets', () => {
  it('are bounded to a tenth of each field\'s range, either way', () => {
    for (const kind of KINDS) {
      for (const f of CATALOG[kind].fields) {
        const bound = calibrationBound(f);
        expect(bound).toBeCloseTo((f.max - f.min) / 10);
        const schema = deviceConfigSchema(kind);
        expect(schema.safeParse({ offsets: { [f.name]: bound } }).success).toBe(true);
        expect(schema.safeParse({ offsets: { [f.name]: -bound } }).success).toBe(true);
        expect(schema.safeParse({ offsets: { [f.name]: bound * 1.01 } }).success).toBe(false);
        expect(schema.safeParse({ offsets: { [f.name]: -bound * 1.01 } }).success).toBe(false);
      }
    }
  });

  it('are listed in docs/devices.md as the code has them', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'devices.md'), 'utf8');
    for (const kind of KINDS) {
      const row = CATALOG[kind].fields.map((f) => `\`${f.name}\` ±${calibrationBound(f)} ${f.unit}`).join(', ');
      expect(doc).toContain(`| ${kind} | ${row} |`);
    }
  });
});
