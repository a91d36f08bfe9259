// The raw-hour cache (history/raw-hours.ts): statistics of a part of an hour as InfluxDB computes them over raw
// points, and what the cache keeps, forgets and refuses to keep.
import { describe, expect, it } from 'vitest';
import { rawStats, RawHourCache, toRawHour, TOO_LARGE, type RawHour, type RawHourFill } from '../../history/raw-hours.js';

const HOUR = 3_600_000;
const H = 1_700_000_000_000 - (1_700_000_000_000 % HOUR);

function hourOf(points: Array<[number, number | null, number | null]>): RawHour {
  const r = toRawHour({ name: 'air', columns: ['time', 'pm25', 'pm10'], values: points.map((p) => [p[0], p[1], p[2]]) }, 3600);
  if (r === TOO_LARGE) throw new Error('too large');
  return r;
}

describe('rawStats', () => {
  const hour = hourOf([
    [H, 10, null],
    [H + 60_000, 20, 5],
    [H + 120_000, null, 7],
    [H + 180_000, 40, 1],
    [H + 180_000, 2, null], // a second series (the device moved city) at the same time
    [H + 240_000, -3, 9],
  ]);
  const out = new Float64Array(8);

  it('takes the points in [from, to): the start included, the end not', () => {
    expect(rawStats(hour, ['pm25', 'pm10'], H + 60_000, H + 180_000, out)).toBe(2);
    expect([...out]).toEqual([20, 1, 20, 20, 12, 2, 5, 7]);
    expect(rawStats(hour, ['pm25', 'pm10'], H + 1, H + 180_001, out)).toBe(4);
    expect([...out]).toEqual([62, 3, 2, 40, 13, 3, 1, 7]);
  });

  it('equals a naive sum, count, min and max over random points and ranges', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const points: Array<[number, number | null, number | null]> = [];
    for (let t = H; t < H + HOUR; t += Math.floor(rand() * 20_000) + 1) points.push([t, rand() < 0.1 ? null : rand() * 500 - 50, rand() < 0.5 ? null : rand() * 80]);
    const h = hourOf(points);
    for (let k = 0; k < 200; k++) {
      const a = H + Math.floor(rand() * HOUR);
      const b = a + Math.floor(rand() * (H + HOUR - a));
      const got = new Float64Array(12);
      const n = rawStats(h, ['pm10', 'pm25', 'no2'], a, b, got);
      const inRange = points.filter((p) => p[0] >= a && p[0] < b);
      expect(n).toBe(inRange.length);
      for (const [f, col] of [[0, 2], [1, 1]] as const) {
        const vs = inRange.map((p) => p[col]).filter((v): v is number => v !== null);
        expect(got[f * 4 + 1]).toBe(vs.length);
        if (vs.length === 0) {
          expect([got[f * 4], got[f * 4 + 2], got[f * 4 + 3]].every(Number.isNaN)).toBe(true);
          continue;
        }
        expect(got[f * 4]).toBe(vs.reduce((s, v) => s + v, 0)); // in time order, as InfluxDB adds them
        expect(got[f * 4 + 2]).toBe(Math.min(...vs));
        expect(got[f * 4 + 3]).toBe(Math.max(...vs));
      }
      // a field the hour does not hold has no value
      expect(got[9]).toBe(0);
      expect(Number.isNaN(got[8])).toBe(true);
    }
  });
});

describe('toRawHour', () => {
  it('refuses more points than the limit, and reads no series as an empty hour', () => {
    const values = Array.from({ length: 11 }, (_, i) => [H + i * 1000, i]);
    expect(toRawHour({ name: 'air', columns: ['time', 'pm25'], values }, 10)).toBe(TOO_LARGE);
    const ten = toRawHour({ name: 'air', columns: ['time', 'pm25'], values: values.slice(0, 10) }, 10) as RawHour;
    expect(ten.ts.length).toBe(10);
    expect([...ten.data]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const empty = toRawHour(undefined, 10) as RawHour;
    expect(empty.ts.length).toBe(0);
    expect(rawStats(empty, ['pm25'], H, H + HOUR, new Float64Array(4))).toBe(0);
  });
});

describe('RawHourCache', () => {
  const pts = (n: number): RawHour => ({ ts: new Float64Array(n), columns: ['pm25'], data: new Float64Array(n) });

  it('answers a filled hour from memory until it is recomputed', async () => {
    const c = new RawHourCache();
    expect(c.lookup('air', 'a', H)).toBeUndefined();
    c.fill('air', 'a', H, Promise.resolve(pts(60)));
    await Promise.resolve();
    expect(await c.lookup('air', 'a', H)).toEqual(pts(60));
    expect(c.size()).toEqual({ hours: 1, cells: 120 });
    // another device's recomputation, or another kind's, leaves it
    c.invalidate('air', H, H + HOUR, 'b');
    c.invalidate('flood', H, H + HOUR, 'a');
    expect(c.lookup('air', 'a', H)).toBeDefined();
    // a recomputation of the hours before and after leaves it
    c.invalidate('air', H - HOUR, H, 'a');
    c.invalidate('air', H + HOUR, H + 2 * HOUR);
    expect(c.lookup('air', 'a', H)).toBeDefined();
    c.invalidate('air', H - 5 * HOUR, H + 2 * HOUR);
    expect(c.lookup('air', 'a', H)).toBeUndefined();
    expect(c.size()).toEqual({ hours: 0, cells: 0 });
  });

  it('does not keep a fill that was under way when the hour was recomputed, nor one that failed', async () => {
    const c = new RawHourCache();
    let resolve!: (p: RawHourFill) => void;
    const slow = new Promise<RawHourFill>((r) => (resolve = r));
    c.fill('air', 'a', H, slow);
    // asked again while being read: the same read
    expect(c.lookup('air', 'a', H)).toBe(slow);
    c.invalidate('air', H + 7 * HOUR, H + 8 * HOUR); // any recomputation: the read may have seen points from before it
    resolve(pts(5));
    await slow;
    await Promise.resolve();
    expect(c.lookup('air', 'a', H)).toBeUndefined();
    const failed = Promise.reject(new Error('InfluxDB down'));
    c.fill('air', 'a', H, failed);
    await failed.catch(() => undefined);
    await Promise.resolve();
    expect(c.lookup('air', 'a', H)).toBeUndefined();
  });

  it('reads an hour again after maxAgeMs, and forgets everything when another process rebuilt rollups', async () => {
    let version = 1;
    const c = new RawHourCache({ maxAgeMs: 1000, externalVersion: () => version });
    c.fill('air', 'a', H, Promise.resolve(pts(3)), 10_000);
    c.fill('air', 'b', H, Promise.resolve(pts(3)), 10_000);
    await Promise.resolve();
    expect(c.lookup('air', 'a', H, 11_000)).toBeDefined();
    expect(c.lookup('air', 'a', H, 11_001)).toBeUndefined();
    expect(c.lookup('air', 'b', H, 10_500)).toBeDefined();
    version = 2;
    expect(c.lookup('air', 'b', H, 10_500)).toBeUndefined();
    expect(c.totals.invalidations).toBe(1);
  });

  it('holds at most maxCells values, least recently used out first; a too-large hour is remembered as such', async () => {
    const c = new RawHourCache({ maxCells: 250 });
    for (const d of ['a', 'b', 'c']) c.fill('air', d, H, Promise.resolve(pts(50)));
    await new Promise((r) => setImmediate(r));
    expect(c.size()).toEqual({ hours: 2, cells: 200 });
    expect(c.lookup('air', 'a', H)).toBeUndefined();
    expect(c.lookup('air', 'b', H)).toBeDefined();
    c.fill('air', 'd', H, Promise.resolve(pts(50)));
    await new Promise((r) => setImmediate(r));
    // b was used after c: c goes
    expect(c.lookup('air', 'c', H)).toBeUndefined();
    expect(c.lookup('air', 'b', H)).toBeDefined();
    c.fill('air', 'big', H, Promise.resolve(TOO_LARGE));
    await new Promise((r) => setImmediate(r));
    expect(await c.lookup('air', 'big', H)).toBe(TOO_LARGE);
  });
});
