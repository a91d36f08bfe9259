// The operations room: a rising river becomes one alert that escalates, is acknowledged and resolves without
// flapping; every change reaches the webhook (signed, retried), MQTT city systems and the live stream;
// silent devices raise alerts; the summary adds it up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createHash, createHmac } from 'node:crypto';
import mqtt from 'mqtt';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { freePort } from './support/ports.js';
import { sse } from './support/sse.js';

const SECRET = 'webhook-secret-for-tests';
let tp: TestPlatform;
let hookServer: Server;
const hooks: Array<{ body: any; valid: boolean; key: string; keyOfBody: string }> = [];
/** Idempotency-Key of each refused attempt. */
const refusedKeys: string[] = [];
let hookFailuresLeft = 2;
let hookAttempts = 0;

beforeAll(async () => {
  const port = await freePort();
  hookServer = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      hookAttempts++;
      if (hookFailuresLeft > 0) {
        hookFailuresLeft--;
        refusedKeys.push(String(req.headers['idempotency-key']));
        res.writeHead(503).end();
        return;
      }
      const ts = String(req.headers['x-pantau-timestamp']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`;
      const keyOfBody = createHash('sha256').update(raw).digest('base64url');
      hooks.push({ body: JSON.parse(raw), valid: req.headers['x-pantau-signature'] === expected, key: String(req.headers['idempotency-key']), keyOfBody });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(port, '127.0.0.1', () => r()));
  tp = await startTestPlatform({
    PANTAU_WEBHOOK_URL: `http://127.0.0.1:${port}/pantau`,
    PANTAU_WEBHOOK_SECRET: SECRET,
    PANTAU_ALERT_TICK: '300ms',
    PANTAU_SSE_HEARTBEAT: '1s',
  });
});
afterAll(async () => {
  await tp?.stop();
  hookServer?.close();
});


describe('a river rising through its thresholds', () => {
  it('gets one alert that escalates, is acknowledged by an operator, and resolves as the level falls', async () => {
    const gauge = await tp.register('flood', 'smd-flood-benanga', {
      thresholds: { waspada: 700, siaga: 775, awas: 825, hysteresisCm: 10, clearAfterSeconds: 1 },
    });
    const viewer = (await tp.api('POST', '/api/v1/keys', { body: { name: 'wall', role: 'viewer' } })).body.key;
    const operator = (await tp.api('POST', '/api/v1/keys', { body: { name: 'duty officer', role: 'operator' } })).body.key;
    const stream = sse(`${tp.platform.httpUrl}/api/v1/stream?deviceId=${gauge.id}`, { authorization: `Bearer ${viewer}` });
    const city = await mqtt.connectAsync(tp.platform.mqttUrl!, { username: 'pantau-api-key', password: viewer, reconnectPeriod: 0 });
    await city.subscribeAsync(`alerts/flood/${gauge.id}`);
    const sirens: any[] = [];
    city.on('message', (_t, m) => sirens.push(JSON.parse(m.toString())));

    const device = await tp.connect(gauge.id, gauge.token);
    const level = async (cm: number) => {
      await device.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ waterLevel: cm }), { qos: 1 });
      await new Promise((r) => setTimeout(r, 30));
    };
    const alertsOf = async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`, { key: viewer })).body.items;

    for (const cm of [650, 690, 705, 740, 780, 800, 830]) await level(cm);
    let items = await eventually(async () => {
      const a = await alertsOf();
      return a.length === 1 && a[0].severity === 'awas' ? a : null;
    });
    // hovering around the awas threshold (825) within the hysteresis band does not flap
    for (const cm of [822, 827, 819, 826, 821, 828]) await level(cm);
    await new Promise((r) => setTimeout(r, 600));
    items = await alertsOf();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ rule: 'flood_level', severity: 'awas', state: 'open', deviceId: gauge.id, kind: 'flood' });
    const id = items[0].id;

    expect((await tp.api('POST', `/api/v1/alerts/${id}/ack`, { key: viewer })).status).toBe(403);
    const acked = await tp.api('POST', `/api/v1/alerts/${id}/ack`, { key: operator });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ id, state: 'acknowledged' });
    expect(Date.parse(acked.body.acknowledgedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await tp.api('POST', `/api/v1/alerts/${id}/ack`, { key: operator })).status).toBe(409);

    for (const cm of [780, 720, 650, 600]) await level(cm);
    const resolved = await eventually(async () => {
      const a = await alertsOf();
      return a[0]?.state === 'resolved' ? a : null;
    }, 15_000);
    expect(resolved).toHaveLength(1);
    expect(Date.parse(resolved[0].resolvedAt)).toBeGreaterThanOrEqual(Date.parse(resolved[0].openedAt));

    // every change: opened waspada, escalated to siaga and awas, acknowledged, then down and resolved
    const types = (await eventually(() => (hooks.filter((h) => h.body.alert.id === id).some((h) => h.body.type === 'resolved') ? hooks : null)))
      .filter((h) => h.body.alert.id === id)
      .map((h) => `${h.body.type}:${h.body.alert.severity}`);
    expect(types.slice(0, 4)).toEqual(['opened:waspada', 'escalated:siaga', 'escalated:awas', 'acknowledged:awas']);
    expect(types[types.length - 1]).toMatch(/^resolved:/);
    expect(hooks.every((h) => h.valid)).toBe(true);
    expect(hookAttempts).toBe(hooks.length + 2); // the first two deliveries failed and were retried
    // the retries carried the first change's key; every change has a key of its own, its body's digest
    expect(refusedKeys).toEqual([hooks[0]!.key, hooks[0]!.key]);
    expect(hooks.every((h) => h.key === h.keyOfBody)).toBe(true);
    expect(new Set(hooks.map((h) => h.key)).size).toBe(hooks.length);

    const streamed = stream.events.filter((e) => e.event === 'alert').map((e) => e.data.type);
    expect(streamed.slice(0, 4)).toEqual(['opened', 'escalated', 'escalated', 'acknowledged']);
    expect(streamed[streamed.length - 1]).toBe('resolved');
    await eventually(() => sirens.some((s) => s.type === 'resolved'));
    expect(sirens[0].alert.severity).toBe('waspada');

    // the alert changes are in InfluxDB for Grafana annotations
    await tp.drained();
    const points = await tp.query('SELECT "state", "message" FROM "alerts" WHERE "device_id" = $d', { d: gauge.id });
    expect(points[0]!.values.length).toBe(types.length);
    stream.close();
    await city.endAsync();
  });
});

describe('the live stream', () => {
  it('shows a reading within 1 s of its publish, filtered by kind, with heartbeats', async () => {
    const dev = await tp.register('traffic', 'bpn-traffic-rapak');
    const noise = await tp.register('air', 'bpn-air-noise');
    const stream = sse(`${tp.platform.httpUrl}/api/v1/stream?kind=traffic&access_token=${encodeURIComponent('test-admin-key-0123456789')}`, {});
    await new Promise((r) => setTimeout(r, 200));
    const c = await tp.connect(dev.id, dev.token);
    const n = await tp.connect(noise.id, noise.token);
    await n.publishAsync(`sensors/air/${noise.id}/telemetry`, JSON.stringify({ pm25: 5 }), { qos: 1 });
    const sentAt = Date.now();
    await c.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify({ vehicleCount: 42, avgSpeed: 31 }), { qos: 1 });
    const ev = await eventually(() => stream.events.find((e) => e.event === 'reading' && e.data.deviceId === dev.id), 2000, 10);
    expect(ev.at - sentAt).toBeLessThan(1000);
    expect(ev.data.values).toEqual({ vehicleCount: 42, avgSpeed: 31 });
    expect(stream.events.some((e) => e.data.deviceId === noise.id)).toBe(false);
    await eventually(() => stream.comments() >= 2, 3000);
    stream.close();
  });

  it('resumes alert events after a reconnect with Last-Event-ID', async () => {
    const gauge = await tp.register('flood', 'smd-flood-lempake', { thresholds: { waspada: 100, siaga: 200, awas: 300, clearAfterSeconds: 1 } });
    const first = sse(`${tp.platform.httpUrl}/api/v1/stream?kind=flood&deviceId=${gauge.id}`, { authorization: 'Bearer test-admin-key-0123456789' });
    await new Promise((r) => setTimeout(r, 200));
    const c = await tp.connect(gauge.id, gauge.token);
    await c.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ waterLevel: 150 }), { qos: 1 });
    const opened = await eventually(() => first.events.find((e) => e.event === 'alert'));
    first.close();
    // while disconnected: escalation to siaga and awas
    await c.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ waterLevel: 250 }), { qos: 1 });
    await c.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ waterLevel: 350 }), { qos: 1 });
    await eventually(async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items[0]?.severity === 'awas');
    const second = sse(`${tp.platform.httpUrl}/api/v1/stream?deviceId=${gauge.id}`, { authorization: 'Bearer test-admin-key-0123456789', 'last-event-id': opened!.id! });
    const missed = await eventually(() => {
      const a = second.events.filter((e) => e.event === 'alert');
      return a.length >= 2 ? a : null;
    });
    expect(missed.map((e) => e.data.alert.severity)).toEqual(['siaga', 'awas']);
    expect(Number(missed[0]!.id)).toBeGreaterThan(Number(opened!.id));
    second.close();
  });

  it('refuses a stream without a key', async () => {
    const res = await fetch(`${tp.platform.httpUrl}/api/v1/stream`);
    expect(res.status).toBe(401);
  });
});

describe('city systems on MQTT', () => {
  it('log in with an API key, may only subscribe to alerts, and are disconnected when the key is revoked', async () => {
    const created = (await tp.api('POST', '/api/v1/keys', { body: { name: 'siren controller', role: 'viewer' } })).body;
    const siren = await mqtt.connectAsync(tp.platform.mqttUrl!, { username: 'pantau-api-key', password: created.key, reconnectPeriod: 0 });
    const refused = await siren.subscribeAsync('sensors/#').then(() => null, (err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(refused).toEqual([128]);
    expect((await siren.subscribeAsync('alerts/flood/#'))[0]!.qos).toBe(0);
    const closed = new Promise<void>((resolve) => siren.once('close', () => resolve()));
    expect((await tp.api('DELETE', `/api/v1/keys/${created.id}`)).status).toBe(204);
    await closed;
    const again = await mqtt
      .connectAsync(tp.platform.mqttUrl!, { username: 'pantau-api-key', password: created.key, reconnectPeriod: 0 })
      .then((c) => (c.end(), 'connected'), (err: { code?: number }) => err.code);
    expect(again).toBe(4);
  });
});

describe('device status', () => {
  it('a device killed without DISCONNECT becomes offline (its Last Will) and raises its silent alert', async () => {
    const dev = await tp.register('air', 'bontang-air-killed', { thresholds: { silentAfterSeconds: 1 } });
    const watcher = await tp.connect(dev.id, dev.token, { clientId: `${dev.id}-watcher` });
    const client = await tp.connect(dev.id, dev.token, {
      clientId: dev.id,
      keepalive: 1,
      will: { topic: `sensors/air/${dev.id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await client.publishAsync(`sensors/air/${dev.id}/status`, 'online', { qos: 1, retain: true });
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 20 }), { qos: 1 });
    await watcher.endAsync();
    await eventually(async () => (await tp.api('GET', `/api/v1/devices/${dev.id}`)).body.status === 'online');
    // kill the connection without DISCONNECT
    (client as unknown as { stream: { destroy(): void } }).stream.destroy();
    client.options.reconnectPeriod = 0;
    const device = await eventually(async () => {
      const d = (await tp.api('GET', `/api/v1/devices/${dev.id}`)).body;
      return d.status === 'offline' ? d : null;
    });
    expect(device.lastSeen).not.toBeNull();
    const alert = await eventually(async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${dev.id}&state=open`)).body.items.find((a: { rule: string }) => a.rule === 'silent'), 10_000);
    expect(alert.message).toMatch(/\//); // Indonesian / English
  });
});

describe('the city summary', () => {
  it('adds up devices, open alerts and the worst index per city and kind', async () => {
    const res = await tp.api('GET', '/api/v1/summary');
    expect(res.status).toBe(200);
    const flood = res.body.items.find((i: { city: string; kind: string }) => i.city === 'Samarinda' && i.kind === 'flood');
    expect(flood.devices.total).toBeGreaterThanOrEqual(2);
    expect(flood.devices.online + flood.devices.offline + flood.devices.neverSeen).toBe(flood.devices.total);
    // smd-flood-lempake is at awas and not resolved
    expect(flood.openAlerts.bySeverity.awas).toBeGreaterThanOrEqual(1);
    expect(flood.worstIndex).toMatchObject({ alertLevel: 'awas', deviceId: 'smd-flood-lempake' });
    const air = res.body.items.find((i: { kind: string }) => i.kind === 'air');
    expect(air.openAlerts.bySeverity.warning).toBeGreaterThanOrEqual(1);
  });
});
