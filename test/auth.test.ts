// Who may connect, publish, subscribe and call the API — and that removal and rotation take effect at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.stop();
});

async function connectError(username: string, password: string): Promise<{ code?: number; message: string }> {
  try {
    const c = await mqtt.connectAsync(tp.platform.mqttUrl!, { username, password, reconnectPeriod: 0, connectTimeout: 5000 });
    await c.endAsync();
    return { message: 'connected' };
  } catch (err) {
    return { code: (err as { code?: number }).code, message: (err as Error).message };
  }
}

describe('MQTT authentication', () => {
  it('refuses a wrong password with CONNACK 4 (bad username or password)', async () => {
    const dev = await tp.register('air');
    const result = await connectError(dev.id, 'wrong-token-wrong-token');
    expect(result.code).toBe(4);
  });

  it('refuses an unknown device and an empty password the same way', async () => {
    expect((await connectError('nobody-here', 'whatever-whatever')).code).toBe(4);
    const dev = await tp.register('air');
    expect((await connectError(dev.id, '')).code).toBe(4);
  });

  it('stores tokens only as salted hashes', async () => {
    const dev = await tp.register('air');
    const row = tp.platform.registry.db.prepare('SELECT token_hash FROM devices WHERE id = ?').get(dev.id) as { token_hash: string };
    // a generated 256-bit token: salted HMAC-SHA-256 (registry/secrets.ts explains why no work factor is needed)
    expect(row.token_hash).toMatch(/^hmac-sha256\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(row.token_hash).not.toContain(dev.token);
  });
});

describe('MQTT topic rules', () => {
  it('disconnects a device that publishes to another device’s topic, and stores nothing', async () => {
    const a = await tp.register('air');
    const b = await tp.register('air');
    const client = await tp.connect(a.id, a.token);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(`sensors/air/${b.id}/telemetry`, JSON.stringify({ pm25: 99 }), { qos: 1 });
    await closed;
    await tp.drained();
    const rows = await tp.query('SELECT * FROM "air" WHERE "device_id" = $d', { d: b.id });
    expect(rows).toEqual([]);
  });

  it('disconnects a device that publishes under the wrong kind or outside sensors/', async () => {
    const a = await tp.register('air');
    for (const topic of [`sensors/flood/${a.id}/telemetry`, 'alerts/air/x', `sensors/air/${a.id}/rejections`, '$SYS/x']) {
      const client = await tp.connect(a.id, a.token);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, JSON.stringify({ pm25: 1 }), { qos: 1 });
      await closed;
    }
  });

  it('refuses a subscription to anything but the device’s own rejections (SUBACK 0x80)', async () => {
    const a = await tp.register('air');
    const b = await tp.register('air');
    const client = await tp.connect(a.id, a.token);
    const refused = await client
      .subscribeAsync([`sensors/air/${b.id}/rejections`, 'sensors/#', `sensors/air/${a.id}/telemetry`])
      .then(() => null, (err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(refused).toEqual([128, 128, 128]);
    const own = await client.subscribeAsync(`sensors/air/${a.id}/rejections`);
    expect(own[0]!.qos).toBe(0);
    expect(client.connected).toBe(true);
  });

  it('a deleted device is disconnected at once and cannot connect again; its data stays', async () => {
    const a = await tp.register('flood');
    const client = await tp.connect(a.id, a.token);
    await client.publishAsync(`sensors/flood/${a.id}/telemetry`, JSON.stringify({ waterLevel: 100 }), { qos: 1 });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect((await tp.api('DELETE', `/api/v1/devices/${a.id}`)).status).toBe(204);
    await closed;
    expect((await connectError(a.id, a.token)).code).toBe(4);
    await tp.drained();
    expect((await tp.query('SELECT count("waterLevel") FROM "flood" WHERE "device_id" = $d', { d: a.id }))[0]!.values[0]![1]).toBe(1);
    expect((await tp.api('GET', `/api/v1/devices/${a.id}`)).status).toBe(404);
  });

  it('a rotated token stops working at once; the new one works', async () => {
    const a = await tp.register('traffic');
    const client = await tp.connect(a.id, a.token);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const rotated = await tp.api('POST', `/api/v1/devices/${a.id}/token`);
    expect(rotated.status).toBe(200);
    await closed;
    expect((await connectError(a.id, a.token)).code).toBe(4);
    const again = await tp.connect(a.id, rotated.body.token);
    await again.publishAsync(`sensors/traffic/${a.id}/telemetry`, JSON.stringify({ vehicleCount: 5 }), { qos: 1 });
  });

  it('device status follows the connection', async () => {
    const a = await tp.register('air');
    expect((await tp.api('GET', `/api/v1/devices/${a.id}`)).body.status).toBe('never_seen');
    const client = await tp.connect(a.id, a.token);
    await eventually(async () => (await tp.api('GET', `/api/v1/devices/${a.id}`)).body.status === 'online');
    await client.endAsync();
    await eventually(async () => (await tp.api('GET', `/api/v1/devices/${a.id}`)).body.status === 'offline');
    const listed = await tp.api('GET', '/api/v1/devices?status=offline&kind=air');
    expect(listed.body.items.map((d: { id: string }) => d.id)).toContain(a.id);
  });
});

describe('API roles', () => {
  let viewer: string;
  let operator: string;
  beforeAll(async () => {
    viewer = (await tp.api('POST', '/api/v1/keys', { body: { name: 'wall screen', role: 'viewer' } })).body.key;
    operator = (await tp.api('POST', '/api/v1/keys', { body: { name: 'duty officer', role: 'operator' } })).body.key;
  });

  it('401 without a key or with a bad one, as problem+json', async () => {
    for (const key of [null, 'nope', `${viewer}x`]) {
      const res = await tp.api('GET', '/api/v1/devices', { key });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(res.body.type).toBeTypeOf('string');
    }
  });

  it('a viewer reads but cannot change devices or keys (403)', async () => {
    expect((await tp.api('GET', '/api/v1/devices', { key: viewer })).status).toBe(200);
    const create = await tp.api('POST', '/api/v1/devices', {
      key: viewer,
      body: { id: 'x-viewer-made', kind: 'air', name: 'x', city: 'Bontang', district: 'Bontang Utara', location: { lat: 0.13, lon: 117.5 } },
    });
    expect(create.status).toBe(403);
    expect((await tp.api('POST', '/api/v1/keys', { key: operator, body: { name: 'x', role: 'admin' } })).status).toBe(403);
    expect((await tp.api('GET', '/api/v1/audit', { key: operator })).status).toBe(403);
  });

  it('a revoked key stops working at once', async () => {
    const created = (await tp.api('POST', '/api/v1/keys', { body: { name: 'temp', role: 'viewer' } })).body;
    expect((await tp.api('GET', '/api/v1/devices', { key: created.key })).status).toBe(200);
    expect((await tp.api('DELETE', `/api/v1/keys/${created.id}`)).status).toBe(204);
    expect((await tp.api('GET', '/api/v1/devices', { key: created.key })).status).toBe(401);
  });

  it('health, metrics and docs need no key; the OpenAPI document covers every route', async () => {
    expect((await tp.api('GET', '/healthz', { key: null })).body).toEqual({ status: 'ok' });
    expect((await tp.api('GET', '/readyz', { key: null })).status).toBe(200);
    expect((await tp.api('GET', '/docs', { key: null })).status).toBeLessThan(400);
    const doc = (await tp.api('GET', '/openapi.json', { key: null })).body;
    const paths = Object.keys(doc.paths);
    for (const p of ['/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/devices/{id}/token', '/api/v1/devices/{id}/latest', '/api/v1/devices/{id}/readings', '/api/v1/devices/{id}/rejections', '/api/v1/keys', '/api/v1/keys/{id}', '/api/v1/audit', '/healthz', '/readyz', '/metrics']) {
      expect(paths).toContain(p);
    }
  });

  it('the audit log records device, token and key changes with who did them', async () => {
    const a = await tp.register('air', 'audit-trail-dev');
    await tp.api('POST', `/api/v1/devices/${a.id}/token`);
    await tp.api('PATCH', `/api/v1/devices/${a.id}`, { body: { name: 'Renamed' } });
    await tp.api('DELETE', `/api/v1/devices/${a.id}`);
    const items = (await tp.api('GET', '/api/v1/audit?limit=50')).body.items as Array<{ action: string; target: string; actor: string }>;
    const mine = items.filter((i) => i.target === a.id).map((i) => i.action);
    expect(mine).toEqual(['device.deleted', 'device.updated', 'device.token_rotated', 'device.created']);
    expect(items.find((i) => i.target === a.id)!.actor).toContain('bootstrap');
  });
});
