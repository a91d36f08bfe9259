// The sliding 15-minute window the alert engine and `latest` grade traffic with (catalog/traffic-los.ts
// `TrafficWindow`) must grade exactly as `trafficWindowLos` does over the same intervals, whatever order, repeats and
// window sizes the readings come in. The series under it is catalog/column-series.ts (column-series.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOS_WINDOW_MS, TRAFFIC_WINDOW_INTERVALS, TrafficWindow, compareRatio, trafficWindowLos, type TrafficInterval } from '../../catalog/index.js';

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

/** The window's grade at `now` is `trafficWindowLos`'s of `kept`. */
function expectSameGrade(window: TrafficWindow, kept: TrafficInterval[], now: number): void {
  const got = window.los(now, ROAD);
  const want = trafficWindowLos(kept, now, ROAD);
  if (want === null) return void expect(got).toBeNull();
  expect(got?.los).toBe(want.los);
  expect(got?.intervals).toBe(want.intervals);
  expect(got?.coveredSeconds).toBe(want.coveredSeconds);
  expect(got?.flowPerHour).toBeCloseTo(want.flowPerHour ?? 0, 6);
  expect(got?.speedRatio ?? 0).toBeCloseTo(want.speedRatio ?? 0, 6);
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
          expectSameGrade(window, kept, ts);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('holds a counter sending 20 a second in bounded memory, grades it in constant time, and agrees with all 18,000 at a whole second', () => {
    const window = new TrafficWindow();
    const all: TrafficInterval[] = [];
    const start = 1_700_000_000_000;
    let most = 0;
    for (let n = 0; n <= 40_000; n++) {
      const i = interval(start + n * 50, 1 + (n % 7), 30 + (n % 13), 1);
      window.put(i);
      all.push(i);
      window.los(i.ts, ROAD);
      if (n % 97 === 0) most = Math.max(most, window.intervals().length);
    }
    const last = all[all.length - 1]!.ts;
    // at most the single intervals' limit, and one folded row per second of the window
    expect(most).toBeLessThanOrEqual(TRAFFIC_WINDOW_INTERVALS);
    expect(window.seconds().length).toBeGreaterThan(800);
    expect(window.seconds().length).toBeLessThanOrEqual(LOS_WINDOW_MS / 1000);
    expect(window.size).toBeLessThan(LOS_WINDOW_MS / 50 / 8);
    // and the columns under them are no larger: a fold frees a little less than half, which is reused, not grown past
    expect(window.capacity).toEqual({ intervals: TRAFFIC_WINDOW_INTERVALS, seconds: 1024 });
    // the newest ends on a whole second, so the folded seconds' window is the exact one
    const want = trafficWindowLos(all, last, ROAD)!;
    const got = window.los(last, ROAD)!;
    expect(got.intervals).toBe(18_000);
    expect(got).toEqual(want);
    // the grade at a later time leaves out what has aged out since the newest
    expect(window.los(last + 5 * 60_000, ROAD)).toEqual(trafficWindowLos(all, last + 5 * 60_000, ROAD));
    expect(window.los(last + 5 * 60_000, ROAD)!.intervals).toBe(12_000);
    // between whole seconds, a folded second counts whole: the window begins within a second of 15 minutes
    const between = window.los(last + 5 * 60_000 + 60, ROAD)!.intervals;
    expect(trafficWindowLos(all, last + 5 * 60_000 + 60, ROAD)!.intervals).toBe(11_999);
    expect(between).toBe(12_000);
  });

  it('folds a counter of one interval a second without changing a grade (late readings and repeats included)', () => {
    let runsFolded = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            // mostly on, sometimes the same second again (a repeat) or back (late)
            step: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 8 }, { arbitrary: fc.integer({ min: -40, max: 0 }), weight: 2 }),
            vehicleCount: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
            avgSpeed: fc.option(fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 120, noNaN: true })), { nil: undefined }),
          }),
          { minLength: 200, maxLength: 1200 },
        ),
        (steps) => {
          // a limit of 64 single intervals folds within a minute of one a second
          const window = new TrafficWindow([], [], 64);
          const counted: TrafficInterval[] = [];
          let second = 1_700_000_000;
          let newest = -Infinity;
          let folds = 0;
          for (const s of steps) {
            second += s.step;
            const i = interval(second * 1000, s.vehicleCount, s.avgSpeed, 1);
            // the documented rule: a reading in a second already folded is not counted
            const folded = window.seconds().at(-1)?.ts ?? -Infinity;
            window.put(i);
            if (i.ts > folded) counted.push(i);
            newest = Math.max(newest, i.ts);
            if (window.seconds().length > 0) folds++;
            const kept = reference(counted);
            expectSameGrade(window, kept, newest);
          }
          if (folds > 0) runsFolded++;
        },
      ),
      { numRuns: 40 },
    );
    // the property is about folded windows: most runs get there
    expect(runsFolded).toBeGreaterThan(30);
  });

  it('rebuilds the same window from its single intervals and folded seconds', () => {
    const window = new TrafficWindow();
    const start = 1_700_000_000_000;
    for (let n = 0; n < 3000; n++) window.put(interval(start + n * 100, n % 5, 20 + (n % 30), 1));
    const copy = new TrafficWindow(window.intervals(), window.seconds());
    expect(window.seconds().length).toBeGreaterThan(0);
    const now = start + 2999 * 100;
    expect(copy.los(now, ROAD)).toEqual(window.los(now, ROAD));
    expect(copy.los(now + 100_000, ROAD)).toEqual(window.los(now + 100_000, ROAD));
    copy.put(interval(now + 100, 3, 25, 1));
    window.put(interval(now + 100, 3, 25, 1));
    expect(copy.los(now + 100, ROAD)).toEqual(window.los(now + 100, ROAD));
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
