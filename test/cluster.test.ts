// A real Pantau cluster: a private PostgreSQL (the shared registry), Mosquitto (the cluster's broker), a private
// InfluxDB, two API nodes (PANTAU_ROLE=api) and two ingest workers (PANTAU_ROLE=ingest), all real processes
// (`platform/main.ts`), plus a webhook receiver. Node A is started first, so it is the first alert owner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { BROKER_SECRET_HEADER } from '../api/broker-auth.js';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { startMosquittoServer } from './support/mosquitto.js';
import { startEmqxApi, type EmqxApi } from './support/emqx-api.js';
import { eventually } from './support/platform.js';
import { startClusterNode, startWebhookReceiver, tempDirIn, type ClusterNode } from './support/cluster-node.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { PG_MIGRATIONS } from '../registry/schema.js';
import { startFleet } from './support/publishers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = 'cluster-admin-key-0123456789';
const SECRET = 'cluster-broker-secret-0123456789';
const WEBHOOK_SECRET = 'cluster-webhook-secret-0123';
const DB = 'cluster';
const CHIRPSTACK_SECRET = 'cluster-chirpstack-secret-0123';

const dirs: string[] = [];
const children: ChildProcess[] = [];
let influx: InfluxServer;
let pg: PostgresServer;
let brokerUrl: string;
let webhookServer: Server;
let webhookUrl: string;
/** EMQX's REST API, for API node A's kicks (PANTAU_BROKER_ADMIN=emqx); the devices' broker is Mosquitto. */
let emqx: EmqxApi;
const EMQX_KEY = 'cluster-kicks';
const EMQX_SECRET = 'cluster-emqx-secret-0123';
const webhooks: Array<{ type: string; alert: { id: string; deviceId: string; severity: string } }> = [];

const tempDir = (prefix: string) => tempDirIn(dirs, prefix);

type Node = ClusterNode;

const startNode = (id: string, role: 'api' | 'ingest', dataDir = tempDir(`pantau-${id}-`), extraEnv: Record<string, string> = {}): Promise<Node> =>
  startClusterNode({
    id,
    role,
    dataDir,
    children,
    command: [process.execPath, ['--import', 'tsx', join(ROOT, 'platform/main.ts')]],
    env: {
      PANTAU_REGISTRY_URL: pg.url,
      PANTAU_BROKER_URL: brokerUrl,
      PANTAU_INFLUX_URL: influx.url,
      PANTAU_INFLUX_DB: DB,
      PANTAU_ADMIN_KEY: ADMIN,
      PANTAU_BROKER_AUTH_SECRET: SECRET,
      PANTAU_WEBHOOK_URL: webhookUrl,
      PANTAU_WEBHOOK_SECRET: WEBHOOK_SECRET,
      PANTAU_CHIRPSTACK_SECRET: CHIRPSTACK_SECRET,
      PANTAU_DEVICE_RATE_LIMIT: '0',
      PANTAU_API_RATE_LIMIT: '0',
      PANTAU_ALERT_TICK: '1s',
      PANTAU_LOG_LEVEL: 'info',
      ...extraEnv,
    },
  });

const admin = { authorization: `Bearer ${ADMIN}` };
const api = async (node: Node, method: string, path: string, body?: unknown) => {
  const res = body === undefined
    ? await fetch(`${node.httpUrl}${path}`, { method, headers: admin })
    : await fetch(`${node.httpUrl}${path}`, { method, headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const brokerAuth = async (node: Node, username: string, password: string, clientid = username) => {
  const res = await fetch(`${node.httpUrl}/api/v1/broker/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [BROKER_SECRET_HEADER]: SECRET },
    body: JSON.stringify({ username, password, clientid }),
  });
  return ((await res.json()) as { result: string }).result;
};
const metric = async (node: Node, prefix: string) => {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
};
const flood = (id: string) => ({
  id,
  kind: 'flood',
  name: `Gauge ${id}`,
  city: 'Samarinda',
  district: 'Sungai Pinang',
  location: { lat: -0.429, lon: 117.168 },
  thresholds: { waspada: 700, siaga: 775, awas: 825 },
});
const air = (id: string) => ({ ...flood(id), kind: 'air', thresholds: undefined });

/** Publish `count` readings of a rising river, one QoS 1 message each, in order. */
async function riseRiver(client: mqtt.MqttClient, id: string, from: number, count: number, base: number, level: (i: number) => number) {
  for (let i = from; i < from + count; i++) {
    await client.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify({ ts: base + i * 1000, waterLevel: level(i) }), { qos: 1 });
  }
}

/** The changes stored for a device's alerts, oldest first, from the shared registry. */
async function storedChanges(deviceId: string): Promise<Array<{ type: string; severity: string; id: string }>> {
  const out = await pg.sql(`SELECT change->>'type', change->'alert'->>'severity', change->'alert'->>'id' FROM alert_events WHERE change->'alert'->>'deviceId' = '${deviceId}' ORDER BY seq`);
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [type, severity, id] = l.split('|');
    return { type: type!, severity: severity!, id: id! };
  });
}

let A: Node;
let B: Node;
let w1: Node;
let w2: Node;

beforeAll(async () => {
  ({ server: webhookServer, url: webhookUrl } = await startWebhookReceiver((body) => {
    try {
      webhooks.push(JSON.parse(body));
    } catch {
      // counted as nothing
    }
  }));
  const mosquitto = await startMosquittoServer(tempDir('pantau-mosquitto-'));
  children.push(mosquitto.child);
  brokerUrl = mosquitto.url;
  [influx, pg] = await Promise.all([startInfluxd(), startPostgres()]);
  emqx = await startEmqxApi(EMQX_KEY, EMQX_SECRET);
  // A first: it runs the migrations and becomes the alert owner; it alone kicks at the broker (B does not)
  A = await startNode('api-a', 'api', undefined, {
    PANTAU_BROKER_ADMIN: 'emqx',
    PANTAU_BROKER_ADMIN_URL: emqx.url,
    PANTAU_BROKER_ADMIN_KEY: EMQX_KEY,
    PANTAU_BROKER_ADMIN_SECRET: EMQX_SECRET,
  });
  await eventually(() => A.output().includes('alert owner: this node now judges'), 20_000, 100);
  [B, w1, w2] = await Promise.all([startNode('api-b', 'api'), startNode('w1', 'ingest'), startNode('w2', 'ingest')]);
}, 240_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  await influx?.stop();
  await pg?.stop();
  webhookServer?.close();
  await emqx?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a Pantau cluster on PostgreSQL, Mosquitto and InfluxDB', () => {
  it('ingest nodes serve health and metrics only; migrations ran once', async () => {
    expect((await fetch(`${w1.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${w1.httpUrl}/metrics`)).status).toBe(200);
    const refused = await fetch(`${w1.httpUrl}/api/v1/devices`, { headers: admin });
    expect(refused.status).toBe(404);
    expect(await refused.text()).toMatch(/PANTAU_ROLE=ingest/);
    expect((await pg.sql('SELECT version FROM pantau_migrations ORDER BY version')).trim().split('\n')).toEqual(PG_MIGRATIONS.map((m) => String(m.version)));
  });

  it('a device created through API node A is ingested by a worker and seen by B (latest and live stream); a token rotated through B is refused at A', async () => {
    const created = await api(A, 'POST', '/api/v1/devices', air('clu-air-01'));
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    // B's broker auth knows it at once (no restart, no fleet file)
    expect(await brokerAuth(B, 'clu-air-01', token)).toBe('allow');

    // B's live stream
    const controller = new AbortController();
    const stream = await fetch(`${B.httpUrl}/api/v1/stream?deviceId=clu-air-01`, { headers: admin, signal: controller.signal });
    expect(stream.status).toBe(200);
    let streamed = '';
    const reader = stream.body!.getReader();
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        streamed += new TextDecoder().decode(value);
      }
    })();

    const device = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-air-01', username: 'clu-air-01', password: token, reconnectPeriod: 0 });
    const ts = Date.now() - 5000;
    await device.publishAsync('sensors/air/clu-air-01/telemetry', JSON.stringify({ ts, pm25: 42.5 }), { qos: 1 });
    await device.endAsync();

    await eventually(() => streamed.includes('event: reading') && streamed.includes('42.5'), 15_000, 50).catch(() => {
      throw new Error(`B's live stream did not show the reading: ${streamed.slice(0, 500)}`);
    });
    controller.abort();
    await pump;
    const latest = await api(B, 'GET', '/api/v1/devices/clu-air-01/latest');
    expect(latest.status).toBe(200);
    expect(latest.body.values.pm25).toBe(42.5);
    expect(latest.body.ts).toBe(new Date(ts).toISOString());
    // ingested by one of the workers, not by an API node
    expect((await metric(w1, 'pantau_ingest_readings_total')) + (await metric(w2, 'pantau_ingest_readings_total'))).toBeGreaterThanOrEqual(1);
    expect(await metric(A, 'pantau_ingest_readings_total')).toBe(0);
    expect(await metric(B, 'pantau_ingest_readings_total')).toBe(0);

    expect(await brokerAuth(A, 'clu-air-01', token)).toBe('allow');
    const rotated = await api(B, 'POST', '/api/v1/devices/clu-air-01/token');
    expect(rotated.status).toBe(200);
    const t0 = Date.now();
    await eventually(async () => (await brokerAuth(A, 'clu-air-01', token)) === 'deny', 10_000, 20);
    const propagationMs = Date.now() - t0;
    console.log(`token rotation through B refused at A after ${propagationMs} ms`);
    expect(propagationMs).toBeLessThan(2000); // the contract: every node within 2 s (LISTEN/NOTIFY: milliseconds)
    expect(await brokerAuth(A, 'clu-air-01', rotated.body.token)).toBe('allow');
  }, 60_000);

  it('a token rotated, a device deleted and a scoped key narrowed through B: API node A kicks their sessions at the broker within 2 s', async () => {
    expect((await api(B, 'POST', '/api/v1/devices', air('clu-air-kick'))).status).toBe(201);
    // node A has seen the device (and its first token) before the rotation: a node that first hears of a device
    // after its token changed has no older session of it to end (the node making the change kicks in any case)
    await eventually(async () => (await api(A, 'GET', '/api/v1/devices/clu-air-kick')).status === 200);
    emqx.sessions.set('clu-air-kick', { clientid: 'clu-air-kick', username: 'clu-air-kick' });
    let t0 = Date.now();
    expect((await api(B, 'POST', '/api/v1/devices/clu-air-kick/token')).status).toBe(200);
    expect(await emqx.kickedWithin('clu-air-kick', t0)).toBeLessThan(2000);

    emqx.sessions.set('clu-air-kick-2', { clientid: 'clu-air-kick-2', username: 'clu-air-kick' });
    t0 = Date.now();
    expect((await api(B, 'DELETE', '/api/v1/devices/clu-air-kick')).status).toBe(204);
    expect(await emqx.kickedWithin('clu-air-kick-2', t0)).toBeLessThan(2000);

    const key = await api(B, 'POST', '/api/v1/keys', { name: 'siren', role: 'viewer', scope: { cities: ['Samarinda'] } });
    expect(key.status).toBe(201);
    // the siren's session was let in by A (the broker asked it at CONNECT), so A knows the key's scope before the
    // change, as for the device above: a key A first hears of after its scope changed has nothing older to end at A
    // (B, which made the change, kicks in any case when it has a broker admin; here only A has one)
    expect(await brokerAuth(A, 'pantau-api-key', key.body.key, `${key.body.id}-siren`)).toBe('allow');
    emqx.sessions.set(`${key.body.id}-siren`, { clientid: `${key.body.id}-siren`, username: 'pantau-api-key' });
    emqx.sessions.set('control-room', { clientid: 'control-room', username: 'pantau-api-key' });
    t0 = Date.now();
    expect((await api(B, 'PATCH', `/api/v1/keys/${key.body.id}`, { scope: { cities: ['Samarinda'], kinds: ['flood'] } })).status).toBe(200);
    const ms = await emqx.kickedWithin(`${key.body.id}-siren`, t0);
    console.log(`scope narrowed through B: the key's session kicked by A after ${ms} ms`);
    expect(ms).toBeLessThan(2000);
    // only that key's session: an unscoped key's is not its
    expect(emqx.sessions.has('control-room')).toBe(true);
  }, 30_000);

  it('a DevEUI set through API node A maps a ChirpStack uplink delivered to B; a clash through B is 409; gone everywhere with the device', async () => {
    const created = await api(B, 'POST', '/api/v1/devices', flood('clu-lora-01'));
    expect(created.status).toBe(201);
    const set = await api(A, 'PATCH', '/api/v1/devices/clu-lora-01', { devEui: 'A84041000181C7F1' });
    expect(set.status).toBe(200);
    expect(set.body.devEui).toBe('a84041000181c7f1');
    // at once, on the other node: no wait for the notification
    const time = new Date(Date.now() - 60_000).toISOString();
    const uplink = (devEui: string, object: Record<string, unknown>) => fetch(`${B.httpUrl}/api/v1/integrations/chirpstack?event=up`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CHIRPSTACK_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        deduplicationId: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
        time,
        deviceInfo: { tenantName: 'ChirpStack', applicationName: 'Mahakam gauges', deviceName: 'Gauge', devEui, devAddr: '01f1f5c2' },
        fPort: 1,
        object,
      }),
    });
    const res = await uplink('a84041000181c7f1', { waterLevel: 731, battery: 88 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deviceId: 'clu-lora-01', stored: 1, rejected: [] });
    await eventually(async () => {
      const rows = await influxQuery(influx.url, DB, 'SELECT "waterLevel", "battery" FROM "flood" WHERE "device_id" = $d', { d: 'clu-lora-01' });
      return rows[0]?.values.length === 1;
    }, 15_000, 200);
    const rows = await influxQuery(influx.url, DB, 'SELECT "waterLevel", "battery" FROM "flood" WHERE "device_id" = $d', { d: 'clu-lora-01' });
    expect(rows[0]!.values).toEqual([[Date.parse(time), 731, 88]]);
    // both nodes list it; the row is in the shared registry
    await eventually(async () => (await api(B, 'GET', '/api/v1/devices/clu-lora-01')).body.devEui === 'a84041000181c7f1', 2000, 20);
    expect((await pg.sql("SELECT device_id FROM device_dev_eui WHERE dev_eui = 'a84041000181c7f1'")).trim()).toBe('clu-lora-01');

    // the same DevEUI for another device, through the other node: a conflict, nothing changed
    expect((await api(B, 'POST', '/api/v1/devices', flood('clu-lora-02'))).status).toBe(201);
    const clash = await api(B, 'PATCH', '/api/v1/devices/clu-lora-02', { devEui: 'a84041000181c7f1' });
    expect(clash.status).toBe(409);
    expect(clash.body.detail).toMatch(/already belongs to device clu-lora-01/);
    const clashCreate = await api(A, 'POST', '/api/v1/devices', { ...flood('clu-lora-03'), devEui: 'A84041000181C7F1' });
    expect(clashCreate.status).toBe(409);

    // deleted through A: B no longer maps the DevEUI, and it is free for another device
    expect((await api(A, 'DELETE', '/api/v1/devices/clu-lora-01')).status).toBe(204);
    await eventually(async () => (await uplink('a84041000181c7f1', { waterLevel: 732 })).status === 404, 2000, 20);
    expect((await pg.sql("SELECT count(*) FROM device_dev_eui WHERE dev_eui = 'a84041000181c7f1'")).trim()).toBe('0');
    const moved = await api(B, 'PATCH', '/api/v1/devices/clu-lora-02', { devEui: 'a84041000181c7f1' });
    expect(moved.status).toBe(200);
    const second = await uplink('A84041000181C7F1', { waterLevel: 733 });
    expect(second.status).toBe(200);
    expect((await second.json()).deviceId).toBe('clu-lora-02');
  }, 60_000);

  it('a config pushed through API nodes reaches the device through the cluster broker; its report shows on every API node', async () => {
    const created = await api(A, 'POST', '/api/v1/devices', flood('clu-cfg-01'));
    expect(created.status).toBe(201);
    const first = await api(A, 'PUT', '/api/v1/devices/clu-cfg-01/config', { reportIntervalSeconds: 300 });
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(1);
    // the version is the shared one: a push through B is version 2
    const desired = { reportIntervalSeconds: 120, offsets: { waterLevel: -1.5 } };
    const second = await api(B, 'PUT', '/api/v1/devices/clu-cfg-01/config', desired);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ desired, version: 2, reportedVersion: null });

    // the device connects afterwards: the retained push is waiting on the cluster's broker
    const topic = 'sensors/flood/clu-cfg-01/config';
    const device = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-cfg-01', username: 'clu-cfg-01', password: created.body.token, reconnectPeriod: 0 });
    const inbox: Array<{ version: number; config: Record<string, unknown>; retain: boolean }> = [];
    device.on('message', (t, payload, packet) => {
      if (t === topic && payload.length > 0) inbox.push({ ...JSON.parse(payload.toString()), retain: packet.retain });
    });
    await device.subscribeAsync(topic, { qos: 1 });
    await eventually(() => inbox.some((m) => m.version === 2), 10_000, 50).catch(() => {
      throw new Error(`the device got ${JSON.stringify(inbox)}\nw1: ${w1.output().slice(-1500)}\nw2: ${w2.output().slice(-1500)}`);
    });
    // delivered live (retain 0) if the workers published it after the SUBSCRIBE, retained otherwise
    expect(inbox.find((m) => m.version === 2)).toMatchObject({ version: 2, config: desired });
    // either way it is retained now: a device that subscribes later gets it as a retained message
    const later = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-cfg-01-later', username: 'clu-cfg-01', password: created.body.token, reconnectPeriod: 0 });
    const retainedPush = new Promise<{ version: number; retain: boolean }>((resolve) => {
      later.on('message', (t, payload, packet) => {
        if (t === topic && payload.length > 0) resolve({ ...JSON.parse(payload.toString()), retain: packet.retain });
      });
    });
    await later.subscribeAsync(topic, { qos: 1 });
    expect(await retainedPush).toMatchObject({ version: 2, config: desired, retain: true });
    await later.endAsync();

    // a report taken by whichever worker the broker hands it to
    await device.publishAsync(`${topic}/reported`, JSON.stringify({ version: 2, config: desired }), { qos: 1 });
    for (const node of [A, B]) {
      await eventually(async () => (await api(node, 'GET', '/api/v1/devices/clu-cfg-01/config')).body.reportedVersion === 2, 10_000, 50).catch(async () => {
        throw new Error(`${node.id}: ${JSON.stringify((await api(node, 'GET', '/api/v1/devices/clu-cfg-01/config')).body)}\nw1: ${w1.output().slice(-1500)}\nw2: ${w2.output().slice(-1500)}`);
      });
      const shown = (await api(node, 'GET', '/api/v1/devices/clu-cfg-01/config')).body;
      expect(shown).toMatchObject({ desired, version: 2, reported: desired, reportedVersion: 2 });
    }
    const audit = (await api(B, 'GET', '/api/v1/audit?limit=50')).body.items as Array<{ action: string; target: string; actor: string }>;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'device.config_reported', target: 'clu-cfg-01 v2', actor: 'clu-cfg-01' }));
    expect(audit.filter((e) => e.action === 'device.config_updated' && e.target.startsWith('clu-cfg-01 ')).map((e) => e.target).sort()).toEqual(['clu-cfg-01 v1', 'clu-cfg-01 v2']);

    // a version never pushed is refused by whichever worker takes it; nothing changes anywhere
    await device.publishAsync(`${topic}/reported`, JSON.stringify({ version: 9, config: {} }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api(A, 'GET', '/api/v1/devices/clu-cfg-01/config')).body.reportedVersion).toBe(2);
    expect([w1, w2].some((w) => w.output().includes('reported version 9 was never pushed'))).toBe(true);

    // deleted through B: the shadow is gone on every node, and the retained push is cleared
    expect((await api(B, 'DELETE', '/api/v1/devices/clu-cfg-01')).status).toBe(204);
    expect((await pg.sql("SELECT count(*) FROM device_config WHERE device_id = 'clu-cfg-01'")).trim()).toBe('0');
    await device.endAsync();
    const watcher = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-cfg-watch', reconnectPeriod: 0 });
    const retained: string[] = [];
    watcher.on('message', (_t, payload) => payload.length > 0 && retained.push(payload.toString()));
    await eventually(async () => {
      retained.length = 0;
      await watcher.unsubscribeAsync(topic);
      await watcher.subscribeAsync(topic, { qos: 1 });
      await new Promise((r) => setTimeout(r, 200));
      return retained.length === 0;
    }, 10_000, 100);
    await watcher.endAsync();
    const recreated = await api(A, 'POST', '/api/v1/devices', flood('clu-cfg-01'));
    expect(recreated.status).toBe(201);
    for (const node of [A, B]) {
      await eventually(async () => (await api(node, 'GET', '/api/v1/devices/clu-cfg-01/config')).status === 200, 2000, 20);
      expect((await api(node, 'GET', '/api/v1/devices/clu-cfg-01/config')).body).toMatchObject({ desired: null, version: 0, reportedVersion: null });
    }
  }, 60_000);

  it('200 readings of a rising river split across two workers: one alert, opened and escalated once per level, one webhook per change', async () => {
    const created = await api(A, 'POST', '/api/v1/devices', flood('clu-flood-01'));
    expect(created.status).toBe(201);
    const before = await Promise.all([metric(w1, 'pantau_ingest_readings_total'), metric(w2, 'pantau_ingest_readings_total')]);
    const client = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-flood-01', username: 'clu-flood-01', password: created.body.token, reconnectPeriod: 0 });
    // 650 → 849 cm: waspada at 700, siaga at 775, awas at 825
    await riseRiver(client, 'clu-flood-01', 0, 200, Date.now() - 300_000, (i) => 650 + i);
    await client.endAsync();
    // Mosquitto acknowledged the device; the workers take the messages an instant later
    const taken = async () => Promise.all([metric(w1, 'pantau_ingest_readings_total'), metric(w2, 'pantau_ingest_readings_total')]);
    await eventually(async () => {
      const [a, b] = await taken();
      return a! - before[0]! + b! - before[1]! >= 200;
    }, 20_000, 100);
    const after = await taken();
    // both workers judged part of the stream
    expect(after[0]! - before[0]!).toBeGreaterThan(20);
    expect(after[1]! - before[1]!).toBeGreaterThan(20);
    expect(after[0]! - before[0]! + after[1]! - before[1]!).toBe(200);

    await eventually(async () => (await storedChanges('clu-flood-01')).length >= 3, 20_000, 100);
    await new Promise((r) => setTimeout(r, 1500)); // anything more would have arrived by now
    const changes = await storedChanges('clu-flood-01');
    expect(changes.map((c) => `${c.type}:${c.severity}`)).toEqual(['opened:waspada', 'escalated:siaga', 'escalated:awas']);
    expect(new Set(changes.map((c) => c.id)).size).toBe(1);
    const listed = await api(B, 'GET', '/api/v1/alerts?deviceId=clu-flood-01');
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0].severity).toBe('awas');
    await eventually(() => webhooks.filter((w) => w.alert.deviceId === 'clu-flood-01').length >= 3, 10_000, 50);
    await new Promise((r) => setTimeout(r, 500));
    expect(webhooks.filter((w) => w.alert.deviceId === 'clu-flood-01').map((w) => `${w.type}:${w.alert.severity}`)).toEqual(['opened:waspada', 'escalated:siaga', 'escalated:awas']);
    // acknowledged through the node that is not the owner
    const ack = await api(B, 'POST', `/api/v1/alerts/${changes[0]!.id}/ack`);
    expect(ack.status).toBe(200);
    expect(ack.body.state).toBe('acknowledged');
    expect((await api(A, 'GET', `/api/v1/alerts?deviceId=clu-flood-01`)).body.items[0].state).toBe('acknowledged');
  }, 90_000);

  it('the alert owner killed mid-sequence: the alert continues on a survivor, no duplicate, no gap', async () => {
    const owner = [A, B, w1, w2].find((n) => n.output().includes('alert owner: this node now judges'))!;
    expect(owner).toBe(A);
    const created = await api(B, 'POST', '/api/v1/devices', flood('clu-flood-02'));
    expect(created.status).toBe(201);
    const client = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-flood-02', username: 'clu-flood-02', password: created.body.token, reconnectPeriod: 0 });
    const base = Date.now() - 300_000;
    const level = (i: number) => 650 + i;
    await riseRiver(client, 'clu-flood-02', 0, 150, base, level); // up to 799 cm: waspada, siaga
    await eventually(async () => (await storedChanges('clu-flood-02')).length >= 2, 20_000, 100);
    A.child.kill('SIGKILL');
    await A.exited;
    await riseRiver(client, 'clu-flood-02', 150, 50, base, level); // on to 849 cm: awas
    await client.endAsync();
    await eventually(() => [B, w1, w2].some((n) => n.output().includes('alert owner: this node now judges')), 20_000, 100);
    await eventually(async () => (await storedChanges('clu-flood-02')).length >= 3, 20_000, 100);
    await new Promise((r) => setTimeout(r, 1500));
    const changes = await storedChanges('clu-flood-02');
    expect(changes.map((c) => `${c.type}:${c.severity}`)).toEqual(['opened:waspada', 'escalated:siaga', 'escalated:awas']);
    expect(new Set(changes.map((c) => c.id)).size).toBe(1);
    await eventually(() => webhooks.filter((w) => w.alert.deviceId === 'clu-flood-02').length >= 3, 10_000, 50);
    await new Promise((r) => setTimeout(r, 500));
    // Across an owner's crash a webhook is delivered at least once: the one in flight when the owner died may come
    // again from the new owner, as the very same change (identical body, for the receiver to drop). No change is
    // missing, and none is a different change twice.
    const bodies = webhooks.filter((w) => w.alert.deviceId === 'clu-flood-02').map((w) => JSON.stringify(w));
    const distinct = bodies.filter((b, i) => bodies.indexOf(b) === i).map((b) => JSON.parse(b) as { type: string; alert: { severity: string } });
    expect(distinct.map((w) => `${w.type}:${w.alert.severity}`)).toEqual(['opened:waspada', 'escalated:siaga', 'escalated:awas']);
    expect(bodies.length - distinct.length).toBeLessThanOrEqual(1);
    // nothing left undelivered or unjudged
    expect((await pg.sql("SELECT count(*) FROM alert_feed WHERE device_id = 'clu-flood-02'")).trim()).toBe('0');
  }, 90_000);

  it('a reading for a device deleted a moment earlier is rejected unknown_device, not lost', async () => {
    const created = await api(B, 'POST', '/api/v1/devices', air('clu-air-gone'));
    const token = created.body.token as string;
    const client = await mqtt.connectAsync(brokerUrl, { clientId: 'clu-air-gone', username: 'clu-air-gone', password: token, reconnectPeriod: 0 });
    const notices: Array<{ reason: string; detail: string }> = [];
    client.on('message', (_t, payload) => notices.push(JSON.parse(payload.toString())));
    await client.subscribeAsync('sensors/air/clu-air-gone/rejections', { qos: 0 });
    const before = (await metric(w1, 'pantau_ingest_rejected_total{reason="unknown_device"}')) + (await metric(w2, 'pantau_ingest_rejected_total{reason="unknown_device"}'));
    expect((await api(B, 'DELETE', '/api/v1/devices/clu-air-gone')).status).toBe(204);
    // a change reaches every node within 2 s (docs/scale-out.md); a reading racing the deletion inside that time
    // may still be stored as the device's last reading — stored, not lost. After it, the workers refuse the device.
    await new Promise((r) => setTimeout(r, 2000));
    // the device is still connected to Mosquitto (no broker ACL here): its next reading reaches a worker
    await client.publishAsync('sensors/air/clu-air-gone/telemetry', JSON.stringify({ ts: Date.now() - 1000, pm25: 12 }), { qos: 1 });
    // stored and counted (the record) …
    await eventually(async () => (await metric(w1, 'pantau_ingest_rejected_total{reason="unknown_device"}')) + (await metric(w2, 'pantau_ingest_rejected_total{reason="unknown_device"}')) > before, 15_000, 100).catch(async (err: Error) => {
      const stored = await influxQuery(influx.url, DB, `SELECT "pm25" FROM "air" WHERE "device_id" = 'clu-air-gone'`);
      throw new Error(`${err.message}; stored as a reading: ${JSON.stringify(stored)}\nw1: ${w1.output().slice(-2500)}\nw2: ${w2.output().slice(-2500)}`);
    });
    const after = (await metric(w1, 'pantau_ingest_rejected_total{reason="unknown_device"}')) + (await metric(w2, 'pantau_ingest_rejected_total{reason="unknown_device"}'));
    expect(after).toBe(before + 1);
    await eventually(async () => (await influxQuery(influx.url, DB, `SELECT "detail" FROM "rejections" WHERE "device_id" = 'clu-air-gone' AND "reason" = 'unknown_device'`)).length > 0, 15_000, 200);
    // … and published on the device's rejections topic (the notice)
    await eventually(() => notices.length > 0, 10_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}\nw1: ${w1.output().slice(-1500)}\nw2: ${w2.output().slice(-1500)}`);
    });
    expect(notices[0]).toMatchObject({ reason: 'unknown_device' });
    expect(notices[0]!.detail).toMatch(/clu-air-gone is not registered/);
    await client.endAsync();
  }, 40_000);

  it('SIGTERM of a worker under load: it leaves the share, the other worker takes everything, nothing acknowledged is lost', async () => {
    const devices = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const r = await api(B, 'POST', '/api/v1/devices', air(`clu-term-${i}`));
      return { id: `clu-term-${i}`, token: r.body.token as string, kind: 'air' as const };
    }));
    const fleet = await startFleet({ url: brokerUrl, devices, intervalMs: 10, batch: 5 });
    await new Promise((r) => setTimeout(r, 1500));
    w2.child.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
    expect(w2.output()).toMatch(/unsubscribed from the share/);
    expect(w2.output()).toMatch(/session ended/);
    const atExit = fleet.ackedCount();
    // w2 stays away: its share must now all go to w1
    await new Promise((r) => setTimeout(r, 2000));
    await fleet.stop();
    expect(fleet.ackedCount()).toBeGreaterThan(atExit);
    const missing = async () => {
      let left = 0;
      for (const [id, set] of fleet.acked) {
        const series = await influxQuery(influx.url, DB, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: id });
        const got = new Set((series[0]?.values ?? []).map((v) => v[0] as number));
        for (const ts of set) if (!got.has(ts)) left++;
      }
      return left;
    };
    await eventually(async () => (await missing()) === 0, 30_000, 250).catch(async () => {
      throw new Error(`${await missing()} acknowledged readings not stored\n${w1.output().slice(-2000)}`);
    });
    w2 = await startNode('w2', 'ingest', w2.dataDir);
  }, 90_000);

  it('PostgreSQL restarted under load: ingest keeps acknowledging, registry writes answer 503, all recovers without a restart', async () => {
    const devices = await Promise.all(Array.from({ length: 4 }, async (_, i) => {
      const r = await api(B, 'POST', '/api/v1/devices', air(`clu-pg-${i}`));
      return { id: `clu-pg-${i}`, token: r.body.token as string, kind: 'air' as const };
    }));
    const fleet = await startFleet({ url: brokerUrl, devices, intervalMs: 10, batch: 5 });
    await new Promise((r) => setTimeout(r, 1000));
    await pg.down();
    try {
      const ackedAtDown = fleet.ackedCount();
      const refused = await api(B, 'POST', '/api/v1/devices', air('clu-pg-new'));
      expect(refused.status).toBe(503);
      expect(refused.body.detail).toMatch(/registry/);
      expect((await api(B, 'DELETE', '/api/v1/devices/clu-pg-0')).status).toBe(503);
      // a DevEUI and a config push are registry writes too
      expect((await api(B, 'PATCH', '/api/v1/devices/clu-pg-1', { devEui: '0102030405060708' })).status).toBe(503);
      const push = await api(B, 'PUT', '/api/v1/devices/clu-pg-1/config', { reportIntervalSeconds: 60 });
      expect(push.status).toBe(503);
      expect(push.body.detail).toMatch(/registry/);
      await new Promise((r) => setTimeout(r, 1500));
      // acknowledged with the credentials and devices the workers hold in memory
      expect(fleet.ackedCount()).toBeGreaterThan(ackedAtDown + 100);
      // reads that need no PostgreSQL still answer
      expect((await api(B, 'GET', '/api/v1/devices/clu-pg-1')).status).toBe(200);
    } finally {
      await pg.start();
    }
    await eventually(async () => (await api(B, 'POST', '/api/v1/devices', air('clu-pg-new'))).status === 201, 30_000, 500);
    await eventually(async () => (await brokerAuth(B, 'clu-pg-new', 'wrong-token-0123456789')) === 'deny', 10_000, 200);
    await fleet.stop();
    const missing = async () => {
      let left = 0;
      for (const [id, set] of fleet.acked) {
        const series = await influxQuery(influx.url, DB, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: id });
        const got = new Set((series[0]?.values ?? []).map((v) => v[0] as number));
        for (const ts of set) if (!got.has(ts)) left++;
      }
      return left;
    };
    await eventually(async () => (await missing()) === 0, 30_000, 250).catch(async (err: Error) => {
      throw new Error(`${await missing()} of ${fleet.ackedCount()} acknowledged readings not stored after PostgreSQL's restart: ${err.message}\nw1:\n${w1.output().slice(-2500)}\nw2:\n${w2.output().slice(-2500)}`);
    });
    // the readings held while PostgreSQL was away reached the alert owner, who judged them all
    await eventually(async () => (await pg.sql("SELECT count(*) FROM alert_feed WHERE device_id LIKE 'clu-pg-%'")).trim() === '0', 30_000, 500);
  }, 120_000);
});
