// Indices against a real InfluxDB and a real platform: the exact trailing-24-hour ISPU window, the newest reading
// counting before InfluxDB has it, one figure in latest / summary / alerts / `indices`, LOS over 15 minutes, and the
// threshold rules of flood gauges.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IndicesTracker } from '../api/indices.js';
import { subIndex } from '../catalog/index.js';
import { InfluxClient } from '../influx/client.js';
import { freePort } from './support/ports.js';
import { influxQuery } from './support/influxd.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('ISPU over exactly the trailing 24 hours (InfluxDB)', () => {
  const db = `t_idx_${randomBytes(4).toString('hex')}`;
  let influx: InfluxClient;
  const device = { id: 'smd-air-spike', kind: 'air' as const, thresholds: null };
  const now = Date.parse('2026-11-20T10:01:30Z');

  beforeAll(async () => {
    influx = new InfluxClient({ url: inject('influxUrl'), database: db });
    await influx.createDatabase();
    // 26 hours of PM2.5 at 30 µg/m³, one reading a minute up to 10:00, then one minute at 200 at 10:01
    const lines: string[] = [];
    for (let t = now - 26 * HOUR - 30_000; t <= now - 90_000; t += MIN) lines.push(`air,device_id=${device.id} pm25=30 ${t}`);
    lines.push(`air,device_id=${device.id} pm25=200 ${now - 30_000}`);
    await influx.write(lines.join('\n'));
  });
  afterAll(async () => {
    await influxQuery(inject('influxUrl'), db, `DROP DATABASE "${db}"`).catch(() => undefined);
  });

  it('24 h at 30 µg/m³ and one minute at 200 at 10:01 is ISPU 68 over 24 hours, not 72 over 25', async () => {
    const tracker = new IndicesTracker(influx);
    await tracker.load(device.id, now);
    const { ispu } = tracker.current(device, now)!;
    // the trailing 24-hour mean: 23 hours at 30 and one hour of 59 minutes at 30 and one at 200
    const mean = (23 * 30 + (59 * 30 + 200) / 60) / 24;
    expect(mean).toBeCloseTo(30.118, 3);
    expect(ispu).toMatchObject({
      value: 68,
      category: 'Sedang',
      dominant: 'pm25',
      hoursCovered: 24,
      averaging: '24h',
      window: { from: '2026-11-19T10:02:00.000Z', to: '2026-11-20T10:02:00.000Z' },
    });
    expect(ispu!.value).toBe(Math.round(subIndex('pm25', mean)));
  });

  it('pm25Hourly is the mean of the last 60 minutes, named so in the answer (72, not 163)', async () => {
    const tracker = new IndicesTracker(influx);
    await tracker.load(device.id, now);
    const { ispu } = tracker.current(device, now)!;
    expect(ispu!.pm25Hourly).toEqual({
      value: Math.round(subIndex('pm25', (59 * 30 + 200) / 60)),
      category: 'Sedang',
      averaging: 'last60min',
      from: '2026-11-20T09:02:00.000Z',
      to: '2026-11-20T10:02:00.000Z',
    });
    expect(ispu!.pm25Hourly!.value).toBe(72);
  });

  it('never covers more than 24 hours, whatever the minute of evaluation', async () => {
    for (const offset of [0, 1, 17, 59, 60, 61, 119]) {
      const at = now - 2 * HOUR + offset * MIN + 7_000;
      const tracker = new IndicesTracker(influx);
      await tracker.load(device.id, at);
      const { ispu } = tracker.current(device, at)!;
      expect(ispu!.hoursCovered, `at +${offset} min`).toBe(24);
      expect(Date.parse(ispu!.window.to) - Date.parse(ispu!.window.from)).toBe(24 * HOUR);
    }
  });

  it('counts readings InfluxDB does not have yet, once, and drops them once it has them', async () => {
    const tracker = new IndicesTracker(influx);
    const later = now + 5 * MIN;
    await tracker.load(device.id, later);
    const before = tracker.current(device, later)!.ispu!.value;
    const fresh = { deviceId: device.id, kind: 'air' as const, ts: later - 10_000, values: { pm25: 480 } };
    tracker.onReadings([fresh]);
    const withFresh = tracker.current(device, later)!.ispu!;
    expect(withFresh.value).toBeGreaterThan(before);
    // InfluxDB gets it; the next load must not count it twice
    await influx.write(`air,device_id=${device.id} pm25=480 ${fresh.ts}`);
    await tracker.load(device.id, later);
    expect(tracker.current(device, later)!.ispu).toEqual(withFresh);
  });
});

describe('latest, summary, alerts and the indices measurement agree', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform();
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a new air monitor’s first reading at PM2.5 400 µg/m³ has an ISPU at once, and the same everywhere', async () => {
    const dev = await tp.register('air');
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 400 }), { qos: 1 });
    const expected = Math.round(subIndex('pm25', 400));
    expect(expected).toBe(420);

    const latest = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
    expect(latest.status).toBe(200);
    expect(latest.body.values.pm25).toBe(400);
    expect(latest.body.indices.ispu).toMatchObject({ value: 420, category: 'Berbahaya', dominant: 'pm25', hoursCovered: 1 });

    const summary = await tp.api('GET', '/api/v1/summary');
    const air = summary.body.items.find((i: { kind: string }) => i.kind === 'air');
    expect(air.worstIndex).toMatchObject({ deviceId: dev.id, ispu: { value: 420, category: 'Berbahaya' } });

    // the periodic pass (every minute) writes the same figure to `indices` and hands it to the alert engine
    const point = await eventually(async () => {
      const series = await tp.query(`SELECT "ispu", "ispu_category", "ispu_hours" FROM "indices" WHERE "device_id" = $d`, { d: dev.id });
      return series[0]?.values[0];
    }, 90_000, 500);
    expect(point.slice(1)).toEqual([420, 'Berbahaya', 1]);
    const alerts = await tp.api('GET', `/api/v1/alerts?deviceId=${dev.id}`);
    const ispuAlert = (alerts.body.items as Array<{ rule: string; value: number; severity: string }>).find((a) => a.rule === 'ispu');
    expect(ispuAlert).toMatchObject({ value: 420, severity: 'critical' });
  }, 120_000);

  it('a gauge without thresholds reports alertLevel null and says it has none', async () => {
    const dev = await tp.register('flood');
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/flood/${dev.id}/telemetry`, JSON.stringify({ waterLevel: 9000 }), { qos: 1 });
    const latest = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
    expect(latest.body.indices).toEqual({ alertLevel: null, alertLevelReason: 'no_thresholds' });
    const gauged = await tp.register('flood', undefined, { thresholds: { siaga: 775, awas: 825 } });
    const c2 = await tp.connect(gauged.id, gauged.token);
    await c2.publishAsync(`sensors/flood/${gauged.id}/telemetry`, JSON.stringify({ waterLevel: 700 }), { qos: 1 });
    expect((await tp.api('GET', `/api/v1/devices/${gauged.id}/latest`)).body.indices).toEqual({ alertLevel: 'normal' });
  });

  it('LOS in latest is graded over the last 15 minutes: one minute over capacity is not F', async () => {
    const dev = await tp.register('traffic', undefined, { thresholds: { freeFlowSpeed: 50, capacity: 1800 } });
    const client = await tp.connect(dev.id, dev.token);
    const end = Date.now() - 1_000;
    const minutes = Array.from({ length: 15 }, (_, i) => ({
      ts: end - (14 - i) * MIN,
      vehicleCount: i === 14 ? 40 : 20 + ((i * 7) % 9) - 4, // noisy counts around 1200/h, the last one 2400/h
      intervalSeconds: 60,
      avgSpeed: 44,
    }));
    await client.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify(minutes), { qos: 1 });
    const latest = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
    expect(latest.body.values.vehicleCount).toBe(40);
    const vehicles = minutes.reduce((n, m) => n + m.vehicleCount, 0);
    expect(latest.body.indices).toMatchObject({
      los: 'A',
      trafficWindow: { flowPerHour: Math.round(((vehicles * 3600) / 900) * 100) / 100, coveredSeconds: 900, averaging: '15min' },
    });
  });
});

describe('the newest reading counts before InfluxDB has it', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    // an InfluxDB that does not answer: every reading stays in the spool
    tp = await startTestPlatform({ PANTAU_INFLUX_URL: `http://127.0.0.1:${await freePort()}` });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('latest shows ISPU 420 for a first reading at 400 µg/m³ while InfluxDB is away', async () => {
    const dev = await tp.register('air');
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 400, pm10: 120 }), { qos: 1 });
    expect(tp.platform.spool.pendingBytes).toBeGreaterThan(0);
    const latest = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
    expect(latest.body.values).toMatchObject({ pm25: 400, pm10: 120 });
    expect(latest.body.indices.ispu).toMatchObject({ value: 420, category: 'Berbahaya', dominant: 'pm25', hoursCovered: 1 });
    expect(latest.body.indices.ispu.subIndices).toEqual({ pm10: 85, pm25: 420 });
  });
});

describe('flood thresholds the API accepts', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform();
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('refuses a hysteresisCm as large as a gap between thresholds with 400 naming the field', async () => {
    const body = {
      id: 'smd-flood-close',
      kind: 'flood',
      name: 'Close thresholds',
      city: 'Samarinda',
      district: 'Samarinda Ulu',
      location: { lat: -0.49, lon: 117.15 },
      thresholds: { waspada: 80, siaga: 85, hysteresisCm: 10 },
    };
    const created = await tp.api('POST', '/api/v1/devices', { body });
    expect(created.status).toBe(400);
    expect(created.body.detail).toMatch(/^body\.thresholds\.hysteresisCm: hysteresisCm \(10 cm\) must be smaller than the gap between waspada \(80 cm\) and siaga \(85 cm\), 5 cm/);

    const ok = await tp.api('POST', '/api/v1/devices', { body: { ...body, thresholds: { waspada: 80, siaga: 85, hysteresisCm: 4 } } });
    expect(ok.status).toBe(201);
    const patched = await tp.api('PATCH', `/api/v1/devices/${body.id}`, { body: { thresholds: { waspada: 80, siaga: 85, hysteresisCm: 5 } } });
    expect(patched.status).toBe(400);
    expect(patched.body.detail).toMatch(/^body\.thresholds\.hysteresisCm: /);
  });
});
