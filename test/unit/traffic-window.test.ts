// The sliding 15-minute window the alert engine and `latest` grade traffic with (catalog/traffic-los.ts
// `TrafficWindow`) must grade exactly as `trafficWindowLos` does over the same intervals, whatever order, repeats and
// window sizes the readings come in. The series under it is catalog/column-series.ts (column-series.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOS_WINDOW_MS, TrafficWindow, compareRatio, trafficWindowLos, type TrafficInterval } from '../../catalog/index.js';

const ROAD = { freeFlowSpeed: 60, capacity: 1800 };

const interval = (ts: number, vehicleCount?: number, avgSpeed?: number, intervalSeconds?: number): TrafficInterval => ({
  ts,
  vehicleCount,
  avgSpeed,
  intervalSeconds,
});

/** What the window should hold: one interval per ts (the last written), none 15 min older than the newest. */
function reference(all: TrafficInterval[]): TrafficInterval[] {
  const byTs = new Map<number, TrafficInterval>();
  for (const i of all) byTs.set(i.ts, i);
  const newest = Math.max(...byTs.keys());
  return [...byTs.values()].filter((i) => i.ts > newest - LOS_WINDOW_MS).sort((a, b) => a.ts - b.ts);
}

const arbInterval = fc.record({
  step: fc.integer({ min: -120_000, max: 60_000 }),
  vehicleCount: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  avgSpeed: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 120, noNaN: true })), { nil: undefined }),
  intervalSeconds: fc.option(fc.constantFrom(1, 10, 30, 60, 300), { nil: undefined }),
});

describe('TrafficWindow', () => {
  it('grades every reading as trafficWindowLos grades the same intervals (random order, repeats, late readings)', () => {
    fc.assert(
      fc.property(fc.array(arbInterval, { minLength: 1, maxLength: 400 }), (steps) => {
        const window = new TrafficWindow();
        const seen: TrafficInterval[] = [];
        let ts = 1_700_000_000_000;
        for (const s of steps) {
          ts += s.step;
          const i = interval(ts, s.vehicleCount, s.avgSpeed, s.intervalSeconds);
          window.put(i);
          seen.push(i);
          const kept = reference(seen);
          expect(window.intervals()).toEqual(kept);
          const got = window.los(ts, ROAD);
          const want = trafficWindowLos(kept, ts, ROAD);
          if (want === null) expect(got).toBeNull();
          else {
            expect(got?.los).toBe(want.los);
            expect(got?.intervals).toBe(want.intervals);
            expect(got?.coveredSeconds).toBe(want.coveredSeconds);
            expect(got?.flowPerHour).toBeCloseTo(want.flowPerHour ?? 0, 6);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('keeps 18,000 intervals of a counter sending 20 a second, grades them in constant time, and agrees at the end', () => {
    const window = new TrafficWindow();
    const all: TrafficInterval[] = [];
    const start = 1_700_000_000_000;
    for (let n = 0; n < 40_000; n++) {
      const i = interval(start + n * 50, 1 + (n % 7), 30 + (n % 13), 1);
      window.put(i);
      all.push(i);
      window.los(i.ts, ROAD);
    }
    const last = all[all.length - 1]!.ts;
    expect(window.size).toBe(LOS_WINDOW_MS / 50);
    const want = trafficWindowLos(all, last, ROAD)!;
    const got = window.los(last, ROAD)!;
    expect(got.intervals).toBe(18_000);
    expect(got.los).toBe(want.los);
    expect(got.flowPerHour).toBe(want.flowPerHour);
    // the grade at a later time leaves out what has aged out since the newest
    expect(window.los(last + 5 * 60_000, ROAD)!.intervals).toBe(12_000);
  });

  it('counts standing traffic (0 km/h with vehicles) until it leaves the window', () => {
    const window = new TrafficWindow();
    const t0 = 1_700_000_000_000;
    for (let n = 0; n < 100; n++) window.put(interval(t0 + n * 1000, 5, n === 0 ? 0 : 60, 1));
    expect(window.los(t0 + 99_000, ROAD)!.speedRatio).toBe(0);
    window.put(interval(t0 + LOS_WINDOW_MS + 1, 5, 60, 1));
    expect(window.los(t0 + LOS_WINDOW_MS + 1, ROAD)!.speedRatio).toBe(1);
  });
});

describe('compareRatio', () => {
  it('agrees with integer arithmetic on decimals of up to 3 places, ties included (its float shortcut never decides a tie)', () => {
    const milli = fc.integer({ min: 1, max: 2_000_000 });
    fc.assert(
      fc.property(milli, milli, fc.integer({ min: 1, max: 1000 }), fc.boolean(), (am, bm, cm, tie) => {
        // a tie: a/b exactly equal to c, written as decimals (e.g. 30.6 / 36 = 0.85)
        const a = tie ? (bm * cm) / 1e6 : am / 1000;
        const b = bm / 1000;
        const c = cm / 1000;
        // a/b vs c ⇔ a·1e6 vs c·b·1e6, all integers (a may have up to 6 places in the tie case)
        const left = BigInt(Math.round(a * 1e6)) * 1000n;
        const right = BigInt(cm) * BigInt(bm) * 1000n;
        const want = left > right ? 1 : left < right ? -1 : 0;
        if (Number.isInteger(Math.round(a * 1e6)) && Math.abs(a * 1e6 - Math.round(a * 1e6)) < 1e-6) expect(compareRatio(a, b, c)).toBe(want);
      }),
      { numRuns: 5000 },
    );
    expect(compareRatio(30.6, 36, 0.85)).toBe(0);
    expect(compareRatio(30.61, 36, 0.85)).toBe(1);
    expect(compareRatio(1800, 1800, 1)).toBe(0);
  });
});
