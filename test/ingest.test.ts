// From an MQTT publish to InfluxDB and the API: readings land with the docs/contract.md §4 tags and float fields, batches
// land whole and idempotently, every rejection code reaches the device, the API, the metric and InfluxDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { collect, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;

beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

async function metricValue(name: string, label: string): Promise<number> {
  const text = (await tp.api('GET', '/metrics', { key: null })).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a reading published over MQTT', () => {
  it('is returned by latest and stored with the registry tags and float fields', async () => {
    const dev = await tp.register('air', 'smd-air-latest', { city: 'Samarinda', district: 'Sungai Pinang' });
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 35, pm10: 50, temperature: 29 }), { qos: 1 });

    const latest = await eventually(async () => {
      const res = await tp.api('GET', `/api/v1/devices/${dev.id}/latest`);
      return res.status === 200 ? res.body : null;
    });
    expect(latest.values).toEqual({ pm25: 35, pm10: 50, temperature: 29 });

    await tp.drained();
    // ISPU is computed from the trailing 24 h in InfluxDB: PM2.5 35 µg/m³ → (100−50)/(55.4−15.5)×(35−15.5)+50 = 74 (Sedang), PM10 50 → 50
    const indices = (await tp.api('GET', `/api/v1/devices/${dev.id}/latest`)).body.indices;
    expect(indices.ispu).toMatchObject({ value: 74, category: 'Sedang', dominant: 'pm25', hoursCovered: 1, averaging: '24h' });
    const series = await tp.query('SELECT * FROM "air" WHERE "device_id" = $d', { d: dev.id });
    expect(series[0]!.values).toHaveLength(1);
    const row = Object.fromEntries(series[0]!.columns.map((c, i) => [c, series[0]!.values[0]![i]]));
    expect(row).toMatchObject({ device_id: dev.id, city: 'Samarinda', district: 'Sungai Pinang', pm25: 35, pm10: 50, temperature: 29 });
    const fieldTypes = await tp.query('SHOW FIELD KEYS FROM "air"');
    for (const [, type] of fieldTypes[0]!.values) expect(type).toBe('float');
    const tagKeys = (await tp.query('SHOW TAG KEYS FROM "air"'))[0]!.values.map((v) => v[0]);
    expect(tagKeys.sort()).toEqual(['city', 'device_id', 'district']);
  });
});

describe('a gateway backlog', () => {
  it('of 1000 readings lands complete, in order, and sending it twice stores it once', async () => {
    const dev = await tp.register('flood', 'smd-flood-batch');
    const client = await tp.connect(dev.id, dev.token);
    const start = Date.now() - 3_600_000;
    const batch = Array.from({ length: 1000 }, (_, i) => ({ ts: start + i * 1000, waterLevel: 700 + (i % 100), rainfall: i % 7 }));
    await client.publishAsync(`sensors/flood/${dev.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
    await tp.drained();
    const count = async () => (await tp.query('SELECT count("waterLevel") FROM "flood" WHERE "device_id" = $d', { d: dev.id }))[0]!.values[0]![1];
    expect(await count()).toBe(1000);
    await client.publishAsync(`sensors/flood/${dev.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
    await tp.drained();
    expect(await count()).toBe(1000);
    const rows = (await tp.query('SELECT "waterLevel" FROM "flood" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
    expect(rows.map((r) => r[0])).toEqual(batch.map((b) => b.ts));
    expect(rows.map((r) => r[1])).toEqual(batch.map((b) => b.waterLevel));
  });

  it('with readings that carry no ts keeps every one of them (the broker gives each its own timestamp)', async () => {
    const dev = await tp.register('traffic', 'bpn-traffic-nots');
    const client = await tp.connect(dev.id, dev.token);
    const batch = Array.from({ length: 50 }, (_, i) => ({ vehicleCount: i, avgSpeed: 40 }));
    await client.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
    await tp.drained();
    const rows = (await tp.query('SELECT "vehicleCount" FROM "traffic" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
    expect(rows.map((r) => r[1])).toEqual(batch.map((b) => b.vehicleCount));
  });
});

describe('rejections', () => {
  let dev: { id: string; token: string };
  let client: MqttClient;
  let notices: Array<{ payload: any }>;
  const topic = () => `sensors/air/${dev.id}/telemetry`;

  beforeAll(async () => {
    dev = await tp.register('air', 'smd-air-rejects');
    client = await tp.connect(dev.id, dev.token);
    await client.subscribeAsync(`sensors/air/${dev.id}/rejections`);
    notices = collect(client, `sensors/air/${dev.id}/rejections`);
  });

  const cases: Array<[string, string | Buffer, string]> = [
    ['invalid_json', 'pm25=3', 'not JSON'],
    ['invalid_json', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'UTF-8'],
    ['invalid_reading', JSON.stringify({ pm25: 'high' }), 'pm25'],
    ['invalid_reading', JSON.stringify([]), 'empty array'],
    ['invalid_reading', JSON.stringify({ temperature: 30 }), 'at least one of'],
    ['unknown_field', JSON.stringify({ 'pm2.5': 12 }), 'pm2.5'],
    ['out_of_range', JSON.stringify({ pm25: 1200 }), 'pm25 = 1200'],
    ['future_timestamp', JSON.stringify({ pm25: 10, ts: Date.now() + 3_600_000 }), 'ahead'],
    ['stale_timestamp', JSON.stringify({ pm25: 10, ts: new Date(Date.now() - 8 * 86_400_000).toISOString() }), 'older'],
    ['too_many_readings', JSON.stringify(Array.from({ length: 1001 }, () => ({ pm25: 1 }))), '1001'],
    ['too_many_readings', JSON.stringify({ pm25: 1, pad: 'x'.repeat(300 * 1024) }), 'bytes'],
  ];

  for (const [reason, payload, hint] of cases) {
    it(`${reason} (${hint}) reaches the device, the API, the metric and InfluxDB`, async () => {
      const before = await metricValue('pantau_ingest_rejected_total', `reason="${reason}"`);
      const seen = notices.length;
      await client.publishAsync(topic(), payload, { qos: 1 });
      const notice = await eventually(() => notices.slice(seen).find((n) => n.payload.reason === reason));
      expect(notice!.payload.detail).toContain(hint);
      expect(Date.parse(notice!.payload.ts)).toBeGreaterThan(Date.now() - 60_000);
      expect(await metricValue('pantau_ingest_rejected_total', `reason="${reason}"`)).toBe(before + 1);
      await tp.drained();
      const listed = await tp.api('GET', `/api/v1/devices/${dev.id}/rejections?limit=1`);
      expect(listed.body.items[0]).toMatchObject({ reason });
      expect(listed.body.items[0].detail).toContain(hint);
      const stored = await tp.query('SELECT "count", "detail" FROM "rejections" WHERE "device_id" = $d AND "reason" = $r', { d: dev.id, r: reason });
      expect(stored[0]!.values.length).toBeGreaterThanOrEqual(1);
    });
  }

  it('a mixed batch stores its valid part and rejects each bad reading on its own', async () => {
    const seen = notices.length;
    const now = Date.now();
    const batch = [
      { pm25: 10, ts: now - 5000 },
      { pm25: -1, ts: now - 4000 },
      { pm25: 11, ts: now - 3000 },
      'not an object',
      { pm25: 12, ts: now - 2000, pm1: 3 },
      { pm25: 13, ts: now - 1000 },
    ];
    await client.publishAsync(topic(), JSON.stringify(batch), { qos: 1 });
    await eventually(() => notices.length - seen >= 3);
    expect(notices.slice(seen).map((n) => n.payload.reason).sort()).toEqual(['invalid_reading', 'out_of_range', 'unknown_field']);
    await tp.drained();
    const rows = (await tp.query('SELECT "pm25" FROM "air" WHERE "device_id" = $d AND time >= $from', { d: dev.id, from: new Date(now - 6000).toISOString() }))[0]!.values;
    expect(rows.map((r) => r[1])).toEqual([10, 11, 13]);
  });

  it('rate_limited: a device over its message rate is refused beyond the burst, and the process keeps serving', async () => {
    const limited = await startTestPlatform({ PANTAU_DEVICE_RATE_LIMIT: '2' });
    try {
      const d = await limited.register('air', 'smd-air-chatty');
      const c = await limited.connect(d.id, d.token);
      await c.subscribeAsync(`sensors/air/${d.id}/rejections`);
      const got = collect(c, `sensors/air/${d.id}/rejections`);
      // burst = 10 × rate = 20 messages; 40 in quick succession must hit the limit
      await Promise.all(Array.from({ length: 40 }, (_, i) => c.publishAsync(`sensors/air/${d.id}/telemetry`, JSON.stringify({ pm25: i }), { qos: 1 })));
      await eventually(() => got.some((g) => g.payload.reason === 'rate_limited'));
      await limited.drained();
      const stored = (await limited.query('SELECT count("pm25") FROM "air"'))[0]!.values[0]![1] as number;
      const limitedCount = got.filter((g) => g.payload.reason === 'rate_limited').length;
      expect(stored).toBeGreaterThanOrEqual(20);
      expect(stored + limitedCount).toBe(40);
      expect((await limited.api('GET', '/healthz', { key: null })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it('after all that the platform still serves other devices', async () => {
    const other = await tp.register('flood', 'smd-flood-after');
    const c = await tp.connect(other.id, other.token);
    await c.publishAsync(`sensors/flood/${other.id}/telemetry`, JSON.stringify({ waterLevel: 650 }), { qos: 1 });
    const latest = await eventually(async () => (await tp.api('GET', `/api/v1/devices/${other.id}/latest`)).body?.values);
    expect(latest).toEqual({ waterLevel: 650 });
  });
});

describe('line-protocol injection from payloads', () => {
  it('creates no new series, measurement, field or tag', async () => {
    const dev = await tp.register('air', 'smd-air-inject');
    const client = await tp.connect(dev.id, dev.token);
    await client.subscribeAsync(`sensors/air/${dev.id}/rejections`);
    const got = collect(client, `sensors/air/${dev.id}/rejections`);
    const measurementsBefore = (await tp.query('SHOW MEASUREMENTS'))[0]!.values.map((v) => v[0]);
    const attacks = [
      { 'pm25 evil=1': 1 },
      { 'pm25,city=Jakarta': 2 },
      { 'pm25=1\nhacked,device_id=x value': 3 },
      { pm25: 4, 'x\\': 1 },
      { pm25: 5, note: 'a" b=1\nhacked value=1 1' },
      { pm25: 6, ['k'.repeat(5000)]: 1 },
      { pm25: 7, detail: 'z'.repeat(100_000) },
      { pm25: '1 2\nhacked value=1' },
    ];
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify(attacks), { qos: 1 });
    await eventually(() => got.length >= attacks.length);
    expect(new Set(got.map((g) => g.payload.reason))).toEqual(new Set(['unknown_field', 'invalid_reading']));
    await tp.drained();
    const measurementsAfter = (await tp.query('SHOW MEASUREMENTS'))[0]!.values.map((v) => v[0]);
    expect(measurementsAfter.filter((m) => !measurementsBefore.includes(m))).toEqual([]);
    expect(measurementsAfter).not.toContain('hacked');
    const fields = (await tp.query('SHOW FIELD KEYS FROM "air"'))[0]!.values.map((v) => v[0]);
    for (const f of fields) expect(['pm25', 'pm10', 'co', 'no2', 'so2', 'o3', 'hc', 'temperature', 'humidity', 'battery', 'rssi']).toContain(f);
    const tags = (await tp.query('SHOW TAG KEYS FROM "air"'))[0]!.values.map((v) => v[0]);
    expect(tags.sort()).toEqual(['city', 'device_id', 'district']);
    const cities = (await tp.query('SHOW TAG VALUES FROM "air" WITH KEY = "city"'))[0]!.values.map((v) => v[1]);
    expect(cities).not.toContain('Jakarta');
    // the rejection details themselves were stored as plain strings, newlines included, without breaking lines
    const details = (await tp.query('SELECT "detail" FROM "rejections" WHERE "device_id" = $d', { d: dev.id }))[0]!.values;
    expect(details.length).toBe(attacks.length);
  });
});
