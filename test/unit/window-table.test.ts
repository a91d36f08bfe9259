// WindowTable (history/source.ts): how an aggregated answer combines its parts (stored rollup rows, raw partial
// windows) per window and field. Held to the combination it replaced — a map of windows, each a map of fields to
// their stats, combined by Σsum, Σcount, min of mins and max of maxes — over random parts in any order: values
// missing, NaN or non-numbers, counts of 0 or below, repeated and out-of-order window starts, and growth past the
// table's first capacity.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ROLLUP_AGGREGATES, WindowTable, type RollupAggregate } from '../../history/source.js';
import type { Stat } from '../../history/schema.js';

const FIELDS = ['pm25', 'pm10', 'co'];
const NEEDS: Record<RollupAggregate, Stat[]> = { mean: ['sum', 'count'], sum: ['sum'], count: ['count'], min: ['min'], max: ['max'] };

type Stats = Partial<Record<Stat, number>>;
const COMBINE: Record<Stat, (a: number, b: number) => number> = { sum: (a, b) => a + b, count: (a, b) => a + b, min: Math.min, max: Math.max };

/** The combination as aggregateWindows did it before the table (by windows and fields, objects per cell). */
function reference(agg: RollupAggregate, rows: Array<{ ts: number; cells: unknown[][] }>): Array<{ ts: number; values: Record<string, number> }> {
  const needs = NEEDS[agg];
  const windows = new Map<number, Map<string, Stats>>();
  for (const { ts, cells } of rows) {
    let w = windows.get(ts);
    for (let fi = 0; fi < FIELDS.length; fi++) {
      const part: Stats = {};
      let present = false;
      for (let si = 0; si < needs.length; si++) {
        const stat = needs[si]!;
        const v = cells[fi]![si];
        if (typeof v === 'number' && !Number.isNaN(v) && !(stat === 'count' && v <= 0)) {
          part[stat] = v;
          present = true;
        }
      }
      if (!present) continue;
      if (!w) windows.set(ts, (w = new Map()));
      const prev = w.get(FIELDS[fi]!);
      if (!prev) w.set(FIELDS[fi]!, part);
      else for (const stat of needs) if (part[stat] !== undefined) prev[stat] = prev[stat] === undefined ? part[stat] : COMBINE[stat](prev[stat]!, part[stat]!);
    }
  }
  const out: Array<{ ts: number; values: Record<string, number> }> = [];
  for (const ts of [...windows.keys()].sort((x, y) => x - y)) {
    const values: Record<string, number> = {};
    for (const f of FIELDS) {
      const st = windows.get(ts)!.get(f);
      if (!st) continue;
      const v = agg === 'mean' ? (st.count ? st.sum! / st.count : undefined) : st[needs[0]!];
      if (v !== undefined && Number.isFinite(v)) values[f] = v;
    }
    if (Object.keys(values).length > 0) out.push({ ts, values });
  }
  return out;
}

const cell = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, NaN, '12', Infinity) },
);

describe('WindowTable', () => {
  it('combines parts exactly as the map of windows did, for every aggregate', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ROLLUP_AGGREGATES),
        fc.array(fc.record({ hour: fc.integer({ min: 0, max: 200 }), cells: fc.array(fc.array(cell, { minLength: 2, maxLength: 2 }), { minLength: 3, maxLength: 3 }) }), { maxLength: 400 }),
        (agg, parts) => {
          const rows = parts.map((p) => ({ ts: 1_700_000_000_000 + p.hour * 3_600_000, cells: p.cells }));
          const table = new WindowTable(FIELDS, NEEDS[agg]);
          for (const r of rows) table.merge(r.ts, (fi, si) => r.cells[fi]![si]);
          expect(table.answer(agg)).toEqual(reference(agg, rows));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a year of hourly windows, in order, each once: every window kept, means exact', () => {
    const table = new WindowTable(['water_level'], ['sum', 'count']);
    for (let h = 0; h < 8760; h++) table.merge(h * 3_600_000, (_fi, si) => (si === 0 ? h * 60 : 60));
    const answer = table.answer('mean');
    expect(answer).toHaveLength(8760);
    expect(answer[8759]).toEqual({ ts: 8759 * 3_600_000, values: { water_level: 8759 } });
  });
});
