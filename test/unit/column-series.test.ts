// ColumnSeries (catalog/column-series.ts): the ISPU tracker's recent readings as columns. Held to a reference (a
// map by time, sorted) over random puts — in order, late, repeated times — and drops, the growth and the reuse of
// the space behind the front included.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ColumnSeries } from '../../catalog/column-series.js';

const COLUMNS = ['pm25', 'pm10', 'co'];

function rows(series: ColumnSeries): Array<[number, Array<number | undefined>]> {
  const out: Array<[number, Array<number | undefined>]> = [];
  series.forEach((ts, values) => out.push([ts, COLUMNS.map((c) => values[c])]));
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
        const ref = new Map<number, Array<number | undefined>>();
        let t = 0;
        for (const o of ops) {
          if ('put' in o) {
            // mostly in order when `ascending`, as readings arrive; anywhere otherwise
            const ts = ascending ? (t += o.put % 7) : o.put;
            series.put(ts, { pm25: o.pm25, pm10: o.pm10, temperature: 30 });
            ref.set(ts, [o.pm25, o.pm10, undefined]);
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
        expect(series.toRecords()).toEqual(want.map(([ts, [pm25, pm10, co]]) => ({ ts, pm25, pm10, co })));
      }),
      { numRuns: 300 },
    );
  });

  it('hands a replaced point and each dropped one to its callback, drops inclusively when asked, and finds (lo, hi] ranges', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 100 })), { maxLength: 400 }),
        fc.integer({ min: 0, max: 500 }),
        fc.boolean(),
        fc.tuple(fc.integer({ min: -10, max: 510 }), fc.integer({ min: -10, max: 510 })),
        (points, bound, inclusive, [lo, hi]) => {
          const series = new ColumnSeries(['pm25']);
          const ref = new Map<number, number>();
          for (const [ts, v] of points) {
            let replaced: number | undefined;
            series.put(ts, { pm25: v }, (old) => (replaced = old.pm25));
            expect(replaced).toBe(ref.get(ts));
            ref.set(ts, v);
          }
          const dropped: Array<[number, number | undefined]> = [];
          series.dropBefore(bound, inclusive, (ts, old) => dropped.push([ts, old.pm25]));
          const kept = [...ref].filter(([ts]) => (inclusive ? ts > bound : ts >= bound)).sort((a, b) => a[0] - b[0]);
          expect(dropped).toEqual([...ref].filter(([ts]) => !(inclusive ? ts > bound : ts >= bound)).sort((a, b) => a[0] - b[0]));
          const [from, to] = series.range(lo, hi);
          const inRange: Array<[number, number | undefined]> = [];
          for (let i = from; i < to; i++) inRange.push([series.timeAt(i), series.row(i).pm25]);
          expect(inRange).toEqual(kept.filter(([ts]) => ts > lo && ts <= hi));
          const [first, end] = series.bounds();
          expect(end - first).toBe(kept.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a reading that is not one of its columns is not kept, and the record it hands out is reused', () => {
    const series = new ColumnSeries(['pm25']);
    series.put(2, { pm25: 12, temperature: 30 });
    series.put(1, { pm25: 5 });
    const seen: Array<Readonly<Record<string, number | undefined>>> = [];
    series.forEach((_, values) => seen.push(values));
    expect(seen[0]).toBe(seen[1]);
    expect(Object.keys(seen[0]!)).toEqual(['pm25']);
  });

  it('reuses the space behind the front before growing, and gives space back after a burst', () => {
    const series = new ColumnSeries(COLUMNS);
    for (let t = 1; t <= 1024; t++) series.put(t, { pm25: t });
    expect(series.capacity).toBe(1024);
    // a window's fold: a little less than half leaves the front, then as many come in again, many times over
    for (let round = 0; round < 20; round++) {
      const oldest = series.oldest!;
      series.dropBefore(oldest + 499, true);
      for (let t = series.newest! + 1; series.size < 1024; t++) series.put(t, { pm25: t });
      expect(series.capacity).toBe(1024);
    }
    expect(series.size).toBe(1024);
    // a burst (a load from InfluxDB) grows it; what is left afterwards is held in less
    for (let t = series.newest! + 1; series.size < 3000; t++) series.put(t, { pm25: t });
    expect(series.capacity).toBe(4096);
    series.dropBefore(series.newest! - 1000, true);
    expect(series.size).toBe(1000);
    expect(series.capacity).toBe(2048);
    series.dropBefore(series.newest! - 100, true);
    expect(series.capacity).toBe(1024);
    expect(rows(series).map(([t, [pm25]]) => t - pm25!)).toEqual(Array<number>(100).fill(0));
    expect(series.newest! - series.oldest!).toBe(99);
  });
});
