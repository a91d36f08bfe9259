// What the ISPU tracker holds for an air device that reports fast: at most RECENT_ROWS single readings, the older
// ones as per-minute sums, with the same index as every reading counted once. Pure logic: the tracker is never asked
// to load, so its InfluxDB client is a stand-in that fails if called.
import { describe, expect, it } from 'vitest';
import { IndicesTracker, RECENT_ROWS, type IndexReading } from '../../api/indices.js';
import { addToMinutes, trailingIspu, type MinuteSums } from '../../catalog/ispu-window.js';
import type { InfluxClient } from '../../influx/client.js';

const influx = {
  query: () => {
    throw new Error('not in this test');
  },
} as unknown as InfluxClient;
const device = { id: 'bpn-air-fast', kind: 'air' as const, thresholds: null };
const T0 = Date.parse('2026-11-20T00:00:00Z');

/** A deterministic pseudo-random stream of PM values. */
function values(i: number): Record<string, number> {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  const r = x - Math.floor(x);
  return { pm25: Math.round(r * 3000) / 10, pm10: Math.round(r * 4200) / 10 };
}

function feed(tracker: IndicesTracker, readings: IndexReading[], batch = 100): void {
  for (let i = 0; i < readings.length; i += batch) tracker.onReadings(readings.slice(i, i + batch));
}

describe('the ISPU tracker under a fast air device', () => {
  it('40 readings a second for 10 minutes: at most RECENT_ROWS single readings held, the index that of every reading', () => {
    const readings: IndexReading[] = Array.from({ length: 24_000 }, (_, i) => ({ deviceId: device.id, kind: 'air', ts: T0 + i * 25, values: values(i) }));
    const tracker = new IndicesTracker(influx);
    feed(tracker, readings);
    const held = tracker.held(device.id);
    expect(held.readings).toBeLessThanOrEqual(RECENT_ROWS);
    expect(held.minutes).toBeGreaterThanOrEqual(9);
    expect(held.minutes).toBeLessThanOrEqual(11);

    const now = readings.at(-1)!.ts;
    const all = new Map<number, MinuteSums>();
    for (const r of readings) addToMinutes(all, r.ts, r.values);
    const want = trailingIspu(all, now)!;
    const { ispu } = tracker.current(device, now)!;
    expect(ispu!.value).toBe(want.value);
    expect(ispu!.hoursCovered).toBe(want.hoursCovered);
    for (const [p, v] of Object.entries(want.subIndices)) expect(ispu!.subIndices[p], p).toBeCloseTo(v as number, 6);
    expect(ispu!.pm25Hourly!.value).toBe(want.pm25Hourly!.value);
  });

  it('a repeated point older than every single reading kept is not counted twice', () => {
    const readings: IndexReading[] = Array.from({ length: 6_000 }, (_, i) => ({ deviceId: device.id, kind: 'air', ts: T0 + i * 25, values: { pm25: 20 } }));
    const tracker = new IndicesTracker(influx);
    feed(tracker, readings);
    const now = readings.at(-1)!.ts;
    const before = tracker.current(device, now)!.ispu;
    expect(tracker.held(device.id).minutes).toBeGreaterThan(0);
    // the first reading again, as a QoS 1 redelivery would bring it, with a value that would show
    tracker.onReadings([{ deviceId: device.id, kind: 'air', ts: T0, values: { pm25: 500 } }]);
    expect(tracker.current(device, now)!.ispu).toEqual(before);
  });

  it('a station reporting once a minute keeps its whole day as single readings', () => {
    const readings: IndexReading[] = Array.from({ length: 1_440 }, (_, i) => ({ deviceId: device.id, kind: 'air', ts: T0 + i * 60_000, values: values(i) }));
    const tracker = new IndicesTracker(influx);
    feed(tracker, readings, 1);
    expect(tracker.held(device.id)).toEqual({ readings: 1_440, minutes: 0 });
  });
});
