// The river trend on the API's alerts (docs/contract.md §5 `trend`, docs/notifications.md "The trend"): known series
// published by gauges over MQTT into a real InfluxDB, then the exact rate, direction and time to the next threshold
// on `GET /api/v1/alerts` and `GET /api/v1/alerts/{id}` — the figures the messages put in words.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const THRESHOLDS = { waspada: 80, siaga: 150, awas: 200 };
const MIN = 60_000;

let tp: TestPlatform;
const now = Date.now();

/** Publishes `cms` as one backlog, one reading every `stepMin` minutes, the last `endAgoMin` minutes ago. */
async function gauge(id: string, cms: number[], options: { stepMin?: number; endAgoMin?: number; city?: string } = {}) {
  const step = (options.stepMin ?? 5) * MIN;
  const end = now - (options.endAgoMin ?? 1) * MIN;
  const device = await tp.register('flood', id, { city: options.city ?? 'Samarinda', thresholds: { ...THRESHOLDS, clearAfterSeconds: 0, maxRatePerMinute: { waterLevel: 5000 } } });
  const client = await tp.connect(device.id, device.token);
  const readings = cms.map((cm, i) => ({ ts: end - (cms.length - 1 - i) * step, waterLevel: cm }));
  await client.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify(readings), { qos: 1 });
  return client;
}

async function floodAlert(deviceId: string) {
  return eventually(async () => {
    const items = (await tp.api('GET', `/api/v1/alerts?deviceId=${deviceId}`)).body.items as Array<{ id: string; rule: string; trend?: unknown }>;
    return items.find((a) => a.rule === 'flood_level');
  }, 15_000);
}

beforeAll(async () => {
  tp = await startTestPlatform();
  // two hours of fast rise long ago, then 2 cm every 5 min for the last 30 min: only the last 30 min count
  await gauge('trend-rising', [20, 70, 120, 121, 122, 124, 126, 128, 130, 132, 134]);
  await gauge('trend-falling', [180, 176, 172, 168]);
  await gauge('trend-steady', [100, 100, 100, 100, 100, 100, 100]);
  await gauge('trend-above-awas', [210, 212, 214]);
  await gauge('trend-single', [160]);
  await gauge('trend-balikpapan', [90, 94], { city: 'Balikpapan' });
  await tp.drained();
}, 60_000);

afterAll(async () => {
  await tp?.stop();
});

describe('the river trend on the API\'s alerts', () => {
  it('a rise of 2 cm every 5 minutes is 24 cm/h, Siaga 16 cm above is 40 minutes away — on the list and on the alert', async () => {
    const listed = await floodAlert('trend-rising');
    const expected = {
      window: '30m',
      ratePerHour: 24,
      unit: 'cm',
      direction: 'rising',
      next: { level: 'siaga', etaMinutes: 40 },
      asOf: new Date(now - MIN).toISOString(),
      readings: 7,
    };
    expect(listed.trend).toEqual(expected);
    const one = await tp.api('GET', `/api/v1/alerts/${listed.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: listed.id, deviceId: 'trend-rising', severity: 'waspada', state: 'open', trend: expected });
  });

  it('falling water: a negative rate, no next threshold; steady water: 0; above Awas: nothing left to reach', async () => {
    expect((await floodAlert('trend-falling')).trend).toMatchObject({ ratePerHour: -48, direction: 'falling', next: null, readings: 4 });
    expect((await floodAlert('trend-steady')).trend).toMatchObject({ ratePerHour: 0, direction: 'steady', next: null, readings: 7 });
    expect((await floodAlert('trend-above-awas')).trend).toMatchObject({ ratePerHour: 24, direction: 'rising', next: null });
  });

  it('one reading gives no trend (null), and an alert that is not a flood level has none', async () => {
    expect((await floodAlert('trend-single')).trend).toBeNull();
    const air = await tp.register('air', 'trend-air', { thresholds: { silentAfterSeconds: 1 } });
    const client = await tp.connect(air.id, air.token);
    await client.publishAsync(`sensors/air/${air.id}/telemetry`, JSON.stringify({ pm25: 20 }), { qos: 1 });
    const silent = await eventually(async () => ((await tp.api('GET', `/api/v1/alerts?deviceId=${air.id}`)).body.items as Array<{ rule: string; trend: unknown }>).find((a) => a.rule === 'silent'), 15_000);
    expect(silent.trend).toBeNull();
  });

  it('an alert outside the caller\'s scope does not exist for it; a bad id is a 400 problem', async () => {
    const alert = await floodAlert('trend-balikpapan');
    const key = (await tp.api('POST', '/api/v1/keys', { body: { name: 'Samarinda', role: 'viewer', scope: { cities: ['Samarinda'] } } })).body.key as string;
    const hidden = await tp.api('GET', `/api/v1/alerts/${alert.id}`, { key });
    expect(hidden.status).toBe(404);
    expect(hidden.headers.get('content-type')).toContain('application/problem+json');
    expect((await tp.api('GET', `/api/v1/alerts/${alert.id}`)).status).toBe(200);
    const bad = await tp.api('GET', '/api/v1/alerts/not%20an%20id');
    expect(bad.status).toBe(400);
    expect((await tp.api('GET', '/api/v1/alerts/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('the OpenAPI document describes the route and the trend on the Alert schema, and every $ref in it resolves', async () => {
    const doc = (await tp.api('GET', '/openapi.json')).body;
    expect(doc.paths['/api/v1/alerts/{id}'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Alert' });
    const alert = doc.components.schemas.Alert;
    expect(alert.required).not.toContain('trend');
    const trendRef = alert.properties.trend.$ref ?? alert.properties.trend.anyOf?.find((s: any) => s.$ref)?.$ref ?? alert.properties.trend.allOf?.[0]?.$ref;
    expect(trendRef).toBe('#/components/schemas/AlertTrend');
    expect(Object.keys(doc.components.schemas.AlertTrend.properties)).toEqual(['window', 'ratePerHour', 'unit', 'direction', 'next', 'asOf', 'readings']);
    // before, the document pointed at components it did not contain (Alert, Problem …)
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of new Set(refs)) expect(doc.components.schemas[name], name).toBeTruthy();
  });
});
