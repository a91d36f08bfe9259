// The readings API against what the test itself published: aggregates equal the test's own arithmetic, paging
// returns every point once in order, CSV equals JSON, and no parameter reaches InfluxQL unvalidated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
let dev: { id: string; token: string };
const HOUR = 3_600_000;
// 2 h of readings, one every 30 s, aligned to an hour so windows are exact
const start = Math.floor((Date.now() - 3 * HOUR) / HOUR) * HOUR;
const readings = Array.from({ length: 240 }, (_, i) => ({
  ts: start + i * 30_000,
  vehicleCount: (i * 37) % 101,
  avgSpeed: 20 + ((i * 13) % 50),
}));

beforeAll(async () => {
  tp = await startTestPlatform();
  dev = await tp.register('traffic', 'bpn-traffic-sudirman');
  const client = await tp.connect(dev.id, dev.token);
  await client.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify(readings), { qos: 1 });
  await tp.drained();
});
afterAll(async () => {
  await tp?.stop();
});

const range = `from=${new Date(start).toISOString()}&to=${new Date(start + 2 * HOUR - 1).toISOString()}`;

describe('aggregated readings', () => {
  const windows = (size: number) => {
    const groups = new Map<number, typeof readings>();
    for (const r of readings) {
      const w = Math.floor(r.ts / size) * size;
      groups.set(w, [...(groups.get(w) ?? []), r]);
    }
    return [...groups.entries()];
  };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  for (const [agg, fn] of [
    ['mean', mean],
    ['min', (xs: number[]) => Math.min(...xs)],
    ['max', (xs: number[]) => Math.max(...xs)],
    ['count', (xs: number[]) => xs.length],
    ['sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0)],
  ] as const) {
    it(`${agg} per 15-minute window equals the test's own ${agg}`, async () => {
      const res = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?${range}&every=15m&agg=${agg}&fields=vehicleCount,avgSpeed`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ deviceId: dev.id, kind: 'traffic', every: '15m', agg });
      const expected = windows(15 * 60_000);
      expect(res.body.points).toHaveLength(expected.length);
      res.body.points.forEach((p: { ts: string; values: Record<string, number> }, i: number) => {
        const [w, group] = expected[i]!;
        expect(Date.parse(p.ts)).toBe(w);
        expect(p.values.vehicleCount).toBeCloseTo(fn(group.map((g) => g.vehicleCount)), 9);
        expect(p.values.avgSpeed).toBeCloseTo(fn(group.map((g) => g.avgSpeed)), 9);
      });
    });
  }

  it('leaves empty windows out', async () => {
    const res = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?from=${new Date(start - 2 * HOUR).toISOString()}&to=${new Date(start + HOUR - 1).toISOString()}&every=1h`);
    expect(res.body.points.map((p: { ts: string }) => Date.parse(p.ts))).toEqual([start]);
  });

  it('refuses more than 10000 windows with a 400 asking for a larger every', async () => {
    const res = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?from=-30d&every=1m`);
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/larger every/);
  });
});

describe('raw readings', () => {
  it('cursor paging returns every point exactly once, oldest first', async () => {
    const seen: number[] = [];
    let url: string | undefined = `/api/v1/devices/${dev.id}/readings?${range}&limit=37`;
    let pages = 0;
    while (url) {
      const res: { status: number; body: any } = await tp.api("GET", url);
      expect(res.status).toBe(200);
      expect(res.body.points.length).toBeLessThanOrEqual(37);
      seen.push(...res.body.points.map((p: { ts: string }) => Date.parse(p.ts)));
      url = res.body.next;
      pages++;
    }
    expect(pages).toBe(Math.ceil(readings.length / 37));
    expect(seen).toEqual(readings.map((r) => r.ts));
  });

  it('CSV has the same rows as JSON with a ts,<field> header', async () => {
    const q = `/api/v1/devices/${dev.id}/readings?${range}&limit=100&fields=avgSpeed,vehicleCount`;
    const json = (await tp.api('GET', q)).body;
    const csv = await tp.api('GET', q, { headers: { accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('ts,avgSpeed,vehicleCount');
    expect(lines.slice(1)).toEqual(json.points.map((p: { ts: string; values: Record<string, number> }) => `${p.ts},${p.values.avgSpeed},${p.values.vehicleCount}`));
  });

  it('an aggregated CSV matches its JSON too', async () => {
    const q = `/api/v1/devices/${dev.id}/readings?${range}&every=1h&agg=max`;
    const json = (await tp.api('GET', q)).body;
    const csv = (await tp.api('GET', q, { headers: { accept: 'text/csv' } })).text.trim().split('\n');
    expect(csv.length - 1).toBe(json.points.length);
    expect(csv[1]!.startsWith(json.points[0].ts)).toBe(true);
  });
});

describe('InfluxQL injection', () => {
  const attacks = [
    `"; DROP DATABASE "x`,
    `pm25; DROP MEASUREMENT traffic`,
    `vehicleCount) FROM traffic; DROP SERIES FROM traffic --`,
    `'`,
    `now() - 1h OR 1=1`,
    `-1h; DROP MEASUREMENT traffic`,
    `1m) fill(0); DROP MEASUREMENT traffic; SELECT (1`,
    `mean("x")`,
    `\\"`,
  ];
  const params = ['from', 'to', 'fields', 'every', 'agg', 'limit', 'cursor'];

  it('every parameter gets a 400 problem naming it, and the data is untouched', async () => {
    for (const param of params) {
      for (const attack of attacks) {
        const res = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?${param}=${encodeURIComponent(attack)}`);
        expect(res.status, `${param}=${attack}`).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.text).toContain(param);
        expect(res.text).not.toMatch(/at .*\.ts:\d+/);
      }
    }
    for (const attack of attacks) {
      const res = await tp.api('GET', `/api/v1/devices/${encodeURIComponent(attack)}/readings`);
      expect([400, 404]).toContain(res.status);
      const rej = await tp.api('GET', `/api/v1/devices/${dev.id}/rejections?limit=${encodeURIComponent(attack)}`);
      expect(rej.status).toBe(400);
      const list = await tp.api('GET', `/api/v1/devices?kind=${encodeURIComponent(attack)}`);
      expect(list.status).toBe(400);
    }
    const count = (await tp.query('SELECT count("vehicleCount") FROM "traffic"'))[0]!.values[0]![1];
    expect(count).toBe(readings.length);
    const dbs = (await tp.query('SHOW DATABASES'))[0]!.values.map((v) => v[0]);
    expect(dbs).toContain(tp.db);
  });

  it('from after to, an unknown field and a bad duration are 400s that say which parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['from=now&to=-1h', /^from: /],
      ['fields=pm25', /^fields: .*not a field of traffic/],
      ['every=7x', /^every: /],
      ['every=30s', /^every: /],
      ['every=2d', /^every: /],
      ['agg=mean', /^agg: /],
      ['limit=10001', /limit/],
      ['from=2026-13-45T99:00:00Z', /^from: /],
    ];
    for (const [q, detail] of cases) {
      const res = await tp.api('GET', `/api/v1/devices/${dev.id}/readings?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.detail, q).toMatch(detail);
    }
  });
});
