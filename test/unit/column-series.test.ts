// ColumnSeries (catalog/column-series.ts): the ISPU tracker's recent readings as columns. Held to a reference (a
// map by time, sorted) over random puts — in order, late, repeated times — and drops, the growth and the reuse of
// the space behind the front included.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ColumnSeries } from '../../catalog/column-series.js';

const COLUMNS = ['pm25', 'pm10', 'co'];

function rows(series: ColumnSeries): Array<[number, number[]]> {
  const out: Array<[number, number[]]> = [];
  series.forEach((ts, values) => out.push([ts, COLUMNS.map((c) => values[c]!)]));
  return out;
}

describe('ColumnSeries', () => {
  it('stays sorted with one point per timestamp (the last put wins), keeps only its columns, and drops from the front', () => {
    const op = fc.oneof(
      fc.record({ put: fc.integer({ min: 0, max: 3000 }), pm25: fc.option(fc.double({ noNaN: true }), { nil: undefined }), pm10: fc.option(fc.integer(), { nil: undefined }) }),
      fc.record({ drop: fc.integer({ min: 0, max: 3000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 2000 }), fc.boolean(), (ops, ascending) => {
        const series = new ColumnSeries(COLUMNS, 4);
        const ref = new Map<number, number[]>();
        let t = 0;
        for (const o of ops) {
          if ('put' in o) {
            // mostly in order when `ascending`, as readings arrive; anywhere otherwise
            const ts = ascending ? (t += o.put % 7) : o.put;
            series.put(ts, { pm25: o.pm25, pm10: o.pm10, temperature: 30 });
            ref.set(ts, [o.pm25 ?? NaN, o.pm10 ?? NaN, NaN]);
          } else {
            const bound = ascending ? t - (o.drop % 50) : o.drop;
            series.dropBefore(bound);
            for (const ts of [...ref.keys()]) if (ts < bound) ref.delete(ts);
          }
        }
        const want = [...ref].sort((a, b) => a[0] - b[0]);
        expect(rows(series)).toEqual(want);
        expect(series.size).toBe(want.length);
        expect(series.oldest).toBe(want[0]?.[0]);
        expect(series.newest).toBe(want.at(-1)?.[0]);
      }),
      { numRuns: 300 },
    );
  });

  it('a reading that is not one of its columns is not kept, and the record it hands out is reused', () => {
    const series = new ColumnSeries(['pm25']);
    series.put(2, { pm25: 12, temperature: 30 });
    series.put(1, { pm25: 5 });
    const seen: Array<Record<string, number>> = [];
    series.forEach((_, values) => seen.push(values));
    expect(seen[0]).toBe(seen[1]);
    expect(Object.keys(seen[0]!)).toEqual(['pm25']);
  });
});
