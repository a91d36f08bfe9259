// The river trend of notifications on known series: rate over the last 30 min, time to the next threshold, words.
import { describe, expect, it } from 'vitest';
import { describeTrend, riverTrend } from '../../catalog/trend.js';

const T0 = Date.UTC(2026, 11, 5, 2, 0);
const series = (cms: number[], stepMin = 5) => cms.map((cm, i) => ({ ts: T0 + i * stepMin * 60_000, cm }));
const KATULAMPA = { waspada: 80, siaga: 150, awas: 200 };

describe('riverTrend', () => {
  it('a steady rise of 2 cm every 5 min is 24 cm/h; 16 cm below Siaga is 40 minutes away', () => {
    const t = riverTrend(series([122, 124, 126, 128, 130, 132, 134]), KATULAMPA);
    expect(t).toEqual({ rateCmPerHour: 24, next: { level: 'siaga', minutes: 40 } });
    expect(describeTrend(t, 'id')).toBe('naik 24 cm/jam, Siaga ±40 menit lagi');
    expect(describeTrend(t, 'en')).toBe('rising 24 cm/h, Warning in about 40 min');
  });

  it('only the last 30 minutes count: an old fast rise does not inflate the rate', () => {
    const old = series([0, 50, 100], 30); // two hours of fast rise, then steady
    const recent = [0, 5, 10, 15, 20, 25, 30].map((m) => ({ ts: T0 + 60 * 60_000 + m * 60_000, cm: 100 }));
    const t = riverTrend([...old, ...recent], KATULAMPA);
    expect(t).toEqual({ rateCmPerHour: 0, next: null });
    expect(describeTrend(t, 'id')).toBe('stabil');
  });

  it('falling water has a negative rate and no next threshold', () => {
    const t = riverTrend(series([180, 176, 172, 168]), KATULAMPA);
    expect(t.rateCmPerHour).toBe(-48);
    expect(t.next).toBeNull();
    expect(describeTrend(t, 'id')).toBe('turun 48 cm/jam');
  });

  it('above Awas there is no next threshold; one reading gives no rate', () => {
    expect(riverTrend(series([210, 212, 214]), KATULAMPA)).toEqual({ rateCmPerHour: 24, next: null });
    expect(riverTrend(series([100]), KATULAMPA)).toEqual({ rateCmPerHour: null, next: null });
    expect(describeTrend({ rateCmPerHour: null, next: null }, 'en')).toBeNull();
  });

  it('least squares: one noisy reading does not swing the rate much', () => {
    const t = riverTrend(series([60, 62, 64, 90, 68, 70, 72]), KATULAMPA);
    expect(t.rateCmPerHour).toBeGreaterThan(20);
    expect(t.rateCmPerHour).toBeLessThan(30);
    expect(t.next?.level).toBe('waspada');
  });
});
