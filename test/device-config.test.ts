// Configuration push (issue 16): an admin's desired config reaches a real mqtt.js device as a retained QoS 1
// message — also when it was offline at the time, and after Pantau restarts — and what the device reports it
// applied shows in the API and the audit log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceClient } from '../devices/device-client.js';
import { applyConfig, withOffsets, type AppliedConfig } from '../devices/device-config.js';
import { FileStore } from '../devices/file-store.js';
import { FLEET } from '../devices/fleet.js';
import { SimStats } from '../devices/progress.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
// pushing a configuration is device management: admin (an operator's key gets 403, test/security-review.test.ts)
let adminKey: string;
let viewerKey: string;
const dataDir = mkdtempSync(join(tmpdir(), 'pantau-config-'));
const db = `t_cfg_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  tp = await startTestPlatform({ PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_DB: db });
  adminKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'ops room', role: 'admin' } })).body.key;
  viewerKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'wall', role: 'viewer' } })).body.key;
});
afterAll(async () => {
  await tp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Messages on the device's config topic, with their retain flag. */
function configInbox(client: MqttClient, topic: string) {
  const got: Array<{ version: number; config: Record<string, unknown>; retain: boolean }> = [];
  client.on('message', (t, payload, packet) => {
    if (t === topic && payload.length > 0) got.push({ ...JSON.parse(payload.toString()), retain: packet.retain });
  });
  return got;
}

describe('configuration push', () => {
  it('reaches the subscribed device, which reports what it applied; GET shows both sides; both are audited', async () => {
    const dev = await tp.register('flood', 'smd-flood-cfg');
    const topic = `sensors/flood/${dev.id}/config`;
    const client = await tp.connect(dev.id, dev.token);
    const inbox = configInbox(client, topic);
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    expect(granted[0]!.qos).toBe(1);

    const empty = await tp.api('GET', `/api/v1/devices/${dev.id}/config`, { key: viewerKey });
    expect(empty.body).toEqual({ desired: null, version: 0, updatedAt: null, reported: null, reportedVersion: null, reportedAt: null });

    const desired = { reportIntervalSeconds: 300, offsets: { waterLevel: -2.5 }, thresholds: { waterLevel: { max: 825 } } };
    const put = await tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body: desired, key: adminKey });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ desired, version: 1, reported: null, reportedVersion: null, reportedAt: null });

    await eventually(() => inbox.length === 1);
    expect(inbox[0]).toMatchObject({ version: 1, config: desired });

    await client.publishAsync(`${topic}/reported`, JSON.stringify({ version: 1, config: desired }), { qos: 1 });
    const after = await eventually(async () => {
      const res = await tp.api('GET', `/api/v1/devices/${dev.id}/config`, { key: viewerKey });
      return res.body.reportedVersion === 1 ? res.body : null;
    });
    expect(after).toMatchObject({ desired, version: 1, reported: desired, reportedVersion: 1 });
    expect(Date.parse(after.reportedAt)).toBeGreaterThan(Date.now() - 60_000);

    // a report of a version Pantau never pushed changes nothing, and the device stays connected
    await client.publishAsync(`${topic}/reported`, JSON.stringify({ version: 7, config: {} }), { qos: 1 });
    await client.publishAsync(`${topic}/reported`, 'not json', { qos: 1 });
    expect((await tp.api('GET', `/api/v1/devices/${dev.id}/config`)).body.reportedVersion).toBe(1);
    expect(client.connected).toBe(true);

    const audit = (await tp.api('GET', '/api/v1/audit?limit=10')).body.items;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'device.config_updated', target: `${dev.id} v1`, actor: expect.stringContaining('ops room') }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'device.config_reported', target: `${dev.id} v1`, actor: dev.id }));
  });

  it('is delivered to a device that was offline when it was pushed, as soon as it reconnects and subscribes', async () => {
    const dev = await tp.register('air', 'smd-air-cfg');
    const topic = `sensors/air/${dev.id}/config`;
    await tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body: { reportIntervalSeconds: 60 }, key: adminKey });
    const second = await tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body: { reportIntervalSeconds: 120, offsets: { pm25: 1.5 } }, key: adminKey });
    expect(second.body.version).toBe(2);

    const client = await tp.connect(dev.id, dev.token);
    const inbox = configInbox(client, topic);
    await client.subscribeAsync(topic, { qos: 1 });
    await eventually(() => inbox.length === 1);
    expect(inbox[0]).toEqual({ version: 2, config: { reportIntervalSeconds: 120, offsets: { pm25: 1.5 } }, retain: true });
  });

  it('is validated against the kind\'s config schema, is limited to 4 KiB, and needs the admin role', async () => {
    const dev = await tp.register('traffic', 'bpn-traffic-cfg');
    const put = (body: unknown, key = adminKey) => tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body, key });
    expect((await put({ reportIntervalSeconds: 5 })).body.detail).toMatch(/^body\.reportIntervalSeconds: /);
    expect((await put({ offsets: { pm25: 1 } })).body.detail).toBe('body.offsets: unknown key(s) pm25 in offsets for a traffic device');
    expect((await put({ thresholds: { avgSpeed: { min: 80, max: 20 } } })).body.detail).toBe('body.thresholds.avgSpeed: min must not be above max');
    expect((await put({ firmware: 'v2' })).status).toBe(400);
    expect((await put({ offsets: { avgSpeed: 1 }, padding: 'x'.repeat(5000) })).status).toBe(413);
    expect((await put({ reportIntervalSeconds: 60 }, viewerKey)).status).toBe(403);
    expect((await tp.api('PUT', '/api/v1/devices/no-such-device/config', { body: {}, key: adminKey })).status).toBe(404);
    expect((await tp.api('GET', `/api/v1/devices/${dev.id}/config`)).body.version).toBe(0);
  });

  it('keeps devices to their own config topics', async () => {
    const a = await tp.register('flood', 'cfg-acl-a');
    const b = await tp.register('flood', 'cfg-acl-b');
    const client = await tp.connect(a.id, a.token);
    const granted = await client
      .subscribeAsync([`sensors/flood/${b.id}/config`, `sensors/flood/${a.id}/config`, `sensors/flood/${a.id}/config/reported`])
      .then(() => null, (err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(granted).toEqual([128, 0, 128]);
    // publishing to its own desired-config topic is not the device's to do: the broker disconnects it
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(`sensors/flood/${a.id}/config`, JSON.stringify({ version: 9, config: {} }), { qos: 1 });
    await closed;
    expect((await tp.api('GET', `/api/v1/devices/${a.id}/config`)).body.version).toBe(0);
  });

  it('is obeyed by the simulator\'s device: it takes the new interval and offsets and reports what it applied', async () => {
    const device = FLEET.find((d) => d.kind === 'flood')!;
    const reg = await tp.api('POST', '/api/v1/devices', {
      body: { id: device.id, kind: device.kind, name: device.name, city: device.city, district: device.district, location: device.location, thresholds: device.thresholds },
    });
    expect(reg.status).toBe(201);
    const applied: AppliedConfig[] = [];
    let version = 0;
    const stateDir = mkdtempSync(join(tmpdir(), 'pantau-sim-cfg-'));
    const client = new DeviceClient(device, {
      mqttUrl: tp.platform.mqttUrl!, qos: 1, token: reg.body.token, store: new FileStore(join(stateDir, 'outbox.jsonl')), stats: new SimStats(),
      onRejection: () => undefined, onRefused: () => undefined,
      onConfig: (c, payload) => {
        const a = applyConfig(device.kind, payload, version);
        if (!a) return;
        version = a.version;
        applied.push(a);
        c.reportConfig(a.report);
      },
    });
    try {
      client.start();
      await eventually(() => client.connected);
      const desired = { reportIntervalSeconds: 30, offsets: { waterLevel: -4 }, thresholds: { waterLevel: { max: 800 } } };
      await tp.api('PUT', `/api/v1/devices/${device.id}/config`, { body: desired, key: adminKey });
      const state = await eventually(async () => {
        const res = await tp.api('GET', `/api/v1/devices/${device.id}/config`);
        return res.body.reportedVersion === 1 ? res.body : null;
      });
      expect(applied.map((a) => a.intervalMs)).toEqual([30_000]);
      // no siren on a simulated gauge: thresholds are not applied, so not reported as applied
      expect(state.reported).toEqual({ reportIntervalSeconds: 30, offsets: { waterLevel: -4 } });
      expect(withOffsets({ waterLevel: 742.5, rainfall: 3 }, applied[0]!.offsets)).toEqual({ waterLevel: 738.5, rainfall: 3 });
      // a second delivery of the same version (a reconnect with the retained message) is not applied twice
      expect(applyConfig(device.kind, Buffer.from(JSON.stringify({ version: 1, config: desired })), version)).toBeNull();
    } finally {
      await client.shutdown(1000);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('survives a restart of Pantau: the latest desired config is published again, retained', async () => {
    const dev = await tp.register('flood', 'smd-flood-restart');
    await tp.api('PUT', `/api/v1/devices/${dev.id}/config`, { body: { reportIntervalSeconds: 900 }, key: adminKey });
    await tp.platform.stop();
    tp = await startTestPlatform({ PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_DB: db });
    const client = await tp.connect(dev.id, dev.token);
    const inbox = configInbox(client, `sensors/flood/${dev.id}/config`);
    await client.subscribeAsync(`sensors/flood/${dev.id}/config`, { qos: 1 });
    await eventually(() => inbox.length === 1);
    expect(inbox[0]).toEqual({ version: 1, config: { reportIntervalSeconds: 900 }, retain: true });
    expect((await tp.api('GET', `/api/v1/devices/${dev.id}/config`)).body).toMatchObject({ version: 1, desired: { reportIntervalSeconds: 900 } });
  });
});
