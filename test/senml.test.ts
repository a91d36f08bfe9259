// SenML (RFC 8428 JSON) on sensors/{kind}/{id}/senml (issue 16): the RFC's own examples, Pantau's fields with their
// SenML units, every record judged alone with the reasons of docs/contract.md §3; then 10,000 fuzzed packs through a real
// broker, with exactly the readings and rejections the generator expects found in InfluxDB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSenml } from '../ingest/senml.js';
import { rng } from './support/fuzz.js';
import { anchorField, senmlPack, type Kind } from './support/senml-fuzz.js';
import { collect, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const NOW = Date.parse('2026-11-28T06:00:00Z');
const opts = { now: NOW, maxAgeMs: 7 * 86_400_000, maxFutureMs: 300_000 };
const decode = (kind: Kind, pack: unknown) => decodeSenml(Buffer.from(typeof pack === 'string' ? pack : JSON.stringify(pack)), kind, opts);
const reasons = (d: ReturnType<typeof decode>) => (d.ok ? d.rejected.map((r) => r.reason) : [d.reason]);

describe('the SenML parser, on RFC 8428\'s examples', () => {
  it('§5.1.1 and §5.1.2: names that are not Pantau fields are unknown_field, one rejection per record', () => {
    const single = decode('air', [{ n: 'urn:dev:ow:10e2073a01080063', u: 'Cel', v: 23.1 }]);
    expect(single).toMatchObject({ ok: true, readings: [] });
    expect(reasons(single)).toEqual(['unknown_field']);
    const multiple = decode('air', [{ bn: 'urn:dev:ow:10e2073a01080063:', n: 'voltage', u: 'V', v: 120.1 }, { n: 'current', u: 'A', v: 1.2 }]);
    expect(reasons(multiple)).toEqual(['unknown_field', 'unknown_field']);
    expect(multiple.ok && multiple.rejected[0]!.detail).toMatch(/^record 0: unknown field "voltage" \(name "urn:dev:ow:10e2073a01080063:voltage"\) for kind air/);
  });

  it('§5.1.3: base time and relative times resolve (here to 2010, so every record is stale)', () => {
    const pack = [
      { bn: 'urn:dev:ow:10e2073a0108006:', bt: 1.276020076001e9, bu: 'A', bver: 5, n: 'voltage', u: 'V', v: 120.1 },
      { n: 'current', t: -5, v: 1.2 }, { n: 'current', t: -4, v: 1.3 }, { n: 'current', t: -3, v: 1.4 },
    ];
    expect(reasons(decode('air', pack))).toEqual(['unknown_field', 'unknown_field', 'unknown_field', 'unknown_field']);
    const ours = pack.map((r, i) => ({ ...r, n: i === 0 ? 'pm25' : 'pm10', u: 'ug/m3' }));
    const d = decode('air', ours);
    expect(reasons(d)).toEqual(['stale_timestamp', 'stale_timestamp', 'stale_timestamp', 'stale_timestamp']);
    expect(d.ok && d.rejected[1]!.detail).toBe('record 1: time 2010-06-08T18:01:11.001Z is older than 168 h');
  });

  it('resolves base name, base time, base unit and base value into one reading per time', () => {
    const bt = NOW / 1000 - 60;
    const d = decode('air', [
      { bn: 'urn:dev:pantau:smd-air-01:', bt, bu: 'ug/m3', n: 'pm25', v: 41.2 },
      { n: 'pm10', v: 55 },
      { n: 'temperature', u: 'Cel', v: 29.5 },
      { n: 'humidity', u: '%RH', v: 78 },
      { n: 'pm25', t: 60, v: 40 },
      { bv: 10, n: 'pm10', t: 60, v: 1 },
    ]);
    expect(d).toEqual({
      ok: true,
      rejected: [],
      readings: [
        { ts: NOW - 60_000, pm25: 41.2, pm10: 55, temperature: 29.5, humidity: 78 },
        { ts: NOW, pm25: 40, pm10: 11 },
      ],
    });
  });

  it('converts a water level in metres to the catalog\'s centimetres, and takes §4.5.3 times below 2^28 as relative to now', () => {
    const d = decode('flood', [{ n: 'waterLevel', u: 'm', v: 7.42, t: -120 }, { n: 'rainfall', u: 'mm/h', v: 12.5, t: -120 }, { n: 'waterLevel', v: 745 }]);
    expect(d).toEqual({ ok: true, rejected: [], readings: [{ ts: NOW - 120_000, waterLevel: 742, rainfall: 12.5 }, { waterLevel: 745 }] });
  });

  it('judges each record alone: wrong unit, wrong value type, out of range, future time, duplicates', () => {
    const t = NOW / 1000;
    const d = decode('traffic', [
      { n: 'vehicleCount', u: 'count', v: 42, t },
      { n: 'avgSpeed', u: 'm/s', v: 10, t },
      { n: 'occupancy', u: '%', vs: 'high', t },
      { n: 'intervalSeconds', u: 's', v: 7200, t },
      { n: 'vehicleCount', v: 43, t },
      { n: 'avgSpeed', u: 'km/h', v: 38, t: t + 3600 },
      { n: 'battery', u: '%EL', v: 88, t },
    ]);
    expect(d.ok && d.readings).toEqual([{ ts: NOW, vehicleCount: 42, battery: 88 }]);
    expect(d.ok && d.rejected.map((r) => `${r.reason}: ${r.detail}`)).toEqual([
      'invalid_reading: record 1: avgSpeed: unit "m/s" is not accepted; use km/h',
      'invalid_reading: record 2: occupancy: must be a numeric value (v), got vs',
      'out_of_range: record 3: intervalSeconds = 7200 is outside 1 – 3600 s',
      'invalid_reading: record 4: vehicleCount is given twice for the same time',
      'future_timestamp: record 5: time 2026-11-28T07:00:00.000Z is more than 5 min ahead of the platform clock',
    ]);
  });

  it('refuses a whole pack it must not read: must-understand labels, newer versions, not a pack', () => {
    expect(reasons(decode('air', [{ n: 'pm25', v: 1, crit_: true }]))).toEqual(['invalid_reading']);
    expect(reasons(decode('air', [{ bver: 11, n: 'pm25', v: 1 }]))).toEqual(['invalid_reading']);
    expect(reasons(decode('air', { n: 'pm25', v: 1 }))).toEqual(['invalid_reading']);
    expect(reasons(decode('air', '[{"n":'))).toEqual(['invalid_json']);
    expect(reasons(decode('air', []))).toEqual(['invalid_reading']);
    expect(reasons(decode('air', Array.from({ length: 1001 }, () => ({ n: 'pm25', v: 1 }))))).toEqual(['too_many_readings']);
    // unknown labels without the trailing underscore are ignored, as §4.4 says
    expect(decode('air', [{ n: 'pm25', v: 1, foo: 'bar' }])).toEqual({ ok: true, rejected: [], readings: [{ pm25: 1 }] });
  });

  it('the fuzz generator and the parser agree pack by pack (10,000 packs)', () => {
    const r = rng(0x5e471);
    const t0 = Math.floor(NOW / 1000) - 3 * 86400;
    for (let i = 0; i < 10_000; i++) {
      const kind = (['air', 'flood', 'traffic'] as const)[i % 3]!;
      const pack = senmlPack(r, kind, 'dev', i, t0, NOW / 1000);
      const d = decodeSenml(pack.payload, kind, opts);
      const got: Record<string, number> = {};
      for (const reason of reasons(d)) got[reason] = (got[reason] ?? 0) + 1;
      // readings without their kind's required field are refused by the validation stage, after the parser
      const valid = d.ok ? d.readings.filter((x) => anchorField(kind) in x) : [];
      const unanchored = d.ok ? d.readings.length - valid.length : 0;
      if (unanchored > 0) got.invalid_reading = (got.invalid_reading ?? 0) + unanchored;
      expect({ i, stored: valid.length, rejected: got }).toEqual({ i, stored: pack.stored, rejected: pack.rejected });
    }
  });
});

describe('SenML over MQTT', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_DEVICE_RATE_LIMIT: '0' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('stores a pack\'s readings with the registry\'s tags and tells the device about each refused record', async () => {
    const dev = await tp.register('flood', 'smd-flood-senml');
    const client = await tp.connect(dev.id, dev.token);
    const notices = collect(client, `sensors/flood/${dev.id}/rejections`);
    await client.subscribeAsync(`sensors/flood/${dev.id}/rejections`);
    const bt = Math.floor(Date.now() / 1000) - 600;
    const pack = [
      { bn: `urn:dev:pantau:${dev.id}:`, bt, n: 'waterLevel', u: 'm', v: 7.42 },
      { n: 'rainfall', u: 'mm/h', v: 12.5 },
      { n: 'water_level', u: 'm', v: 7.5, t: 60 },
    ];
    await client.publishAsync(`sensors/flood/${dev.id}/senml`, JSON.stringify(pack), { qos: 1 });
    await tp.drained();
    const rows = await tp.query('SELECT "waterLevel", "rainfall", "city" FROM "flood" WHERE "device_id" = $d', { d: dev.id });
    expect(rows[0]!.values).toEqual([[bt * 1000, 742, 12.5, 'Samarinda']]);
    await eventually(() => notices.length === 1);
    expect(notices[0]!.payload).toMatchObject({ reason: 'unknown_field' });
    const listed = await tp.api('GET', `/api/v1/devices/${dev.id}/rejections`);
    expect(listed.body.items[0]).toMatchObject({ reason: 'unknown_field' });
    expect(listed.body.items[0].detail).toMatch(/^record 2: unknown field "water_level"/);
  });

  it('10,000 fuzzed packs: exactly the expected readings stored and rejections recorded, by reason', async () => {
    const kinds = ['air', 'flood', 'traffic'] as const;
    const devices = await Promise.all(kinds.map((k) => tp.register(k, `senml-fuzz-${k}`)));
    const clients = await Promise.all(devices.map((d) => tp.connect(d.id, d.token)));
    const r = rng(0xf022);
    const now = Date.now();
    const t0 = Math.floor(now / 1000) - 3 * 86400;
    const expected = kinds.map(() => ({ stored: 0, rejected: {} as Record<string, number>, records: 0 }));
    const packs = 10_000;
    for (let start = 0; start < packs; start += 300) {
      const batch: Array<Promise<unknown>> = [];
      for (let i = start; i < Math.min(packs, start + 300); i++) {
        const k = i % 3;
        const pack = senmlPack(r, kinds[k]!, devices[k]!.id, i, t0, now / 1000);
        const e = expected[k]!;
        e.stored += pack.stored;
        e.records += pack.records;
        for (const [reason, n] of Object.entries(pack.rejected)) e.rejected[reason] = (e.rejected[reason] ?? 0) + n;
        batch.push(clients[k]!.publishAsync(`sensors/${kinds[k]}/${devices[k]!.id}/senml`, pack.payload, { qos: 1 }));
      }
      await Promise.all(batch);
    }
    await tp.drained(60_000);
    const totals = { packs, records: 0, stored: 0, rejected: 0, byReason: {} as Record<string, number> };
    for (let k = 0; k < 3; k++) {
      const id = devices[k]!.id;
      const stored = await tp.query(`SELECT count("${anchorField(kinds[k]!)}") FROM "${kinds[k]}" WHERE "device_id" = $d`, { d: id });
      expect(stored[0]?.values[0]?.[1] ?? 0).toBe(expected[k]!.stored);
      const rejected = await tp.query('SELECT count("count") FROM "rejections" WHERE "device_id" = $d GROUP BY "reason"', { d: id });
      const byReason = Object.fromEntries(rejected.map((s) => [s.tags!.reason, s.values[0]![1]]));
      expect(byReason).toEqual(expected[k]!.rejected);
      totals.records += expected[k]!.records;
      totals.stored += expected[k]!.stored;
      for (const [reason, n] of Object.entries(expected[k]!.rejected)) {
        totals.rejected += n;
        totals.byReason[reason] = (totals.byReason[reason] ?? 0) + n;
      }
    }
    console.log(`SenML fuzz: ${JSON.stringify(totals)}`);
    expect(totals.stored).toBeGreaterThan(10_000);
    expect(Object.keys(totals.byReason).sort()).toEqual(['future_timestamp', 'invalid_json', 'invalid_reading', 'out_of_range', 'stale_timestamp', 'unknown_field']);
  }, 300_000);
});
