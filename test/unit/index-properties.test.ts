// Properties of the index functions over generated inputs (fast-check): what must hold for every concentration,
// every set of readings and every road, not just the cases someone thought of.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ISPU_CATEGORIES,
  ISPU_MAX,
  ISPU_POLLUTANTS,
  LOS_ORDER,
  addToMinutes,
  ispu,
  ispuCategory,
  ispuWindow,
  subIndex,
  trafficLos,
  trafficWindowLos,
  trailingIspu,
  type IspuPollutant,
  type MinuteSums,
} from '../../catalog/index.js';

const pollutant = fc.constantFrom(...ISPU_POLLUTANTS);
const concentration = fc.double({ min: 0, max: 60_000, noNaN: true, noDefaultInfinity: true });
const means = fc.dictionary(pollutant, concentration, { minKeys: 1 }) as fc.Arbitrary<Partial<Record<IspuPollutant, number>>>;

describe('ISPU properties', () => {
  it('a sub-index never falls when its concentration rises', () => {
    fc.assert(
      fc.property(pollutant, concentration, concentration, (p, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(subIndex(p, lo)).toBeLessThanOrEqual(subIndex(p, hi));
      }),
      { numRuns: 2000 },
    );
  });

  it('the overall ISPU is monotonic in each pollutant, the others held', () => {
    fc.assert(
      fc.property(means, pollutant, concentration, (m, p, extra) => {
        const before = ispu(m)!;
        const after = ispu({ ...m, [p]: (m[p] ?? 0) + extra })!;
        expect(after.value).toBeGreaterThanOrEqual(before.value);
      }),
      { numRuns: 2000 },
    );
  });

  it('the category is the band of the rounded value, and the value is the highest rounded sub-index', () => {
    fc.assert(
      fc.property(means, (m) => {
        const result = ispu(m)!;
        const band = ISPU_CATEGORIES.find((c) => result.value >= c.from && result.value <= c.to)!;
        expect(result.category).toBe(band.category);
        expect(result.category).toBe(ispuCategory(result.value));
        expect(Number.isInteger(result.value)).toBe(true);
        expect(result.value).toBeGreaterThanOrEqual(0);
        expect(result.value).toBeLessThanOrEqual(ISPU_MAX);
        expect(result.value).toBe(Math.max(...Object.values(result.subIndices)));
        expect(result.subIndices[result.dominant]).toBe(result.value);
      }),
      { numRuns: 2000 },
    );
  });

  it('categorises an unrounded index by its rounded value', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 500, noNaN: true }), (v) => {
        expect(ispuCategory(v)).toBe(ispuCategory(Math.round(v)));
      }),
    );
  });

  const HOUR = 3_600_000;
  const now = Date.parse('2026-08-20T10:01:30Z');
  const readings = fc.array(
    fc.record({ ts: fc.integer({ min: now - 30 * HOUR, max: now }), pm25: fc.double({ min: 0, max: 900, noNaN: true }) }),
    { minLength: 1, maxLength: 300 },
  );

  it('the trailing 24-hour ISPU covers at most 24 hours, and only readings inside the window', () => {
    fc.assert(
      fc.property(readings, (rs) => {
        const minutes = new Map<number, MinuteSums>();
        for (const r of rs) addToMinutes(minutes, r.ts, { pm25: r.pm25 });
        const result = trailingIspu(minutes, now);
        const window = ispuWindow(now);
        const inside = rs.filter((r) => r.ts >= window.from && r.ts < window.to);
        expect(result === null).toBe(inside.length === 0);
        if (result === null) return;
        expect(result.to - result.from).toBe(24 * HOUR);
        expect(result.to).toBeGreaterThan(now);
        expect(result.to - now).toBeLessThanOrEqual(60_000);
        expect(result.hoursCovered).toBeGreaterThanOrEqual(1);
        expect(result.hoursCovered).toBeLessThanOrEqual(24);
        expect(result.hoursCovered).toBe(new Set(inside.map((r) => Math.floor((r.ts - result.from) / HOUR))).size);
        // the mean of hourly means lies between the smallest and largest reading in the window
        const lo = Math.round(subIndex('pm25', Math.min(...inside.map((r) => r.pm25))));
        const hi = Math.round(subIndex('pm25', Math.max(...inside.map((r) => r.pm25))));
        expect(result.value).toBeGreaterThanOrEqual(lo);
        expect(result.value).toBeLessThanOrEqual(hi);
      }),
      { numRuns: 500 },
    );
  });

  it('raising one reading never lowers the trailing ISPU', () => {
    fc.assert(
      fc.property(readings, fc.nat(), fc.double({ min: 0, max: 500, noNaN: true }), (rs, pick, extra) => {
        const build = (list: typeof rs) => {
          const minutes = new Map<number, MinuteSums>();
          for (const r of list) addToMinutes(minutes, r.ts, { pm25: r.pm25 });
          return trailingIspu(minutes, now);
        };
        const i = pick % rs.length;
        const before = build(rs);
        const after = build(rs.map((r, j) => (j === i ? { ...r, pm25: r.pm25 + extra } : r)));
        if (before && after) expect(after.value).toBeGreaterThanOrEqual(before.value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('level of service properties', () => {
  const road = fc.record({ freeFlowSpeed: fc.integer({ min: 10, max: 120 }), capacity: fc.integer({ min: 100, max: 8000 }) });
  const speed = fc.integer({ min: 0, max: 2500 }).map((x) => x / 10);

  it('a faster speed never grades worse, the count held', () => {
    fc.assert(
      fc.property(road, speed, speed, fc.integer({ min: 1, max: 200 }), (r, a, b, n) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(LOS_ORDER[trafficLos({ avgSpeed: hi, vehicleCount: n }, r)!.los]).toBeLessThanOrEqual(
          LOS_ORDER[trafficLos({ avgSpeed: lo, vehicleCount: n }, r)!.los],
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('a window graded F holds at least 5 minutes of counting, and a single interval is never F', () => {
    const MIN = 60_000;
    const interval = fc.record({ vehicleCount: fc.integer({ min: 0, max: 300 }), avgSpeed: speed });
    fc.assert(
      fc.property(road, fc.array(interval, { minLength: 1, maxLength: 20 }), (r, list) => {
        const t0 = Date.parse('2026-03-02T00:00:00Z');
        const intervals = list.map((v, i) => ({ ts: t0 + i * MIN, ...v }));
        const now = t0 + (list.length - 1) * MIN;
        const result = trafficWindowLos(intervals, now, r);
        if (result?.los === 'F') expect(result.coveredSeconds).toBeGreaterThanOrEqual(300);
        expect(trafficWindowLos(intervals.slice(-1), now, r)?.los).not.toBe('F');
      }),
      { numRuns: 1000 },
    );
  });
});
