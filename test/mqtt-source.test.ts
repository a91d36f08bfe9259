// ingest/mqtt-source.ts against real brokers: what an ingest worker acknowledges, and when, while it leaves or
// closes. The worker's ingest is a recorder (every accepted message, with a chosen delay standing in for the
// spool's fsync); the broker, the sessions and the acknowledgements are real.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startMqttSource, type MqttSource, type MqttSourceOptions } from '../ingest/mqtt-source.js';
import { createLogger } from '../platform/logger.js';
import { startMosquittoServer } from './support/mosquitto.js';
import { eventually } from './support/platform.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const log = createLogger('silent');

/** An ingest that records what it accepted; `delay(payload)` ms before the message counts as durable. */
function recorder(delay: (payload: string) => number) {
  const accepted: string[] = [];
  const ingest: MqttSourceOptions['ingest'] = {
    async accept(_device: unknown, payload: Buffer) {
      const text = payload.toString();
      await new Promise((r) => setTimeout(r, delay(text)));
      accepted.push(text);
      return {};
    },
    reject: async () => ({ deviceId: '', kind: 'air', ts: 0, reason: 'unknown_device', detail: '' }),
    on: () => undefined,
    off: () => undefined,
  } as unknown as MqttSourceOptions['ingest'];
  return { accepted, ingest };
}

const registry = { device: (id: string) => ({ id, kind: 'air' as const, city: 'Balikpapan', district: 'Balikpapan Kota' }) };

function source(url: string, clientId: string, ingest: MqttSourceOptions['ingest'], extra: Partial<MqttSourceOptions> = {}): MqttSource {
  const s = startMqttSource({ url, clientId, ingest, registry, log, reconnect: { minMs: 100, maxMs: 500 }, ...extra });
  cleanups.push(() => s.close());
  return s;
}

async function device(url: string): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `device-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 0 });
  cleanups.push(() => c.endAsync(true));
  return c;
}

describe('leaving the external broker', () => {
  it('a message the broker sends after the last PUBACK of the drain is taken and acknowledged, not discarded with the session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-mosquitto-'));
    // one message in flight per session: the broker sends the session's next queued message only after a PUBACK
    const broker = await startMosquittoServer(dir, { maxInflight: 1 });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => broker.child.kill('SIGKILL'));

    // each message takes longer to become durable than the quiet time the drain waits for
    const { accepted, ingest } = recorder(() => 700);
    const worker = source(broker.url, 'pantau-ingest-leaving', ingest, { leaveOnClose: true, drainQuietMs: 300 });
    await eventually(() => worker.connected, 10_000, 20);

    const sensor = await device(broker.url);
    // acknowledged to the device by the broker: each must end up stored
    for (let n = 0; n < 4; n++) await sensor.publishAsync('sensors/air/leave-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    await eventually(() => worker.stats.inFlight === 1, 5000, 10);
    await worker.close();

    expect(accepted.map((p) => (JSON.parse(p) as { n: number }).n)).toEqual([0, 1, 2, 3]);
    // the session was ended (nothing in it was lost with it): a new connection under the id finds none
    const probe = await mqtt.connectAsync(broker.url, { clientId: 'pantau-ingest-leaving', clean: false, reconnectPeriod: 0 });
    const redelivered: string[] = [];
    probe.on('message', (_t, p) => redelivered.push(p.toString()));
    const present = (probe as unknown as { connackPacket?: { sessionPresent?: boolean } }).connackPacket?.sessionPresent;
    await new Promise((r) => setTimeout(r, 500));
    await probe.endAsync(true);
    expect(present).toBe(false);
    expect(redelivered).toEqual([]);
  });

  it('a QoS 2 message does not cut ahead of earlier QoS 1 messages: close() sends every PUBACK before it disconnects', async () => {
    // Mosquitto never delivers QoS 2 on the workers' QoS 1 subscription; a broker that grants QoS 2 anyway (aedes,
    // told so in its authorizeSubscribe, which also takes the share as a plain subscription: aedes has no
    // shared subscriptions) reaches the source's QoS 2 path
    const aedes = await Aedes.createBroker();
    aedes.authorizeSubscribe = (_client, sub, done) => {
      if (sub) {
        sub.topic = sub.topic.replace(/^\$share\/[^/]+\//, '');
        sub.qos = 2;
      }
      done(null, sub);
    };
    const server = net.createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => aedes.close(() => server.close(() => resolve()))));
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

    const { accepted, ingest } = recorder((p) => (p.includes('slow') ? 600 : 0));
    const worker = source(url, 'pantau-ingest-qos2', ingest);
    await eventually(() => worker.connected, 10_000, 20);
    const sensor = await device(url);
    await sensor.publishAsync('sensors/air/q-1/telemetry', JSON.stringify({ m: 'slow' }), { qos: 1 });
    await sensor.publishAsync('sensors/air/q-1/telemetry', JSON.stringify({ m: 'fast' }), { qos: 2 });
    await eventually(() => accepted.some((p) => p.includes('fast')), 5000, 5).catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(accepted)}`); });
    // the QoS 1 message is still being made durable: closing must wait for it and acknowledge it
    await worker.close();
    expect(accepted.map((p) => (JSON.parse(p) as { m: string }).m)).toEqual(['fast', 'slow']);

    // the persistent session holds nothing unacknowledged: a restart under the id gets nothing again
    const again = recorder(() => 0);
    const restarted = source(url, 'pantau-ingest-qos2', again.ingest);
    await eventually(() => restarted.connected, 10_000, 20);
    await new Promise((r) => setTimeout(r, 500));
    expect(again.accepted).toEqual([]);
  });
});
