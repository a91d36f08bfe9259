// The API's river trend (api/alert-trend.ts): the messages' figures in the Alert's shape, and its short cache — one
// InfluxDB query per gauge however many alerts and requests ask within the cache time.
import { describe, expect, it } from 'vitest';
import { AlertTrends, hasTrend, trendOf } from '../../api/alert-trend.js';

const T0 = Date.UTC(2026, 11, 5, 2, 0);
const KATULAMPA = { waspada: 80, siaga: 150, awas: 200 };

describe('trendOf', () => {
  it('24 cm/h with Siaga 40 minutes away, in the API\'s shape, counting only the readings of the window', () => {
    const series = [20, 122, 124, 126, 128, 130, 132, 134].map((cm, i) => ({ ts: i === 0 ? T0 - 3_600_000 : T0 + (i - 1) * 300_000, cm }));
    expect(trendOf(series, KATULAMPA)).toEqual({
      window: '30m', ratePerHour: 24, unit: 'cm', direction: 'rising', next: { level: 'siaga', etaMinutes: 40 }, asOf: new Date(T0 + 1_800_000).toISOString(), readings: 7,
    });
    expect(trendOf([{ ts: T0, cm: 100 }], KATULAMPA)).toBeNull();
    expect(trendOf([{ ts: T0, cm: 100 }, { ts: T0 + 600_000, cm: 100.1 }], KATULAMPA)).toMatchObject({ ratePerHour: 0, direction: 'steady', next: null });
  });

  it('only open and acknowledged flood-level alerts carry one', () => {
    expect(hasTrend({ kind: 'flood', rule: 'flood_level', state: 'open' })).toBe(true);
    expect(hasTrend({ kind: 'flood', rule: 'flood_level', state: 'acknowledged' })).toBe(true);
    expect(hasTrend({ kind: 'flood', rule: 'flood_level', state: 'resolved' })).toBe(false);
    expect(hasTrend({ kind: 'flood', rule: 'silent', state: 'open' })).toBe(false);
    expect(hasTrend({ kind: 'air', rule: 'ispu', state: 'open' })).toBe(false);
  });
});

describe('AlertTrends', () => {
  it('asks InfluxDB once per gauge within the cache time, again after it; a failed query is a null trend', async () => {
    const queries: Array<Record<string, unknown> | undefined> = [];
    let fail = false;
    const rows = [0, 1, 2, 3].map((i) => [T0 + i * 600_000, 100 + 4 * i]);
    const trends = new AlertTrends({
      influx: { query: async (_q, params) => { queries.push(params); if (fail) throw new Error('down'); return [{ name: 'flood', columns: ['time', 'waterLevel'], values: rows }]; } },
      registry: { device: (id) => (id.startsWith('g') ? { id, kind: 'flood', thresholds: KATULAMPA } : undefined) as never },
      latest: { get: () => ({ deviceId: 'g1', kind: 'flood', ts: T0 + 1_800_000, values: {} }) },
    }, 50);
    const alerts = ['a1', 'a2', 'a3'].map((id) => ({ id, deviceId: 'g1', kind: 'flood' as const, rule: 'flood_level', state: 'open' as const }));
    const first = await trends.of([...alerts, { id: 'a4', deviceId: 'g2', kind: 'flood', rule: 'flood_level', state: 'open' }, { id: 'a5', deviceId: 'g1', kind: 'flood', rule: 'silent', state: 'open' }]);
    expect(first.get('a1')).toMatchObject({ ratePerHour: 24, readings: 4 });
    expect(first.get('a5')).toBeNull();
    await trends.of(alerts);
    expect(queries.map((p) => p?.device)).toEqual(['g1', 'g2']);
    // the window: the 30 minutes up to the newest reading
    expect(queries[0]).toEqual({ device: 'g1', from: new Date(T0).toISOString(), to: new Date(T0 + 1_800_000).toISOString() });
    await new Promise((r) => setTimeout(r, 60));
    fail = true;
    expect((await trends.of(alerts)).get('a1')).toBeNull();
    expect(queries).toHaveLength(3);
  });
});
