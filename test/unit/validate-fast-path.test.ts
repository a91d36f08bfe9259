// The validation fast path may only take a shortcut to the schema's own verdict: every reading it passes, the zod
// schema passes with the same values; everything else goes to the schema.
import { describe, expect, it } from 'vitest';
import { CATALOG, KINDS } from '../../catalog/index.js';
import { fastParse, schemaParse, validateReading } from '../../ingest/validate.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('validation fast path', () => {
  it('agrees with the zod schema on 60,000 random readings, valid and not', () => {
    const r = rng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    let fast = 0;
    for (let i = 0; i < 60_000; i++) {
      const kind = pick(KINDS);
      const fields = CATALOG[kind].fields;
      const reading: Record<string, unknown> = {};
      const n = 1 + Math.floor(r() * 4);
      for (let k = 0; k < n; k++) {
        const f = pick(fields);
        const span = f.max - f.min;
        const roll = r();
        reading[f.name] =
          roll < 0.7 ? f.min + r() * span
          : roll < 0.75 ? f.min
          : roll < 0.8 ? f.max
          : roll < 0.85 ? f.max + 1e-9 * Math.max(1, Math.abs(f.max)) + 1e-12
          : roll < 0.9 ? f.min - 1
          : roll < 0.93 ? String(f.min)
          : roll < 0.95 ? null
          : roll < 0.97 ? Number.POSITIVE_INFINITY
          : Number.NaN;
      }
      const t = r();
      if (t < 0.5) reading.ts = Math.floor(1.7e12 + r() * 1e10);
      else if (t < 0.6) reading.ts = 1.7e12 + 0.5;
      else if (t < 0.7) reading.ts = new Date(1.7e12).toISOString();
      else if (t < 0.75) reading.ts = -1;
      if (r() < 0.05) reading[pick(['pm2.5', '__proto__', 'extra', 'Ts'])] = 1;
      const viaFast = fastParse(kind, reading);
      const viaSchema = schemaParse(kind, reading);
      if (viaFast !== undefined) {
        fast++;
        expect(viaSchema.success, JSON.stringify(reading)).toBe(true);
        expect(viaSchema.data).toEqual(viaFast);
      }
    }
    expect(fast).toBeGreaterThan(10_000);
  });

  it('leaves the explanation of a refusal to the schema', () => {
    const opts = { now: 1.7e12, maxAgeMs: 7 * 86_400_000, maxFutureMs: 300_000 };
    expect(validateReading('air', { pm25: 2000 }, opts)).toMatchObject({ ok: false, reason: 'out_of_range' });
    expect(validateReading('air', { 'pm2.5': 3 }, opts)).toMatchObject({ ok: false, reason: 'unknown_field' });
    expect(validateReading('air', { pm25: '3' }, opts)).toMatchObject({ ok: false, reason: 'invalid_reading' });
    expect(validateReading('air', { pm25: 3, ts: 1.7e12 - 1000 }, opts)).toEqual({ ok: true, values: { pm25: 3 }, ts: 1.7e12 - 1000 });
  });
});
