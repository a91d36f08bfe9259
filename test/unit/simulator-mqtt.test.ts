// The simulator's MQTT side against a real broker (aedes on a free port): a device's session, Last Will and
// rejections, and store-and-forward of unacknowledged messages across a simulator restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { UniqueMessageIdProvider } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceTopic } from '../../catalog/index.js';
import { DeviceClient, type Rejection } from '../../devices/device-client.js';
import { FileStore } from '../../devices/file-store.js';
import { FLEET } from '../../devices/fleet.js';
import type { FleetDevice } from '../../devices/fleet-schema.js';
import { SimStats } from '../../devices/progress.js';
import { freePort } from '../support/ports.js';

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

async function startBroker(port: number) {
  const broker = await Aedes.createBroker();
  const seen: Seen[] = [];
  const subscriptions: string[] = [];
  broker.on('subscribe', (subs) => subscriptions.push(...subs.map((sub) => sub.topic)));
  broker.on('publish', (packet) => {
    if (packet.topic.startsWith('$SYS')) return;
    seen.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain });
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    broker,
    seen,
    subscriptions,
    async stop() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a simulated device on a real broker', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-sim-mqtt-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  it('announces itself online, hears its rejections, and its Last Will fires when the connection drops', async () => {
    const port = await freePort();
    const broker = await startBroker(port);
    cleanups.push(() => broker.stop());
    const device = FLEET.find((d) => d.kind === 'air') as FleetDevice;
    const stats = new SimStats();
    const rejections: Rejection[] = [];
    const store = new FileStore(join(tempDir(), `${device.id}.jsonl`));
    const client = new DeviceClient(device, {
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      qos: 1,
      token: 'secret',
      store,
      stats,
      onRejection: (_d, r) => rejections.push(r),
      onRefused: () => {},
    });
    cleanups.push(() => client.shutdown(1000));
    const status = deviceTopic(device.kind, device.id, 'status');
    const telemetry = deviceTopic(device.kind, device.id, 'telemetry');
    client.start();
    await until(() => broker.seen.some((m) => m.topic === status && m.payload === 'online'), 'online');
    expect(broker.seen.find((m) => m.topic === status)?.retain).toBe(true);

    client.publishReading({ pm25: 12.5, ts: Date.now() });
    await until(() => stats.acked === 1, 'the reading to be acknowledged');
    expect(store.size).toBe(0);

    // The platform answers a bad reading on the device's rejections topic.
    const rejectionsTopic = deviceTopic(device.kind, device.id, 'rejections');
    await until(() => broker.subscriptions.includes(rejectionsTopic), 'the subscription to its rejections');
    broker.broker.publish(
      { cmd: 'publish', topic: rejectionsTopic, payload: Buffer.from('{"reason":"unknown_field","detail":"pm2.5 is not an air field","ts":"2025-01-01T00:00:00Z"}'), qos: 0, retain: false, dup: false },
      () => {},
    );
    await until(() => rejections.length === 1, 'the rejection');
    expect(rejections[0]?.reason).toBe('unknown_field');
    expect(stats.rejectionsByReason.get('unknown_field')).toBe(1);

    // Drop the connection without DISCONNECT: the broker publishes the will; readings meanwhile come as one batch.
    expect(client.dropConnection(500)).toBe(true);
    // The device itself published nothing but `online` so far: an `offline` now can only be the broker's will.
    expect(broker.seen.some((m) => m.topic === status && m.payload === 'offline')).toBe(false);
    await until(() => broker.seen.some((m) => m.topic === status && m.payload === 'offline'), 'the Last Will');
    client.publishReading({ pm25: 13, ts: Date.now() });
    client.publishReading({ pm25: 14, ts: Date.now() + 1 });
    await until(() => broker.seen.filter((m) => m.topic === status && m.payload === 'online').length === 2, 'online again');
    await until(() => broker.seen.some((m) => m.topic === telemetry && m.payload.startsWith('[')), 'the backlog batch');
    const batch = JSON.parse(broker.seen.find((m) => m.topic === telemetry && m.payload.startsWith('['))?.payload ?? '[]');
    expect(batch.map((r: { pm25: number }) => r.pm25)).toEqual([13, 14]);

    // A clean shutdown says offline itself and disconnects (no will).
    await client.shutdown(2000);
    const last = broker.seen.filter((m) => m.topic === status).at(-1);
    expect(last).toMatchObject({ payload: 'offline', retain: true });
    expect(client.connected).toBe(false);
  });

  it('re-sends messages left unacknowledged by a previous run once the broker is reachable', async () => {
    const port = await freePort();
    const file = join(tempDir(), 'outbox', 'smd-flood-01.jsonl');
    const topic = 'sensors/flood/smd-flood-01/telemetry';

    // Run 1: the broker is down; QoS 1 publishes land in the file store, then the simulator is killed.
    const store1 = new FileStore(file);
    const first = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'smd-flood-01',
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 100,
      outgoingStore: store1,
      messageIdProvider: new UniqueMessageIdProvider(),
    });
    first.on('error', () => {});
    for (let i = 1; i <= 5; i++) first.publish(topic, JSON.stringify({ waterLevel: 750 + i, ts: 1_700_000_000_000 + i }), { qos: 1 });
    await until(() => store1.size === 5, 'five stored packets');
    first.end(true);
    store1.closeSync();

    // Run 2: a new process opens the same store; the broker is up now.
    const broker = await startBroker(port);
    cleanups.push(() => broker.stop());
    const store2 = new FileStore(file);
    expect(store2.size).toBe(5);
    const ids = new UniqueMessageIdProvider();
    for (const id of store2.messageIds()) ids.register(id);
    const second = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'smd-flood-01',
      protocolVersion: 4,
      clean: false,
      outgoingStore: store2,
      messageIdProvider: ids,
    });
    cleanups.push(() => void second.end(true));
    await until(() => broker.seen.filter((m) => m.topic === topic).length === 5, 'the re-sent readings');
    const levels = broker.seen.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload).waterLevel);
    expect(levels).toEqual([751, 752, 753, 754, 755]);
    await until(() => store2.size === 0, 'the acknowledgements to empty the store');
    // A new reading after the replay does not collide with the replayed ids.
    await second.publishAsync(topic, '{"waterLevel":760}', { qos: 1 });
    expect(store2.size).toBe(0);
  });
});
