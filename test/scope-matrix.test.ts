// Issue 20's route matrix: for every route of /openapi.json, a key scoped to Samarinda's flood gauges, with devices,
// alerts and keys of other cities and kinds present, sees and changes nothing of theirs (test/support/scope-matrix.ts
// generates the requests). A platform with a deliberately careless extra route shows that the matrix catches it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { MqttClient } from 'mqtt';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { runScopeMatrix, type MatrixFleet } from './support/scope-matrix.js';

const GAUGE = { waspada: 100, siaga: 150, awas: 200 };

interface Seeded {
  fleet: MatrixFleet;
  scopedAdmin: string;
  publishers: Array<{ client: MqttClient; kind: string; id: string }>;
}

/** Four devices (Samarinda flood = inside; Samarinda air, Balikpapan flood and air = outside), each with an open alert. */
async function seed(tp: TestPlatform): Promise<Seeded> {
  const specs = [
    { id: 'smd-flood-in', kind: 'flood' as const, city: 'Samarinda', name: 'Karang Mumus Inside', thresholds: GAUGE },
    // air alerts: silent after a second (ISPU alerts are judged once a minute, too slow for a test)
    { id: 'smd-air-out', kind: 'air' as const, city: 'Samarinda', name: 'Hidden Air Samarinda', thresholds: { silentAfterSeconds: 1 } },
    { id: 'bpn-flood-out', kind: 'flood' as const, city: 'Balikpapan', name: 'Hidden Gauge Balikpapan', thresholds: GAUGE },
    { id: 'bpn-air-out', kind: 'air' as const, city: 'Balikpapan', name: 'Hidden Air Balikpapan', thresholds: { silentAfterSeconds: 1 } },
  ];
  const publishers: Seeded['publishers'] = [];
  for (const s of specs) {
    const { thresholds, ...rest } = s;
    // the hidden devices are not public either: the citizens' routes (docs/public.md) show public devices to anyone,
    // so only with these private does the matrix prove that those routes, too, show nothing else
    const hidden = s.id !== 'smd-flood-in' ? { public: false } : {};
    const dev = await tp.register(s.kind, s.id, { ...rest, ...hidden, district: s.city === 'Balikpapan' ? 'Balikpapan Kota' : 'Samarinda Ulu', ...(thresholds ? { thresholds } : {}) });
    publishers.push({ client: await tp.connect(dev.id, dev.token), kind: s.kind, id: dev.id });
  }
  await stir(publishers);
  const alerts = await eventually(async () => {
    const items = (await tp.api('GET', '/api/v1/alerts?state=open')).body.items as Array<{ id: string; deviceId: string }>;
    return specs.every((s) => items.some((a) => a.deviceId === s.id)) ? items : null;
  }, 20_000);
  const alertOf = (id: string) => alerts.find((a) => a.deviceId === id)!.id;

  const scoped = await tp.api('POST', '/api/v1/keys', { body: { name: 'BPBD Samarinda admin', role: 'admin', scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
  expect(scoped.status).toBe(201);
  const other = await tp.api('POST', '/api/v1/keys', { body: { name: 'Hidden DLH Balikpapan key', role: 'operator', scope: { cities: ['Balikpapan'] } } });
  const wide = await tp.api('POST', '/api/v1/keys', { body: { name: 'Hidden province key', role: 'viewer' } });
  const person = await tp.api('POST', '/api/v1/users', { body: { username: 'hidden.dlh', name: 'Hidden DLH Officer', role: 'operator', scope: { cities: ['Balikpapan'], kinds: ['air'] } } });
  expect(person.status).toBe(201);
  const channel = await tp.api('POST', '/api/v1/channels', { body: { name: 'Hidden province channel', type: 'http', config: { method: 'POST', url: 'http://127.0.0.1:9/hidden', headers: {}, body: '{{text}}' } } });
  expect(channel.status).toBe(201);
  const rule = await tp.api('POST', '/api/v1/notification-rules', { body: { name: 'Hidden province rule', minSeverity: 'waspada', channels: [channel.body.id] } });
  expect(rule.status).toBe(201);
  await tp.drained();
  // the public snapshot is rebuilt every minute; rebuild it now so the public routes show this fleet
  await tp.platform.publicSnapshots.rebuild();
  return {
    scopedAdmin: scoped.body.key,
    publishers,
    fleet: {
      hidden: {
        deviceIds: ['smd-air-out', 'bpn-flood-out', 'bpn-air-out'],
        alertIds: [alertOf('smd-air-out'), alertOf('bpn-flood-out'), alertOf('bpn-air-out')],
        // (the bootstrap key is left out: it created the visible gauge, and the audit rightly names who did)
        keyIds: [other.body.id, wide.body.id],
        userIds: [person.body.person.id],
        channelIds: [channel.body.id, rule.body.id],
        strings: ['Hidden province channel', 'Hidden province rule', 'Hidden Air Samarinda', 'Hidden Gauge Balikpapan', 'Hidden Air Balikpapan', 'Balikpapan', 'Hidden DLH Balikpapan key', 'Hidden province key', 'hidden.dlh', 'Hidden DLH Officer'],
      },
      visible: { deviceId: 'smd-flood-in', alertId: alertOf('smd-flood-in') },
      kinds: ['flood'],
    },
  };
}

/** Readings that keep every alert where it is: gauges above awas; air alerts are silence, which clears only after 300 s. */
async function stir(publishers: Seeded['publishers']): Promise<void> {
  for (const p of publishers) {
    const values = p.kind === 'flood' ? { waterLevel: 250, rainfall: 12 } : { pm25: 300, pm10: 400 };
    await p.client.publishAsync(`sensors/${p.kind}/${p.id}/telemetry`, JSON.stringify({ ts: Date.now(), ...values }), { qos: 1 });
  }
}

/** What an unscoped admin sees of everything outside the scope (status and lastSeen move with traffic: left out). */
function snapshotOf(tp: TestPlatform, hidden: MatrixFleet['hidden']) {
  return async () => {
    const devices = (await tp.api('GET', '/api/v1/devices')).body.items.map(({ status: _s, lastSeen: _l, ...d }: Record<string, unknown>) => d);
    const alerts = (await tp.api('GET', '/api/v1/alerts')).body.items.map((a: { id: string; state: string }) => `${a.id} ${a.state}`).sort();
    const keys = (await tp.api('GET', '/api/v1/keys')).body.items;
    const people = (await tp.api('GET', '/api/v1/users')).body.items;
    const channels = (await tp.api('GET', '/api/v1/channels')).body.items.filter((c: { name: string }) => c.name.startsWith('Hidden'));
    const rules = (await tp.api('GET', '/api/v1/notification-rules')).body.items.filter((r: { name: string }) => r.name.startsWith('Hidden'));
    const configs = await Promise.all(hidden.deviceIds.map(async (id) => (await tp.api('GET', `/api/v1/devices/${id}/config`)).body));
    const audit = (await tp.api('GET', '/api/v1/audit?limit=1000')).body.items.filter((e: { action: string }) => e.action !== 'session.created');
    return JSON.stringify({ devices, alerts, keys, people, channels, rules, configs, audit }, null, 1);
  };
}

const matrix = (tp: TestPlatform, seeded: Seeded) =>
  runScopeMatrix({
    baseUrl: tp.platform.httpUrl,
    key: seeded.scopedAdmin,
    fleet: seeded.fleet,
    snapshot: snapshotOf(tp, seeded.fleet.hidden),
    stir: () => stir(seeded.publishers),
  });

describe('scope route matrix (generated from /openapi.json)', () => {
  let tp: TestPlatform;
  let seeded: Seeded;

  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_ALERT_TICK: '500ms' });
    seeded = await seed(tp);
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a key scoped to Samarinda flood sees and changes nothing of other cities and kinds, on every route', async () => {
    const result = await matrix(tp, seeded);
    console.log(`scope matrix: ${result.routes.length} routes, ${result.requests} requests, ${result.violations.length} violations`);
    expect(result.violations).toEqual([]);
    // the matrix covers the data routes the issue names (and every other one in the document)
    for (const route of [
      'GET /api/v1/devices', 'GET /api/v1/devices/{id}', 'PATCH /api/v1/devices/{id}', 'DELETE /api/v1/devices/{id}',
      'POST /api/v1/devices/{id}/token', 'GET /api/v1/devices/{id}/latest', 'GET /api/v1/devices/{id}/readings',
      'GET /api/v1/devices/{id}/rejections', 'GET /api/v1/devices/{id}/config', 'PUT /api/v1/devices/{id}/config',
      'POST /api/v1/devices/import', 'POST /api/v1/devices', 'GET /api/v1/export', 'GET /api/v1/alerts',
      'POST /api/v1/alerts/{id}/ack', 'GET /api/v1/summary', 'GET /api/v1/stream', 'GET /ngsi-ld/v1/entities',
      'GET /ngsi-ld/v1/entities/{id}', 'GET /api/v1/console/devices', 'GET /api/v1/audit', 'GET /api/v1/keys',
      'GET /api/v1/users', 'GET /api/v1/users/{id}', 'PATCH /api/v1/users/{id}', 'DELETE /api/v1/users/{id}', 'POST /api/v1/users',
    ]) expect(result.routes).toContain(route);
  });

  it('inside its scope the same key sees its gauge, its alert and its city in the summary, and acknowledges', async () => {
    const key = seeded.scopedAdmin;
    const list = await tp.api('GET', '/api/v1/devices', { key });
    expect(list.body).toMatchObject({ total: 1, items: [{ id: 'smd-flood-in' }] });
    const summary = await tp.api('GET', '/api/v1/summary', { key });
    expect(summary.body.items.map((i: { city: string; kind: string }) => `${i.city}/${i.kind}`)).toEqual(['Samarinda/flood']);
    expect(summary.body.items[0].devices.total).toBe(1);
    const ack = await tp.api('POST', `/api/v1/alerts/${seeded.fleet.visible.alertId}/ack`, { key });
    expect(ack.status).toBe(200);
    expect(ack.body.state).toBe('acknowledged');
    const audit = (await tp.api('GET', '/api/v1/audit', { key })).body.items;
    expect(audit.some((e: { action: string; actor: string }) => e.action === 'alert.acknowledged' && e.actor.includes('BPBD Samarinda admin'))).toBe(true);
    expect(JSON.stringify(audit)).not.toMatch(/bpn-|smd-air-out/);
  });
});

describe('the matrix itself', () => {
  let tp: TestPlatform;
  let seeded: Seeded;

  beforeAll(async () => {
    // a route that forgets the scope, as a careless extension would add it
    const careless = async (app: FastifyInstance, ctx: { registry: { listDevices(): Array<{ id: string; name: string }> } }) => {
      app.get('/api/v1/scratch/devices', { config: { role: 'viewer' }, schema: { tags: ['scratch'], summary: 'every device, scope forgotten' } }, async () => ({
        items: ctx.registry.listDevices().map((d) => ({ id: d.id, name: d.name })),
      }));
    };
    tp = await startTestPlatform({ PANTAU_ALERT_TICK: '500ms' }, { apiPlugins: [careless as never] });
    seeded = await seed(tp);
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('fails on a route that forgets the scope', async () => {
    const result = await matrix(tp, seeded);
    const careless = result.violations.filter((v) => v.route === 'GET /api/v1/scratch/devices');
    expect(careless.length).toBeGreaterThan(0);
    expect(careless[0]!.problem).toMatch(/bpn-flood-out|smd-air-out|bpn-air-out/);
    // and on nothing else
    expect(result.violations.filter((v) => v.route !== 'GET /api/v1/scratch/devices')).toEqual([]);
  });
});
